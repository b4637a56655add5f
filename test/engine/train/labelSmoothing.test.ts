import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { defendedLoss } from '../../../src/engine/train/loss';
import { useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/** Hand computation: p = softmax(z), targets t = onehot(y)(1−α) + α/K, CE = −Σ t log p, ∂CE/∂z = p − t. */
function byHand(z: number[], y: number, a: number) {
  const k = z.length;
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((x, v) => x + v, 0);
  const p = e.map((v) => v / s);
  const t = z.map((_, i) => (i === y ? 1 - a : 0) + a / k);
  return { ce: -t.reduce((acc, ti, i) => acc + ti * Math.log(p[i]!), 0), grad: p.map((pi, i) => pi - t[i]!), p };
}

test('LSR: batch-mean cross-entropy against smoothed targets and its gradient p − t, by hand', () => {
  const z = [
    [2.0, -1.0, 0.5, 0.0],
    [-0.3, 0.8, 0.1, -2.2],
    [1.5, 1.5, -0.5, 3.0],
  ];
  const y = [0, 3, 2];
  const a = 0.2;
  const hand = z.map((row, i) => byHand(row, y[i]!, a));
  const zt = tf.tensor2d(z);
  const yt = tf.tensor1d(y, 'int32');
  const ce = defendedLoss(zt, yt, { mu: 0, labelSmoothing: a }).ce.dataSync()[0]!;
  assert.ok(Math.abs(ce - hand.reduce((s, h) => s + h.ce, 0) / 3) < 1e-6);
  const g = tf
    .grad((logits: tf.Tensor) => defendedLoss(logits as tf.Tensor2D, yt, { mu: 0, labelSmoothing: a }).loss)(zt)
    .arraySync() as number[][];
  hand.forEach((h, i) => h.grad.forEach((gi, j) => assert.ok(Math.abs(g[i]![j]! - gi / 3) < 1e-6, `∂/∂z[${i}][${j}]`)));
});

test('LSR: the per-sample optimum is p = t, i.e. p_true = 1 − α + α/K (what makes LSR outputs flat)', () => {
  const a = 0.1;
  const k = 10;
  // Logits with p = t exactly: z_i = log t_i. The gradient vanishes there.
  const t = Array.from({ length: k }, (_, i) => (i === 4 ? 1 - a : 0) + a / k);
  const zt = tf.tensor2d([t.map(Math.log)]);
  const g = tf
    .grad((logits: tf.Tensor) => defendedLoss(logits as tf.Tensor2D, tf.tensor1d([4], 'int32'), { mu: 0, labelSmoothing: a }).loss)(zt)
    .dataSync();
  assert.ok(Math.max(...Array.from(g, Math.abs)) < 1e-6);
  assert.ok(Math.abs(byHand(t.map(Math.log), 4, a).p[4]! - (1 - a + a / k)) < 1e-9);
});

test('LSR and the trace term combine: loss = CE_LSR + μ·Σ 1/p_i', () => {
  const z = [0.4, -0.7, 1.9];
  const mu = 0.05;
  const h = byHand(z, 1, 0.3);
  const expected = h.ce + mu * h.p.reduce((s, pi) => s + 1 / pi, 0);
  const got = defendedLoss(tf.tensor2d([z]), tf.tensor1d([1], 'int32'), { mu, labelSmoothing: 0.3 }).loss.dataSync()[0]!;
  assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
});
