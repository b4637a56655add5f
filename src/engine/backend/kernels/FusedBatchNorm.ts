import type { FusedBatchNormAttrs, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, sizeOf, type WasmBackendLike } from './wasmHeap';

/**
 * Inference-mode batch norm, y = (x − mean)·scale/√(var + ε) + offset, with per-channel (last
 * axis) statistics, on all cores. The stock wasm kernel was the slowest op of a FIM Jacobian pass.
 * Other broadcast shapes go to the stock kernel.
 */
export function fusedBatchNormNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: FusedBatchNormAttrs,
): TensorInfo | null {
  const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>;
  if (!x || !mean || !variance || x.dtype !== 'float32' || x.shape.length < 1 || x.shape.includes(0)) return null;
  const C = x.shape[x.shape.length - 1]!;
  const perChannel = (t: TensorInfo | undefined) =>
    !t || (t.dtype === 'float32' && sizeOf(t) === C && t.shape[t.shape.length - 1] === C && t.shape.length <= x.shape.length);
  if (!perChannel(mean) || !perChannel(variance) || !perChannel(offset) || !perChannel(scale)) return null;
  const out = b.makeOutput(x.shape, 'float32');
  const args = [mean, variance, offset, scale].map((t) => heapOffset(b, t));
  addon.batchNormInference(
    heapBuffer(b),
    new Float64Array([heapOffset(b, x), ...args, heapOffset(b, out), sizeOf(x) / C, C, attrs.varianceEpsilon]),
  );
  return out;
}
