import { backend_util, type MaxPoolAttrs, type MaxPoolGradAttrs, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { nativeFriendly, poolDims } from './geometry';
import { heapBuffer, heapOffset, readHeap, sizeOf, writeHeap, type WasmBackendLike } from './wasmHeap';

function poolInfo(shape: number[], attrs: MaxPoolAttrs | MaxPoolGradAttrs): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

export function maxPoolNative(addon: NativeAddon, b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: MaxPoolAttrs): TensorInfo | null {
  const x = inputs.x;
  if (!x || x.dtype !== 'float32' || x.shape.length !== 4 || x.shape.includes(0)) return null;
  const info = poolInfo(x.shape, attrs);
  if (!nativeFriendly(info)) return null;
  const out = b.makeOutput(info.outShape, 'float32');
  addon.maxPool(heapBuffer(b), new Float64Array([heapOffset(b, x), heapOffset(b, out), ...poolDims(info)]));
  return out;
}

/**
 * The max-pool gradient routes each dy to the first maximal element of its window in row-major
 * order, the tie rule of TensorFlow and PyTorch (docs/design.md §1): on MNIST's flat background the
 * choice changes λmax(G_x) by tens of percent.
 */
export function maxPoolGradNHWC(x: Float32Array, dy: Float32Array, dx: Float32Array, c: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight, filterWidth } = c;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const base = b * inHeight * inWidth * C;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const g = ((b * outHeight + oy) * outWidth + ox) * C;
        for (let ch = 0; ch < C; ch++) {
          let best = -Infinity;
          let where = -1;
          for (let fh = 0; fh < filterHeight; fh++) {
            const iy = oy * strideHeight + fh * dilationHeight - top;
            if (iy < 0 || iy >= inHeight) continue;
            for (let fw = 0; fw < filterWidth; fw++) {
              const ix = ox * strideWidth + fw * dilationWidth - left;
              if (ix < 0 || ix >= inWidth) continue;
              const at = base + (iy * inWidth + ix) * C + ch;
              const v = x[at]!;
              if (v > best) {
                best = v;
                where = at;
              }
            }
          }
          if (where >= 0) dx[where]! += dy[g + ch]!;
        }
      }
    }
  }
}

export function maxPoolGradPortable(b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: MaxPoolGradAttrs): TensorInfo | null {
  const { dy, input } = inputs as Record<string, TensorInfo | undefined>;
  if (!dy || !input || input.shape.length !== 4 || input.dtype !== 'float32' || input.shape.includes(0)) return null;
  const info = poolInfo(input.shape, attrs);
  const out = b.makeOutput(input.shape, 'float32');
  const dx = new Float32Array(sizeOf(input));
  maxPoolGradNHWC(readHeap(b, input), readHeap(b, dy), dx, info);
  writeHeap(b, out, dx);
  return out;
}

export function maxPoolGradNative(
  addon: NativeAddon,
  b: WasmBackendLike,
  inputs: NamedTensorInfoMap,
  attrs: MaxPoolGradAttrs,
): TensorInfo | null {
  const { dy, input } = inputs as Record<string, TensorInfo | undefined>;
  if (!dy || !input || input.shape.length !== 4 || input.dtype !== 'float32' || input.shape.includes(0)) return null;
  const info = poolInfo(input.shape, attrs);
  if (!nativeFriendly(info)) return null;
  const out = b.makeOutput(input.shape, 'float32');
  addon.maxPoolGrad(heapBuffer(b), new Float64Array([heapOffset(b, input), heapOffset(b, dy), heapOffset(b, out), ...poolDims(info)]));
  return out;
}
