import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../../../src/engine/train/adam';
import { useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/** PyTorch's Adam for one scalar parameter, in float64. */
function referenceAdam(grads: number[], lr: number, theta0: number): number {
  let m = 0;
  let v = 0;
  let theta = theta0;
  grads.forEach((g, i) => {
    const t = i + 1;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    theta -= (lr / (1 - 0.9 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8));
  });
  return theta;
}

test('Adam matches the PyTorch update rule', () => {
  const grads = [0.5, -0.2, 0.1, 0.3, -0.7];
  const x = tf.variable(tf.scalar(1));
  const opt = new Adam(0.01);
  for (const g of grads) opt.applyGradients([x], [tf.scalar(g)]);
  assert.ok(Math.abs(x.dataSync()[0]! - referenceAdam(grads, 0.01, 1)) < 1e-6);
});

test('restoring a saved state continues exactly like an uninterrupted optimiser', () => {
  const grads = [0.5, -0.2, 0.1, 0.3, -0.7, 0.05];
  const a = tf.variable(tf.tensor1d([1, 2]));
  const optA = new Adam(0.01);
  for (const g of grads) optA.applyGradients([a], [tf.tensor1d([g, -g])]);

  const b = tf.variable(tf.tensor1d([1, 2]));
  const optB = new Adam(0.01);
  for (const g of grads.slice(0, 3)) optB.applyGradients([b], [tf.tensor1d([g, -g])]);
  const saved = optB.getState();
  const copy = { step: saved.step, m: saved.m.map((t) => t.clone()), v: saved.v.map((t) => t.clone()) };
  const optC = new Adam(0.01);
  optC.setState(copy);
  for (const g of grads.slice(3)) optC.applyGradients([b], [tf.tensor1d([g, -g])]);
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
});
