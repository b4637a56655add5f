import type { BatchMatMulAttrs, NamedTensorInfoMap, TensorInfo, _FusedMatMulAttrs } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, type WasmBackendLike } from './wasmHeap';

const ACTIVATION: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * BatchMatMul and _FusedMatMul (bias + ReLU epilogue) with the native GEMM on all cores; the
 * transposes are read in place. Batch dimensions must be equal, or one side unbatched; other
 * broadcasts, prelu/leaky/elu/sigmoid epilogues and non-float inputs go to the stock kernel.
 */
export function matMulNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: BatchMatMulAttrs | _FusedMatMulAttrs,
): TensorInfo | null {
  const { a, b: bm, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
  if (!a || !bm || a.dtype !== 'float32' || bm.dtype !== 'float32' || a.shape.length < 2 || bm.shape.length < 2) return null;
  const act = ACTIVATION[(attrs as Partial<_FusedMatMulAttrs>).activation ?? 'linear'];
  if (act === undefined || preluActivationWeights) return null;
  const ra = a.shape.length;
  const rb = bm.shape.length;
  const [M, K] = attrs.transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [K2, N] = attrs.transposeB ? [bm.shape[rb - 1]!, bm.shape[rb - 2]!] : [bm.shape[rb - 2]!, bm.shape[rb - 1]!];
  if (K !== K2 || M === 0 || N === 0 || K === 0) return null;
  const batchA = a.shape.slice(0, -2);
  const batchB = bm.shape.slice(0, -2);
  const nA = prod(batchA);
  const nB = prod(batchB);
  let outBatch: number[];
  if (batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i])) outBatch = batchA;
  else if (nA === 1) outBatch = batchB;
  else if (nB === 1) outBatch = batchA;
  else return null;
  if (bias && (bias.dtype !== 'float32' || prod(bias.shape) !== N || bias.shape[bias.shape.length - 1] !== N)) return null;
  const batch = Math.max(nA, nB);
  const out = b.makeOutput([...outBatch, M, N], 'float32');
  const args = [
    heapOffset(b, a),
    heapOffset(b, bm),
    heapOffset(b, bias),
    heapOffset(b, out),
    batch,
    M,
    N,
    K,
    attrs.transposeA ? 1 : 0,
    attrs.transposeB ? 1 : 0,
    nA > 1 ? 1 : 0,
    nB > 1 ? 1 : 0,
    act,
  ];
  addon.matMul(heapBuffer(b), new Float64Array(args));
  return out;
}
