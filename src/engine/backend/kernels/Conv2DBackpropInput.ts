import {
  backend_util,
  type Conv2DBackpropInputAttrs,
  type KernelFunc,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { convDims, nativeFriendly } from './geometry';
import { heapBuffer, heapF32, heapOffset, type WasmBackendLike } from './wasmHeap';

/**
 * dx[b, iy, ix, ci] = Σ_{fh, fw, co} dy[b, oy, ox, co] · w[fh, fw, ci, co] over the (oy, ox) that tap
 * (fh, fw) connects to (iy, ix): a gather of dy rows per tap, then a GEMM with the transposed filter.
 */
export function conv2DBackpropInputNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: Conv2DBackpropInputAttrs,
): TensorInfo | null {
  const { dy, filter } = inputs as Record<string, TensorInfo | undefined>;
  if (
    !dy ||
    !filter ||
    dy.shape.includes(0) ||
    filter.shape.includes(0) ||
    dy.dtype !== 'float32' ||
    filter.dtype !== 'float32' ||
    attrs.dataFormat !== 'NHWC'
  )
    return null;
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (!nativeFriendly(info) || info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) return null;
  const out = b.makeOutput(attrs.inputShape, 'float32');
  addon.conv2dBackpropInput(
    heapBuffer(b),
    new Float64Array([heapOffset(b, dy), heapOffset(b, filter), heapOffset(b, out), ...convDims(info)]),
  );
  return out;
}

/**
 * The portable version for stride 1: the input gradient of a stride-1 convolution is itself a
 * convolution, of dy with the filter flipped in space and transposed in channels,
 * w'[fh, fw, co, ci] = w[FH−1−fh, FW−1−fw, ci, co], padded FH−1−padTop above and IH−OH+padTop below
 * (likewise for columns), which the backend's own (XNNPACK) Conv2D runs. The stock wasm
 * Conv2DBackpropInput is a plain loop, 30× slower on the ConvNet. Strides > 1 return null.
 */
export function conv2DBackpropInputPortable(
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: Conv2DBackpropInputAttrs,
  conv2D: KernelFunc,
): TensorInfo | null {
  const { dy, filter } = inputs as Record<string, TensorInfo | undefined>;
  if (!dy || !filter || dy.dtype !== 'float32' || filter.dtype !== 'float32' || attrs.dataFormat !== 'NHWC') return null;
  const c = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (c.strideHeight !== 1 || c.strideWidth !== 1 || c.outHeight !== dy.shape[1] || c.outWidth !== dy.shape[2]) return null;
  const { filterHeight: FH, filterWidth: FW, inChannels: CI, outChannels: CO } = c;
  const top = FH - 1 - c.padInfo.top;
  const bottom = c.inHeight - c.outHeight + c.padInfo.top;
  const left = FW - 1 - c.padInfo.left;
  const right = c.inWidth - c.outWidth + c.padInfo.left;
  if (Math.min(top, bottom, left, right) < 0) return null;
  const flipped = b.makeOutput([FH, FW, CO, CI], 'float32');
  try {
    const w = heapF32(b, filter);
    const f = heapF32(b, flipped);
    for (let fh = 0; fh < FH; fh++)
      for (let fw = 0; fw < FW; fw++) {
        const src = ((FH - 1 - fh) * FW + (FW - 1 - fw)) * CI * CO;
        const dst = (fh * FW + fw) * CO * CI;
        for (let ci = 0; ci < CI; ci++) for (let co = 0; co < CO; co++) f[dst + co * CI + ci] = w[src + ci * CO + co]!;
      }
    const pad = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    return conv2D({
      inputs: { x: dy, filter: flipped },
      backend: b,
      attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined } as never,
    }) as TensorInfo;
  } finally {
    b.disposeData(flipped.dataId);
  }
}
