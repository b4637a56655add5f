import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { runAttack } from '../../../src/engine/attacks/run';
import { etaPattern, etaRectangles } from '../../../src/engine/attacks/squareL2';
import { argmaxRows, logitsOf } from '../../../src/engine/models/predict';
import { mean } from '../../../src/shared/stats';
import { useEngineBackend } from '../../helpers';
import { saturatedLogits } from '../../reproduce/maskedModel';
import { trainSmallMnist, type TrainedMnist } from './trainedModel';

/**
 * AutoAttack's attacks on a small trained MNIST model: APGD-CE is at least as strong as PGD-40
 * (sign test over the samples where they disagree); on a deliberately gradient-masked model
 * (logits ×1,000) APGD-DLR and APGD-T break what cross-entropy PGD cannot, because DLR does not
 * change when the logits are scaled; the l2 Square Attack stays in its ball, grows with the budget
 * and is blind to the masking; every success flag is the model's own verdict.
 */
let m: TrainedMnist;
const SHAPE: [number, number, number] = [28, 28, 1];

before(async () => {
  await useEngineBackend();
  m = await trainSmallMnist({ trainSamples: 3000, epochs: 2, testSamples: 60 });
  assert.ok(m.accuracy > 0.8, `the test model trains (accuracy ${m.accuracy})`);
});

const inputs = (model = m.model) => ({ model, x: m.x, shape: SHAPE, labels: m.labels });

/** One-sided sign test: P(X ≥ c) for X ~ Binomial(b + c, 1/2). */
function signTestP(b: number, c: number): number {
  const n = b + c;
  let p = 0;
  for (let k = c; k <= n; k++) {
    let coef = 1;
    for (let i = 0; i < k; i++) coef = (coef * (n - i)) / (i + 1);
    p += coef / 2 ** n;
  }
  return p;
}

function checkFlags(model: typeof m.model, adv: Float32Array, success: Uint8Array): void {
  const pred = tf.tidy(() => argmaxRows(logitsOf(model, tf.tensor4d(adv, [m.labels.length, ...SHAPE])), 10));
  success.forEach((s, i) => assert.equal(s, pred[i] !== m.labels[i] ? 1 : 0, `sample ${i}: flag ${s}, prediction ${pred[i]}`));
}

test('APGD-CE is at least as strong as PGD-40 (sign test), in l∞ and l2, and its flags are the model’s', () => {
  for (const [apgd, pgd, eps, pgdOptions] of [
    ['apgd-ce', 'pgd', 0.05, {}],
    ['apgd-ce-l2', 'pgd-l2', 0.8, { steps: 40, relStepsize: 1 / 30 }],
  ] as const) {
    const a = runAttack(apgd, inputs(), [eps], { seed: 0 }).budgets[0]!;
    const p = runAttack(pgd, inputs(), [eps], { seed: 0, options: pgdOptions }).budgets[0]!;
    let onlyApgd = 0;
    let onlyPgd = 0;
    a.success.forEach((s, i) => {
      if (s && !p.success[i]) onlyApgd++;
      if (!s && p.success[i]) onlyPgd++;
    });
    const fa = mean(a.success);
    const fp = mean(p.success);
    assert.ok(fa > 0.2 && fa < 1, `${apgd} at ε = ${eps} breaks some but not all (${fa}), so the comparison means something`);
    assert.ok(fa >= fp, `${apgd} fools ${fa}, ${pgd}-40 ${fp}`);
    const pValue = signTestP(onlyApgd, onlyPgd);
    assert.ok(pValue > 0.05, `${pgd} is not significantly stronger (only ${apgd}: ${onlyApgd}, only ${pgd}: ${onlyPgd}, p = ${pValue})`);
    checkFlags(m.model, a.clipped, a.success);
    for (const d of a.distance) assert.ok(d <= eps + 1e-5, `distance ${d} > ε = ${eps}`);
    assert.ok(a.clipped.every((v) => v >= 0 && v <= 1));
  }
});

