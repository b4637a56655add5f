import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The depthwise-convolution gradient kernels (DepthwiseConv2dBackprop.ts) against tfjs's cpu
 * backend: input and filter gradients of a depthwise conv with channel multipliers, strides,
 * 'same' and 'valid' padding (tf.js has no gradient for dilated depthwise convolutions; the ONNX
 * importer dilates the kernel instead).
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: [number, number];
  pad: 'same' | 'valid';
}

const CASES: Record<string, Case> = {
  'multiplier 1, same': { x: [2, 7, 7, 3], f: [3, 3, 3, 1], stride: [1, 1], pad: 'same' },
  'multiplier 2, stride 2': { x: [2, 9, 8, 4], f: [3, 3, 4, 2], stride: [2, 2], pad: 'same' },
  'valid, 5x5': { x: [1, 11, 10, 2], f: [5, 5, 2, 3], stride: [1, 1], pad: 'valid' },
};

for (const [name, c] of Object.entries(CASES)) {
  test(`depthwise conv gradients match the cpu backend: ${name}`, async () => {
    const xs = randomArray(
      c.x.reduce((a, b) => a * b, 1),
      3,
    );
    const fs = randomArray(
      c.f.reduce((a, b) => a * b, 1),
      5,
    );
    const dys = randomArray(10000, 9);
    const grads = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs, c.x);
        const f = tf.tensor4d(fs, c.f);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
          return tf.sum(tf.mul(y, tf.tensor(dys.subarray(0, y.size), y.shape)));
        });
        return g([x, f]).map((t) => t.dataSync().slice() as Float32Array);
      });
    const ours = grads();
    const ref = await onCpu(grads);
    ours.forEach((o, i) => {
      const d = maxAbsDiff(o, ref[i]!);
      assert.ok(d <= 1e-5 * Math.max(1, maxAbs(ref[i]!)), `${name} gradient ${i}: max |diff| ${d} on ${backend}`);
    });
  });
}
