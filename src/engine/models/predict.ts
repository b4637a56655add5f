import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { batchPixels, imageSize, range, type Dataset } from '../data/dataset';
import { tidyRead } from '../util/read';

/** Logits of a classifier in inference mode: [n, K] row-major. */
export function predictLogits(model: tfl.LayersModel, d: Dataset, indices: ArrayLike<number> = range(0, d.count), batchSize = 256): Float32Array {
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

/** Logits for a float batch already in memory ([n, H, W, C] in [0, 1]). */
export function logitsOf(model: tfl.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return model.apply(x, { training: false }) as tf.Tensor2D;
}
