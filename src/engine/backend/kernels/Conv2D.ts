import { backend_util, type Conv2DAttrs, type FusedConv2DAttrs, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { convDims, nativeFriendly } from './geometry';
import { heapBuffer, heapOffset, type WasmBackendLike } from './wasmHeap';

/** Activations the native convolution applies in its epilogue. */
const NATIVE_ACTIVATION: Record<string, number> = { linear: 0, relu: 1, relu6: 2 };

/**
 * Conv2D / FusedConv2D forward with the native kernel (im2col + blocked GEMM on all cores).
 * Returns null for what it does not cover (NCHW, prelu/leaky/elu/sigmoid epilogues, a bias that
 * is not one value per output channel), which the stock kernel then runs.
 */
export function conv2DNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: Conv2DAttrs | FusedConv2DAttrs,
): TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
  if (
    !x ||
    !filter ||
    x.shape.includes(0) ||
    filter.shape.includes(0) ||
    x.dtype !== 'float32' ||
    filter.dtype !== 'float32' ||
    attrs.dataFormat !== 'NHWC'
  )
    return null;
  const activation = (attrs as Partial<FusedConv2DAttrs>).activation ?? 'linear';
  const act = NATIVE_ACTIVATION[activation];
  if (act === undefined || preluActivationWeights) return null;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (!nativeFriendly(info)) return null;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== info.outChannels || bias.dtype !== 'float32')) return null;
  const out = b.makeOutput(info.outShape, 'float32');
  const args = new Float64Array([heapOffset(b, x), heapOffset(b, filter), heapOffset(b, bias), heapOffset(b, out), ...convDims(info), act]);
  addon.conv2d(heapBuffer(b), args);
  return out;
}
