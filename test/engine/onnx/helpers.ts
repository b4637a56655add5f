import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import type { ModelImportOptions } from '../../../src/runs/types';
import { randomArray } from '../../helpers';

/** The committed fixtures (scripts/make-onnx-fixtures.py). */
export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'onnx');
export const fixture = (name: string) => path.join(FIXTURES, name);

export const MNIST_IMAGE: [number, number, number] = [28, 28, 1];

/** An ONNX file built into an engine model for images of `image` and `classes` classes. */
export async function engineModel(
  file: string,
  image: [number, number, number] = MNIST_IMAGE,
  classes = 10,
  options?: ModelImportOptions,
): Promise<{ model: tfl.LayersModel; notes: string[] }> {
  const def = await resolveDefinition(file, { inputShape: image, numClasses: classes }, options);
  return buildModel(def, { imageShape: image, numClasses: classes, seed: 0 });
}

/** NHWC pixels in [0, 1] → the ONNX input layout. */
export function toNchw(x: Float32Array, n: number, [h, w, c]: [number, number, number]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch]!;
  return out;
}

/** onnxruntime's output for an input tensor (float32 or, for half models, float16 bits). */
export async function ortRun(model: string | Uint8Array, input: ort.Tensor): Promise<Float32Array> {
  const sess = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const out = await sess.run({ [sess.inputNames[0]!]: input });
    return Float32Array.from(out[sess.outputNames[0]!]!.data as Float32Array);
  } finally {
    await sess.release();
  }
}

export function engineLogits(model: tfl.LayersModel, x: Float32Array, n: number, image: [number, number, number]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(x, [n, ...image])) as tf.Tensor).dataSync() as Float32Array).slice();
}

export function softmaxRows(z: Float32Array, k: number): Float32Array {
  return tf.tidy(() => tf.softmax(tf.tensor2d(z, [z.length / k, k])).dataSync() as Float32Array).slice();
}

/** max |a − b| / max |b|: the relative parity figure the tests and docs report. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-30);
}

export function images(n: number, seed: number, image: [number, number, number] = MNIST_IMAGE): Float32Array {
  return randomArray(n * image[0] * image[1] * image[2], seed, 0, 1);
}
