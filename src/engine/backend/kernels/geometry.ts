import { type backend_util } from '@tensorflow/tfjs-core';

/** [B, IH, IW, CI, OH, OW, CO, FH, FW, sh, sw, dh, dw, padTop, padLeft]: the native kernels' conv layout. */
export function convDims(c: backend_util.Conv2DInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ];
}

/** [B, IH, IW, C, OH, OW, FH, FW, sh, sw, dh, dw, padTop, padLeft]: the native kernels' pool layout. */
export function poolDims(c: backend_util.Conv2DInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ];
}

/** Padding must be non-negative for the native kernels (explicit negative padding crops). */
export function nativeFriendly(c: backend_util.Conv2DInfo): boolean {
  return c.padInfo.top >= 0 && c.padInfo.left >= 0 && c.dataFormat === 'channelsLast';
}
