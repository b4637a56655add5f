import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { getAttack } from '../../../src/engine/attacks/registry';
import { minimalAdversarial, runAttack } from '../../../src/engine/attacks/run';
import { squareFraction } from '../../../src/engine/attacks/square';
import { argmaxRows, logitsOf } from '../../../src/engine/models/predict';
import { mean } from '../../../src/shared/stats';
import { useEngineBackend } from '../../helpers';
import { saturatedLogits } from '../../reproduce/maskedModel';
import { trainSmallMnist, type TrainedMnist } from './trainedModel';

/**
 * The gradient-free Square Attack (Andriushchenko et al. 2020) on a small trained MNIST model:
 * it stays in the l∞ ball and the pixel range, fools more with a larger budget and more queries,
 * beats random sign noise of the same size, is reproducible per seed, and — the reason it exists
 * here — is blind to gradient masking: on a model whose saturated softmax zeroes every
 * cross-entropy gradient it finds exactly the same adversarials, while PGD on cross-entropy stalls.
 */
let m: TrainedMnist;
const SHAPE: [number, number, number] = [28, 28, 1];

before(async () => {
  await useEngineBackend();
  m = await trainSmallMnist({ trainSamples: 3000, epochs: 2, testSamples: 60 });
  assert.ok(m.accuracy > 0.8, `the test model trains (accuracy ${m.accuracy})`);
});

const inputs = (model = m.model) => ({ model, x: m.x, shape: SHAPE, labels: m.labels });
const ratio = (s: Uint8Array) => mean(s);

test("the window-size schedule halves p at the authors' checkpoints", () => {
  assert.equal(squareFraction(0.8, 0, 10000), 0.8);
  assert.equal(squareFraction(0.8, 10, 10000), 0.8);
  assert.equal(squareFraction(0.8, 11, 10000), 0.4);
  assert.equal(squareFraction(0.8, 300, 10000), 0.1);
  assert.equal(squareFraction(0.8, 9999, 10000), 0.8 / 512);
  // The schedule is relative to the query budget.
  assert.equal(squareFraction(0.8, 30, 1000), squareFraction(0.8, 300, 10000));
});

test("Square stays in the l∞ ball and [0, 1], fools more with more budget and queries, and its flags are the model's", () => {
  const r = runAttack('square', inputs(), [0.05, 0.15, 0.3], { options: { queries: 200 }, seed: 1 });
  assert.equal(r.budgetUnit, 'ε = l∞ norm of the perturbation (pixels in [0, 1])');
  const fr = r.budgets.map((b) => ratio(b.success));
  for (let i = 1; i < fr.length; i++) assert.ok(fr[i]! >= fr[i - 1]!, `fooling ratio ${fr.join(' → ')} must not fall`);
  assert.ok(fr[2]! > 0.5, `Square fools most samples at ε = 0.3 (${fr[2]})`);
  for (const b of r.budgets) {
    assert.ok(b.clipped.every((v) => v >= 0 && v <= 1));
    for (const d of b.distance) assert.ok(d <= b.budget + 1e-6, `l∞ distance ${d} > ${b.budget}`);
    const pred = tf.tidy(() => argmaxRows(logitsOf(m.model, tf.tensor4d(b.clipped, [m.labels.length, ...SHAPE])), 10));
    b.success.forEach((s, i) => assert.equal(s, pred[i] !== m.labels[i] ? 1 : 0));
  }
  const few = ratio(runAttack('square', inputs(), [0.15], { options: { queries: 20 }, seed: 1 }).budgets[0]!.success);
  assert.ok(fr[1]! >= few, `200 queries (${fr[1]}) do at least as well as 20 (${few})`);
  // One generator per (attack, seed, batch) serves the budgets in order, so the same call repeats exactly.
  const again = runAttack('square', inputs(), [0.05, 0.15, 0.3], { options: { queries: 200 }, seed: 1 }).budgets[1]!;
  assert.deepEqual(Array.from(again.clipped), Array.from(r.budgets[1]!.clipped), 'reproducible with the same seed');
});

test('Square beats random ±ε sign noise of the same l∞ size', () => {
  const eps = 0.15;
  const sq = ratio(runAttack('square', inputs(), [eps], { options: { queries: 200 }, seed: 2 }).budgets[0]!.success);
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const noisy = Float32Array.from(m.x, (v) => Math.min(1, Math.max(0, v + (rnd() < 0.5 ? -eps : eps))));
  const pred = tf.tidy(() => argmaxRows(logitsOf(m.model, tf.tensor4d(noisy, [m.labels.length, ...SHAPE])), 10));
  const noise = mean(Array.from(pred, (p, i) => (p !== m.labels[i] ? 1 : 0)));
  assert.ok(sq > noise + 0.1, `Square ${sq} vs random noise ${noise}`);
});

test('Square is blind to saturated logits; PGD on cross-entropy is not', () => {
  const masked = saturatedLogits(m.model);
  const eps = 0.15;
  const honest = runAttack('square', inputs(), [eps], { options: { queries: 100 }, seed: 3 }).budgets[0]!;
  const onMasked = runAttack('square', inputs(masked), [eps], { options: { queries: 100 }, seed: 3 }).budgets[0]!;
  // Margins scale by 1,000, so every accept/reject decision, hence every query, is the same.
  assert.deepEqual(Array.from(onMasked.success), Array.from(honest.success));
  const pgdHonest = ratio(runAttack('pgd', inputs(), [eps], { seed: 3 }).budgets[0]!.success);
  const pgdMasked = ratio(runAttack('pgd', inputs(masked), [eps], { seed: 3 }).budgets[0]!.success);
  assert.ok(pgdMasked < pgdHonest - 0.3, `PGD-CE stalls on the masked model: ${pgdMasked} vs ${pgdHonest}`);
  assert.ok(ratio(onMasked.success) > pgdMasked + 0.2, `Square ${ratio(onMasked.success)} vs PGD-CE ${pgdMasked} on the masked model`);
});

test('the minimum-distance search and bad options work like the other iterative attacks', () => {
  const sub = { model: m.model, x: m.x.slice(0, 8 * 784), shape: SHAPE, labels: m.labels.slice(0, 8) };
  const r = minimalAdversarial('square', sub, { options: { searchQueries: 50 }, seed: 4 });
  assert.ok(r.found.some(Boolean), 'finds adversarials');
  for (let i = 0; i < 8; i++) if (r.found[i]) assert.ok(r.distance[i]! > 0 && r.distance[i]! <= 1);
  assert.equal(getAttack('square').kind, 'iterative');
  assert.throws(() => runAttack('square', sub, [0.1], { options: { queries: 'many' } }), /expects a number/);
});
