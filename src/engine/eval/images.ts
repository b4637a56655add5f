import { PNG } from 'pngjs';

/**
 * PNGs for the image panels: inputs as they are, and signed images (perturbations, eigenvectors)
 * on a diverging scale (grey images: blue < 0 < red, white at 0; colour images: 0.5 + δ/(2·max|δ|)
 * per channel). Small images are enlarged with nearest-neighbour pixels so they stay legible in
 * a file browser; the panels show them pixelated at any size.
 */
export function displayScale(height: number): number {
  return Math.max(1, Math.floor(112 / height));
}

function encode(shape: [number, number, number], rgbAt: (y: number, x: number) => [number, number, number]): Uint8Array {
  const [h, w] = shape;
  const scale = displayScale(h);
  const png = new PNG({ width: w * scale, height: h * scale });
  for (let y = 0; y < h * scale; y++) {
    for (let x = 0; x < w * scale; x++) {
      const [r, g, b] = rgbAt(Math.floor(y / scale), Math.floor(x / scale));
      const o = (y * w * scale + x) * 4;
      png.data[o] = r;
      png.data[o + 1] = g;
      png.data[o + 2] = b;
      png.data[o + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

const byte = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));

/** An input image with values in [0, 1] (clipped for display). */
export function imagePng(pixels: ArrayLike<number>, shape: [number, number, number]): Uint8Array {
  const [, w, c] = shape;
  return encode(shape, (y, x) => {
    const o = (y * w + x) * c;
    if (c === 1) {
      const v = byte(pixels[o]!);
      return [v, v, v];
    }
    return [byte(pixels[o]!), byte(pixels[o + 1]!), byte(pixels[o + 2]!)];
  });
}

/** A signed image scaled by its largest magnitude. */
export function signedPng(values: ArrayLike<number>, shape: [number, number, number]): Uint8Array {
  const [, w, c] = shape;
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  const s = max > 0 ? 1 / max : 0;
  return encode(shape, (y, x) => {
    const o = (y * w + x) * c;
    if (c === 1) {
      const a = values[o]! * s;
      const fade = byte(1 - Math.abs(a));
      return a >= 0 ? [255, fade, fade] : [fade, fade, 255];
    }
    return [byte(0.5 + (values[o]! * s) / 2), byte(0.5 + (values[o + 1]! * s) / 2), byte(0.5 + (values[o + 2]! * s) / 2)];
  });
}
