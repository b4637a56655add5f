import { backend_util, Conv2DBackpropFilter, type Conv2DBackpropFilterAttrs, type Conv2DBackpropFilterInputs, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { heapF32, type WasmBackendLike } from './wasmHeap';

/**
 * dW[fh, fw, ci, co] = Σ_{b, oy, ox} x[b, oy·sh + fh·dh − padTop, ox·sw + fw·dw − padLeft, ci] · dy[b, oy, ox, co]
 *
 * tfjs-backend-wasm has no Conv2DBackpropFilter, which training any conv net needs. This is the
 * portable JS version (NHWC only), written as rank-1 updates over contiguous channel rows so the
 * inner loop is a stride-1 multiply-add. The native addon replaces it where it is built.
 */
export function conv2DBackpropFilterNHWC(
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  c: backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = c;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  dw.fill(0);
  for (let fh = 0; fh < filterHeight; fh++) {
    for (let fw = 0; fw < filterWidth; fw++) {
      const wBase = (fh * filterWidth + fw) * inChannels * outChannels;
      for (let b = 0; b < batchSize; b++) {
        for (let oy = 0; oy < outHeight; oy++) {
          const iy = oy * strideHeight + fh * dilationHeight - top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let ox = 0; ox < outWidth; ox++) {
            const ix = ox * strideWidth + fw * dilationWidth - left;
            if (ix < 0 || ix >= inWidth) continue;
            const xBase = ((b * inHeight + iy) * inWidth + ix) * inChannels;
            const dyBase = ((b * outHeight + oy) * outWidth + ox) * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const xv = x[xBase + ci]!;
              if (xv === 0) continue; // ReLU outputs and zero padding make many rows empty
              const row = wBase + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dw[row + co]! += xv * dy[dyBase + co]!;
            }
          }
        }
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

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as unknown as Required<Record<keyof Conv2DBackpropFilterInputs, TensorInfo>>;
    const b = backend as unknown as WasmBackendLike;
    const info = convInfoForFilterGrad(x, attrs as unknown as Conv2DBackpropFilterAttrs);
    const out = b.makeOutput(info.filterShape, 'float32');
    // Views are taken after makeOutput: the allocation may have grown (and detached) the heap.
    conv2DBackpropFilterNHWC(heapF32(b, x), heapF32(b, dy), heapF32(b, out), info);
    return out;
  },
};
