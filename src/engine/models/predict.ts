import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { batchPixels, imageSize, range, type Dataset } from '../data/dataset';
import { tidyRead } from '../util/read';

/** Logits of a classifier in inference mode: [n, K] row-major. */
export function predictLogits(
  model: tfl.LayersModel,
  d: Dataset,
  indices: ArrayLike<number> = range(0, d.count),
  batchSize = 256,
): Float32Array {
  const k = model.outputs[0]!.shape[1] as number;
  const out = new Float32Array(indices.length * k);
  const size = imageSize(d);
  const buf = new Float32Array(Math.min(batchSize, indices.length) * size);
  for (let start = 0; start < indices.length; start += batchSize) {
    const idx = Array.prototype.slice.call(indices, start, Math.min(start + batchSize, indices.length)) as number[];
    const x = batchPixels(d, idx, buf.subarray(0, idx.length * size));
    const logits = tidyRead(() => {
      const xt = tf.tensor4d(x, [idx.length, ...d.imageShape]);
      return model.apply(xt, { training: false }) as tf.Tensor;
    });
    out.set(logits, start * k);
  }
  return out;
}

/** Predicted classes (argmax) of flat [n, K] logits. */
export function argmaxRows(logits: ArrayLike<number>, k: number): Int32Array {
  const n = logits.length / k;
  const out = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    let best = 0;
    for (let i = 1; i < k; i++) if (logits[s * k + i]! > logits[s * k + best]!) best = i;
    out[s] = best;
  }
  return out;
}

/**
 * Logits of a batch in inference mode, in chunks. Every "is it adversarial?" decision goes through
 * this plain forward pass: the forward pass inside a gradient computation may round differently
 * (tfjs does not fuse bias+activation there), and minimum-distance attacks stop right at the
 * decision boundary, where a last-bit difference flips the class. The plain pass gives the same
 * row whatever the batch, so the final re-check agrees with the attack.
 */
export function logitsOf(model: tfl.LayersModel, x: tf.Tensor4D, chunk = 512): Float32Array {
  const n = x.shape[0];
  if (n <= chunk) return tidyRead(() => model.apply(x, { training: false }) as tf.Tensor);
  const parts: Float32Array[] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    parts.push(tidyRead(() => model.apply(tf.slice(x, [s, 0, 0, 0], [m, -1, -1, -1]), { training: false }) as tf.Tensor));
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