test('on a masked model (logits ×1,000) APGD-DLR and APGD-T break what cross-entropy PGD does not', () => {
  const masked = saturatedLogits(m.model);
  const eps = 0.1;
  const pgdMasked = mean(runAttack('pgd', inputs(masked), [eps], { seed: 1 }).budgets[0]!.success);
  const ceMasked = mean(runAttack('apgd-ce', inputs(masked), [eps], { seed: 1 }).budgets[0]!.success);
  for (const name of ['apgd-dlr', 'apgd-t']) {
    const honest = runAttack(name, inputs(), [eps], { seed: 1 }).budgets[0]!;
    const onMasked = runAttack(name, inputs(masked), [eps], { seed: 1 }).budgets[0]!;
    checkFlags(masked, onMasked.clipped, onMasked.success);
    const fm = mean(onMasked.success);
    assert.ok(fm > pgdMasked + 0.3, `${name} on the masked model ${fm} vs PGD-CE ${pgdMasked}`);
    assert.ok(fm > ceMasked + 0.3, `${name} on the masked model ${fm} vs APGD-CE ${ceMasked}`);
    // DLR does not see the scale: the masked model is about as breakable as the honest one.
    assert.ok(Math.abs(fm - mean(honest.success)) <= 0.1, `${name}: masked ${fm} vs honest ${mean(honest.success)}`);
  }
});

test('APGD-T with user targets succeeds only on the target class, and runs repeat per seed', () => {
  const targets = Int32Array.from(m.labels, (y) => (y + 1) % 10);
  const r = runAttack('apgd-t', { ...inputs(), targets }, [0.3], { seed: 2, options: { steps: 30 } }).budgets[0]!;
  const pred = tf.tidy(() => argmaxRows(logitsOf(m.model, tf.tensor4d(r.clipped, [m.labels.length, ...SHAPE])), 10));
  r.success.forEach((s, i) => assert.equal(s, pred[i] === targets[i] ? 1 : 0));
  assert.ok(mean(r.success) > 0.5, `most reach their target at ε = 0.3 (${mean(r.success)})`);
  const again = runAttack('apgd-t', { ...inputs(), targets }, [0.3], { seed: 2, options: { steps: 30 } }).budgets[0]!;
  assert.deepEqual(Array.from(again.clipped), Array.from(r.clipped));
});

test("the l2 Square Attack's η pattern: concentric rings of weight 1/(k+1)², by hand", () => {
  const unit = (v: number[]) => v.map((x) => x / Math.sqrt(v.reduce((s, y) => s + y * y, 0)));
  const close = (a: ArrayLike<number>, b: number[]) =>
    b.forEach((v, i) => assert.ok(Math.abs(a[i]! - v) < 1e-12, `${Array.from(a)} vs ${b}`));
  // 1×3: the centre ring gets 1, the next ring (covering all) 1/4 more.
  close(etaRectangles(1, 3), unit([0.25, 1.25, 0.25]));
  // 2×3: centre at (1, 1).
  close(etaRectangles(2, 3), unit([0.25, 0.25, 0.25, 0.25, 1.25, 0.25]));
  // 3×3: the top row is the 1×3 pattern, the bottom two rows minus the 2×3 one, all of unit norm.
  const top = unit([0.25, 1.25, 0.25]);
  const bottom = unit([0.25, 0.25, 0.25, 0.25, 1.25, 0.25]).map((v) => -v);
  const whole = unit([...top, ...bottom]);
  close(etaPattern(3, false), whole);
  const t = etaPattern(3, true);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.equal(t[j * 3 + i], etaPattern(3, false)[i * 3 + j]);
});

test('the l2 Square Attack stays in its ball and [0, 1], grows with the budget, repeats per seed and is blind to masking', () => {
  const r = runAttack('square-l2', inputs(), [0.5, 1.5, 3], { options: { queries: 150 }, seed: 3 });
  const fr = r.budgets.map((b) => mean(b.success));
  for (let i = 1; i < fr.length; i++) assert.ok(fr[i]! >= fr[i - 1]!, `fooling ratio ${fr.join(' → ')} must not fall`);
  assert.ok(fr[2]! > 0.5, `l2 Square fools most samples at ε = 3 (${fr[2]})`);
  for (const b of r.budgets) {
    assert.ok(b.clipped.every((v) => v >= 0 && v <= 1));
    for (const d of b.distance) assert.ok(d <= b.budget * (1 + 1e-5), `l2 distance ${d} > ${b.budget}`);
    checkFlags(m.model, b.clipped, b.success);
  }
  const again = runAttack('square-l2', inputs(), [0.5, 1.5, 3], { options: { queries: 150 }, seed: 3 }).budgets[1]!;
  assert.deepEqual(Array.from(again.clipped), Array.from(r.budgets[1]!.clipped));
  // One generator serves a call's budgets in order: compare single-budget calls.
  const honest = runAttack('square-l2', inputs(), [1.5], { options: { queries: 150 }, seed: 4 }).budgets[0]!;
  const onMasked = runAttack('square-l2', inputs(saturatedLogits(m.model)), [1.5], { options: { queries: 150 }, seed: 4 }).budgets[0]!;
  assert.deepEqual(Array.from(onMasked.success), Array.from(honest.success), 'margins ×1,000 make the same decisions');
});
