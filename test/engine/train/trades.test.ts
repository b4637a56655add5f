import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { klFromLogits, tradesDefence, tradesExamples, tradesStart } from '../../../src/engine/train/trades';
import type { TradesDefence } from '../../../src/runs/types';
import { randomArray, useEngineBackend } from '../../helpers';
import { klDivergence, referenceOf, tieFreeInputs, tinyConvNet } from '../fim/reference';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 64;
const B = 4;

before(async () => {
  await useEngineBackend();
});

function softmax64(z: ArrayLike<number>): Float64Array {
  const m = Math.max(...Array.from(z));
  const e = Float64Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test('KL from logits matches the float64 definition, and is 0 for equal inputs', () => {
  const zp = [
    [2, -1, 0.5],
    [0, 0, 0],
  ];
  const zq = [
    [0.3, 0.2, -2],
    [5, -3, 1],
  ];
  const got = klFromLogits(tf.tensor2d(zp), tf.tensor2d(zq)).dataSync();
  zp.forEach((row, r) => {
    const want = klDivergence(softmax64(row), softmax64(zq[r]!));
    assert.ok(Math.abs(got[r]! - want) < 1e-5, `${got[r]} vs ${want}`);
  });
  const same = klFromLogits(tf.tensor2d(zq), tf.tensor2d(zq)).dataSync();
  for (const v of same) assert.ok(Math.abs(v) < 1e-6);
});

const D: TradesDefence = { kind: 'trades', weight: 6, epsilon: 0.1, steps: 10, stepSize: 0.02 };

test("TRADES' inner PGD stays in the ε-ball and in [0, 1], and is reproducible per (seed, step)", () => {
  const model = tinyConvNet(11);
  // Pixels at 0 and 1 too, so the [0, 1] clip is exercised.
  const xs = randomArray(B * N, 3, -0.2, 1.2).map((v) => Math.min(1, Math.max(0, v)));
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const a = tradesExamples(model, x, D, 5, 7).dataSync();
  for (let i = 0; i < a.length; i++) {
    assert.ok(a[i]! >= 0 && a[i]! <= 1, `pixel ${a[i]}`);
    assert.ok(Math.abs(a[i]! - xs[i]!) <= D.epsilon + 1e-6, `|δ| ${Math.abs(a[i]! - xs[i]!)}`);
  }
  assert.deepEqual(Array.from(tradesExamples(model, x, D, 5, 7).dataSync()), Array.from(a));
  assert.notDeepEqual(Array.from(tradesExamples(model, x, D, 5, 8).dataSync()), Array.from(a));
  x.dispose();
});

test('the first inner step moves each pixel along the sign of the float64 KL gradient at the random start', () => {
  const model = tinyConvNet(23);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(1, N, 9);
  const x = tf.tensor4d(xs, [1, ...SHAPE]);
  const one: TradesDefence = { ...D, steps: 1, stepSize: 1e-3, epsilon: 1 };
  const start = tradesStart(x, 2, 3).dataSync();
  const moved = tradesExamples(model, x, one, 2, 3).dataSync();
  const p = ref.probs(xs);
  const kl = (v: Float64Array) => klDivergence(p, ref.probs(v));
  let checked = 0;
  const h = 1e-5;
  for (let t = 0; t < N; t++) {
    const v = Float64Array.from(start);
    v[t] = start[t]! + h;
    const plus = kl(v);
    v[t] = start[t]! - h;
    const fd = (plus - kl(v)) / (2 * h);
    if (Math.abs(fd) < 1e-6) continue; // too flat for the sign to be meaningful in float32
    checked++;
    assert.equal(Math.sign(moved[t]! - start[t]!), Math.sign(fd), `pixel ${t}: step ${moved[t]! - start[t]!}, ∂KL/∂x ${fd}`);
  }
  assert.ok(checked > N / 2, `only ${checked} pixels had a measurable gradient`);
  x.dispose();
});

test('the inner PGD finds a larger KL than the random start and than random corners of the ε-ball', () => {
  const model = tinyConvNet(37);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(B, N, 21);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const adv = tradesExamples(model, x, D, 0, 0).dataSync();
  const start = tradesStart(x, 0, 0).dataSync();
  for (let s = 0; s < B; s++) {
    const xi = xs.subarray(s * N, (s + 1) * N);
    const p = ref.probs(xi);
    const kl = (v: ArrayLike<number>) => klDivergence(p, ref.probs(v));
    const found = kl(adv.subarray(s * N, (s + 1) * N));
    assert.ok(found > 10 * kl(start.subarray(s * N, (s + 1) * N)), `sample ${s}: ${found}`);
    for (let r = 0; r < 20; r++) {
      const signs = randomArray(N, 100 * s + r + 1);
      const corner = Float64Array.from(xi, (v, t) => Math.min(1, Math.max(0, v + D.epsilon * Math.sign(signs[t]!))));
      assert.ok(found > kl(corner), `sample ${s}: PGD ${found} ≤ random corner ${kl(corner)}`);
    }
  }
  x.dispose();
});

test('the TRADES penalty is β · mean KL(p(x) ‖ p(x′)) with x′ from the inner PGD of the same step', () => {
  // No batch norm, so training and inference mode agree and the float64 reference applies.
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: SHAPE,
        filters: 3,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 5, kernelInitializer: tfl.initializers.glorotNormal({ seed: 5 }) }),
    ],
  });
  const ref = referenceOf(model);
  const xs = tieFreeInputs(B, N, 31);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const logits = model.apply(x, { training: true }) as tf.Tensor2D;
  const prepared = tradesDefence(model, D).prepare(x, tf.tensor1d([0, 1, 2, 3], 'int32'), { seed: 6, step: 11 });
  const value = prepared.penalty(logits).dataSync()[0]!;
  prepared.dispose();
  const adv = tradesExamples(model, x, D, 6, 11).dataSync();
  let want = 0;
  for (let s = 0; s < B; s++) want += klDivergence(ref.probs(xs.subarray(s * N, (s + 1) * N)), ref.probs(adv.subarray(s * N, (s + 1) * N)));
  want = (D.weight * want) / B;
  assert.ok(want > 0 && Math.abs(value - want) < 1e-4 * want + 1e-7, `${value} vs ${want}`);
  tf.dispose([x, logits]);
});
