import * as tf from '@tensorflow/tfjs-core';
import seedrandom from 'seedrandom';

/**
 * The usual training augmentation of 32×32 image benchmarks: zero-pad by `pad` pixels, take a
 * random crop of the original size, and (for CIFAR-10, not for traffic signs, where a mirrored
 * sign can be another sign) flip horizontally with probability 1/2.
 *
 * The random choices depend only on (seed, global step), so --resume replays them exactly. The
 * whole batch is one gather from the padded batch, which runs on every backend (no per-sample ops,
 * no reads back from the device).
 */
export const CROP_PAD = 4;

export interface CropFlipParams {
  /** Per sample: crop offsets into the padded image, in 0..2·pad. */
  dy: Int32Array;
  dx: Int32Array;
  flip: Uint8Array;
}

export function cropFlipParams(n: number, pad: number, flip: boolean, seed: number, step: number): CropFlipParams {
  const rng = seedrandom(`fim-augment:${seed}:${step}`);
  const p = { dy: new Int32Array(n), dx: new Int32Array(n), flip: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    p.dy[i] = Math.floor(rng() * (2 * pad + 1));
    p.dx[i] = Math.floor(rng() * (2 * pad + 1));
    p.flip[i] = flip && rng() < 0.5 ? 1 : 0;
  }
  return p;
}

/** Row indices into the padded batch reshaped to [n·Hp·Wp, C] that produce the augmented batch. */
export function cropFlipIndices(n: number, h: number, w: number, pad: number, p: CropFlipParams): Int32Array {
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  const idx = new Int32Array(n * h * w);
  for (let i = 0; i < n; i++) {
    const base = i * hp * wp;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = (p.flip[i] ? w - 1 - x : x) + p.dx[i]!;
        idx[(i * h + y) * w + x] = base + (y + p.dy[i]!) * wp + sx;
      }
    }
  }
  return idx;
}

export function randomCropFlip(x: tf.Tensor4D, opts: { pad: number; flip: boolean; seed: number; step: number }): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const p = cropFlipParams(n, opts.pad, opts.flip, opts.seed, opts.step);
  const indices = cropFlipIndices(n, h, w, opts.pad, p);
  return tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [opts.pad, opts.pad],
      [opts.pad, opts.pad],
      [0, 0],
    ]);
    const rows = tf.reshape(padded, [-1, c]);
    return tf.reshape<tf.Rank.R4>(tf.gather(rows, tf.tensor1d(indices, 'int32')), [n, h, w, c]);
  });
}
