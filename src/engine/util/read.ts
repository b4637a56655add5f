import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `f` in a tidy and reads the tensors it returns after the tidy has closed, then frees them.
 * Reading (dataSync) inside a tidy was measured to cost about a third of a PGD step on the wasm
 * backend (bench pgd10), so every hot path reads this way.
 */
export function tidyRead(f: () => tf.Tensor): Float32Array {
  return tidyReadAll(() => [f()])[0]!;
}

/** {@link tidyRead} for several tensors, read in order. */
export function tidyReadAll(f: () => tf.Tensor[]): Float32Array[] {
  const ts = tf.tidy(f);
  try {
    return ts.map((t) => t.dataSync() as Float32Array);
  } finally {
    tf.dispose(ts);
  }
}
