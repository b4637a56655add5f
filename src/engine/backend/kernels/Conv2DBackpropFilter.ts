import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type KernelFunc,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { convDims, nativeFriendly } from './geometry';
import { heapBuffer, heapF32, heapOffset, readHeap, writeHeap, type WasmBackendLike } from './wasmHeap';

/**
 * dW[fh, fw, ci, co] = Σ_{b, oy, ox} x[b, oy·sh + fh·dh − padTop, ox·sw + fw·dw − padLeft, ci] · dy[b, oy, ox, co]
 *
 * tfjs-backend-wasm has no Conv2DBackpropFilter, which training any conv net needs. Two versions:
 * the native kernel where the addon is built, and a portable one (below) that gathers, per filter
 * tap, the input rows that tap sees into a [CI, M] matrix and multiplies it with dy [M, CO] by the
 * backend's own (XNNPACK) matmul, M = B·OH·OW.
 */
export function gatherTapTransposed(x: Float32Array, c: backend_util.Conv2DInfo, fh: number, fw: number, out: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: CI, outHeight, outWidth } = c;
  const M = batchSize * outHeight * outWidth;
  out.fill(0);
  let m = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const iy = oy * c.strideHeight + fh * c.dilationHeight - c.padInfo.top;
      if (iy < 0 || iy >= inHeight) {
        m += outWidth;
        continue;
      }
      for (let ox = 0; ox < outWidth; ox++, m++) {
        const ix = ox * c.strideWidth + fw * c.dilationWidth - c.padInfo.left;
        if (ix < 0 || ix >= inWidth) continue;
        const base = ((b * inHeight + iy) * inWidth + ix) * CI;
        for (let ci = 0; ci < CI; ci++) out[ci * M + m] = x[base + ci]!;
      }
    }
  }
}

export function convInfoForFilterGrad(x: TensorInfo, attrs: Conv2DBackpropFilterAttrs): backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter: only NHWC is supported, got ${dataFormat}`);
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** The portable version; `matMul` is the backend's stock BatchMatMul kernel. */
export function conv2DBackpropFilterPortable(
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: Conv2DBackpropFilterAttrs,
  matMul: KernelFunc,
): TensorInfo {
  const { x, dy } = inputs as Record<string, TensorInfo>;
  const info = convInfoForFilterGrad(x!, attrs);
  const { inChannels: CI, outChannels: CO, filterHeight: FH, filterWidth: FW } = info;
  const M = info.batchSize * info.outHeight * info.outWidth;
  const out = b.makeOutput(info.filterShape, 'float32');
  if (M === 0 || CI === 0 || CO === 0) {
    heapF32(b, out).fill(0);
    return out;
  }
  const tap = b.makeOutput([1, CI, M], 'float32');
  const dy3: TensorInfo = { dataId: dy!.dataId, shape: [1, M, CO], dtype: 'float32' };
  const xs = readHeap(b, x!);
  const tapData = new Float32Array(CI * M);
  try {
    for (let fh = 0; fh < FH; fh++) {
      for (let fw = 0; fw < FW; fw++) {
        gatherTapTransposed(xs, info, fh, fw, tapData);
        writeHeap(b, tap, tapData);
        const prod = matMul({
          inputs: { a: tap, b: dy3 },
          backend: b,
          attrs: { transposeA: false, transposeB: false },
        }) as TensorInfo;
        // Views after the matmul's allocation (the heap may have grown).
        heapF32(b, out).set(heapF32(b, prod), (fh * FW + fw) * CI * CO);
        b.disposeData(prod.dataId);
      }
    }
  } finally {
    b.disposeData(tap.dataId);
  }
  return out;
}

export function conv2DBackpropFilterNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: Conv2DBackpropFilterAttrs,
): TensorInfo | null {
  const { x, dy } = inputs as Record<string, TensorInfo>;
  const info = convInfoForFilterGrad(x!, attrs);
  if (!nativeFriendly(info)) return null;
  if (x!.shape.includes(0) || dy!.shape.includes(0)) {
    // No samples: the gradient is zero (the portable kernel's loops produce exactly that).
    const out = b.makeOutput(info.filterShape, 'float32');
    heapF32(b, out).fill(0);
    return out;
  }
  const out = b.makeOutput(info.filterShape, 'float32');
  addon.conv2dBackpropFilter(heapBuffer(b), new Float64Array([heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), ...convDims(info)]));
  return out;
}
