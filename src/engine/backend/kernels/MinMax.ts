import { backend_util, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, type WasmBackendLike } from './wasmHeap';

/** Element strides of `shape` read as `outShape` (right-aligned; 0 on broadcast axes). */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1, o = outShape.length - 1; i >= 0; i--, o--) {
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** Drops size-1 axes and merges neighbours that both operands traverse contiguously. */
function collapse(shape: number[], sa: number[], sb: number[]): [number[], number[], number[]] {
  const out: [number[], number[], number[]] = [[], [], []];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const k = out[0].length - 1;
    if (k >= 0 && out[1][k] === sa[d]! * shape[d]! && out[2][k] === sb[d]! * shape[d]!) {
      out[0][k]! *= shape[d]!;
      out[1][k] = sa[d]!;
      out[2][k] = sb[d]!;
    } else {
      out[0].push(shape[d]!);
      out[1].push(sa[d]!);
      out[2].push(sb[d]!);
    }
  }
  if (out[0].length === 0) return [[1], [0], [0]];
  return out;
}

/**
 * Maximum / Minimum with broadcasting, e.g. PGD's projection max(min(δ, ε), −ε) with one ε per
 * sample. The stock wasm kernel's broadcast path walks indices element by element (15 ms for a
 * 100-image batch, 50× its same-shape path); operands of equal shape stay with the stock kernel.
 */
export function minMaxNative(addon: NativeAddon, op: 0 | 1, b: WasmBackendLike, inputs: NamedTensorInfoMap): TensorInfo | null {
  const { a, b: bt } = inputs as Record<string, TensorInfo | undefined>;
  if (!a || !bt || a.dtype !== 'float32' || bt.dtype !== 'float32') return null;
  if (a.shape.length === bt.shape.length && a.shape.every((d, i) => d === bt.shape[i])) return null;
  const outShape = backend_util.assertAndGetBroadcastShape(a.shape, bt.shape);
  if (outShape.includes(0)) return null;
  const [shape, sa, sb] = collapse(outShape, broadcastStrides(a.shape, outShape), broadcastStrides(bt.shape, outShape));
  if (shape.length > 8) return null;
  const out = b.makeOutput(outShape, 'float32');
  addon.minMax(
    heapBuffer(b),
    new Float64Array([heapOffset(b, a), heapOffset(b, bt), heapOffset(b, out), op, shape.length, ...shape, ...sa, ...sb]),
  );
  return out;
}
