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

/**
 * Padding must be non-negative for the native kernels (explicit negative padding crops), and no
 * wider than the window, so every output window overlaps the input: the addon refuses other
 * geometry (native/src/addon.cc geometry_ok), and 'valid' and 'same' padding never give it.
 */
export function nativeFriendly(c: backend_util.Conv2DInfo): boolean {
  const { top, bottom, left, right } = c.padInfo;
  const eh = (c.filterHeight - 1) * c.dilationHeight + 1;
  const ew = (c.filterWidth - 1) * c.dilationWidth + 1;
  return top >= 0 && left >= 0 && top < eh && bottom < eh && left < ew && right < ew && c.dataFormat === 'channelsLast';
}
