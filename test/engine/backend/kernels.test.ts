import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * Every kernel the project registers is checked against tfjs's pure-JS cpu backend on the same
 * inputs, over shapes that exercise padding, strides and odd sizes.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

function close(actual: Float32Array, expected: Float32Array, what: string, rel = 1e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} on ${backend}`);
}

const convCases: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number; pad: 'same' | 'valid' }[] = [
  { x: [2, 28, 28, 1], f: [3, 3, 1, 32], stride: 1, pad: 'same' },
  { x: [3, 14, 14, 32], f: [3, 3, 32, 64], stride: 1, pad: 'same' },
  { x: [2, 9, 7, 5], f: [3, 2, 5, 6], stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 3], f: [5, 5, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 32, 32, 3], f: [3, 3, 3, 16], stride: 1, pad: 'same' },
];

for (const c of convCases) {
  const name = `x[${c.x}] f[${c.f}] s${c.stride} ${c.pad}`;
  test(`Conv2DBackpropFilter matches the cpu backend: ${name}`, async () => {
    const xs = randomArray(c.x.reduce((a, b) => a * b), 1);
    const outShape = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.f) as tf.Tensor4D, c.stride, c.pad).shape;
    const dys = randomArray(outShape.reduce((a, b) => a * b), 2);
    const run = () => tf.tidy(() => {
      const g = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(tf.tensor4d(xs, c.x), f as tf.Tensor4D, c.stride, c.pad), tf.tensor(dys, outShape))));
      return g(tf.zeros(c.f)).dataSync() as Float32Array;
    });
    const ours = run();
    const ref = await onCpu(run);
    close(ours, ref, name);
  });
}
