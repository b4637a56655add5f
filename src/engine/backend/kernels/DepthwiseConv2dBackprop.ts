import {
  backend_util,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { readHeap, writeHeap, type WasmBackendLike } from './wasmHeap';

/**
 * The gradients of a depthwise convolution, which tfjs-backend-wasm lacks (an imported ONNX
 * model with grouped convolutions, e.g. MobileNet-style depthwise-separable blocks, needs them
 * for every input gradient and for fine-tuning). With M the channel multiplier,
 *   y[b, oy, ox, c·M + q] = Σ_{fh, fw} x[b, oy·sh + fh·dh − top, ox·sw + fw·dw − left, c] · w[fh, fw, c, q]
 * Both loops visit (b, oy, ox, fh, fw) in a fixed order, so results do not depend on threading.
 */
function info(
  xShape: number[],
  filterShape: number[],
  attrs: DepthwiseConv2dNativeBackpropInputAttrs | DepthwiseConv2dNativeBackpropFilterAttrs,
) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

type Visit = (xBase: number, yBase: number, wBase: number) => void;

function eachTap(c: backend_util.Conv2DInfo, visit: Visit): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight: FH, filterWidth: FW } = c;
  const M = c.outChannels / C;
  for (let b = 0; b < batchSize; b++)
    for (let oy = 0; oy < outHeight; oy++)
      for (let ox = 0; ox < outWidth; ox++) {
        const yBase = ((b * outHeight + oy) * outWidth + ox) * C * M;
        for (let fh = 0; fh < FH; fh++) {
          const iy = oy * c.strideHeight + fh * c.dilationHeight - c.padInfo.top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fw = 0; fw < FW; fw++) {
            const ix = ox * c.strideWidth + fw * c.dilationWidth - c.padInfo.left;
            if (ix < 0 || ix >= inWidth) continue;
            visit(((b * inHeight + iy) * inWidth + ix) * C, yBase, (fh * FW + fw) * C * M);
          }
        }
      }
}

export function depthwiseBackpropInputPortable(
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: DepthwiseConv2dNativeBackpropInputAttrs,
): TensorInfo {
  const { dy, filter } = inputs as Record<string, TensorInfo>;
  const c = info(attrs.inputShape, filter!.shape, attrs);
  const C = c.inChannels;
  const M = c.outChannels / C;
  const dyData = readHeap(b, dy!);
  const w = readHeap(b, filter!);
  const dx = new Float32Array(attrs.inputShape.reduce((a, v) => a * v, 1));
  eachTap(c, (xb, yb, wb) => {
    for (let ch = 0; ch < C; ch++) {
      let s = 0;
      for (let q = 0; q < M; q++) s += dyData[yb + ch * M + q]! * w[wb + ch * M + q]!;
      dx[xb + ch]! += s;
    }
  });
  const out = b.makeOutput(attrs.inputShape, 'float32');
  writeHeap(b, out, dx);
  return out;
}

export function depthwiseBackpropFilterPortable(
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs,
): TensorInfo {
  const { x, dy } = inputs as Record<string, TensorInfo>;
  const c = info(x!.shape, attrs.filterShape, attrs);
  const C = c.inChannels;
  const M = c.outChannels / C;
  const xData = readHeap(b, x!);
  const dyData = readHeap(b, dy!);
  const dw = new Float32Array(attrs.filterShape.reduce((a, v) => a * v, 1));
  eachTap(c, (xb, yb, wb) => {
    for (let ch = 0; ch < C; ch++) {
      const xv = xData[xb + ch]!;
      for (let q = 0; q < M; q++) dw[wb + ch * M + q]! += xv * dyData[yb + ch * M + q]!;
    }
  });
  const out = b.makeOutput(attrs.filterShape, 'float32');
  writeHeap(b, out, dw);
  return out;
}
