import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { FimRow } from '../../src/runs/reproduce';
import {
  anyOf,
  decideGradientFree,
  decideIterativeVsOneStep,
  decideMarginVsCe,
  decideStepsRestarts,
  decideTemperature,
  decideTransfer,
  decideUnbounded,
} from '../../src/reproduce/checks';
import { newcombe } from '../../src/reproduce/findings';
import { bootstrapMeanCi, bootstrapRatioCi, paired, sampleSd, signTestP } from '../../src/reproduce/stats';

/** n flags with the first k set. */
const flags = (n: number, k: number, offset = 0) => Uint8Array.from({ length: n }, (_, i) => (i >= offset && i < offset + k ? 1 : 0));

test('sign test and paired comparison against hand-computed values', () => {
  // All 5 discordant pairs on one side: 2 · (1/2)^5.
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  near(signTestP(0, 5), 2 / 32);
  near(signTestP(5, 5), 2 / 32);
  near(signTestP(0, 6), 2 / 64);
  // 1 of 4: 2 · (1 + 4) / 16.
  near(signTestP(1, 4), 10 / 16);
  assert.equal(signTestP(3, 6), 1);
  assert.equal(signTestP(0, 0), 1);
  const c = paired([1, 1, 0, 0, 1], [1, 0, 0, 1, 0]);
  assert.deepEqual([c.onlyA, c.onlyB, c.n], [2, 1, 5]);
  assert.ok(Math.abs(c.ratioA - 0.6) < 1e-12 && Math.abs(c.ratioB - 0.4) < 1e-12);
  assert.throws(() => paired([1], [1, 0]), /paired comparison of 1 and 2 samples/);
  assert.deepEqual(Array.from(anyOf([flags(4, 1), flags(4, 1, 2)])), [1, 0, 1, 0]);
});

test('bootstrap intervals contain the estimate, shrink with n and are reproducible', () => {
  const xs = Array.from({ length: 200 }, (_, i) => (i % 10) / 10);
  const [lo, hi] = bootstrapMeanCi(xs);
  assert.ok(lo < 0.45 && hi > 0.45 && hi - lo < 0.1, `[${lo}, ${hi}]`);
  assert.deepEqual(bootstrapMeanCi(xs), [lo, hi]);
  const [lo2, hi2] = bootstrapMeanCi(xs.slice(0, 20));
  assert.ok(hi2 - lo2 > hi - lo);
  const [rlo, rhi] = bootstrapRatioCi(
    xs,
    xs.map((v) => 2 * v),
  );
  assert.ok(rlo < 2 && rhi > 2 && rlo > 1.5 && rhi < 2.5, `[${rlo}, ${rhi}]`);
  assert.equal(sampleSd([1]), null);
  assert.ok(Math.abs(sampleSd([1, 3])! - Math.SQRT2) < 1e-12);
});

test("Newcombe's interval for a difference of proportions matches his published example", () => {
  // Newcombe 1998, Statistics in Medicine 17:873, example (a): 56/70 − 48/80 = 0.2, method 10: 0.0524 to 0.3339.
  const d = newcombe(56, 70, 48, 80);
  assert.ok(Math.abs(d.diff - 0.2) < 1e-12);
  assert.ok(Math.abs(d.lo - 0.0524) < 5e-4 && Math.abs(d.hi - 0.3339) < 5e-4, `[${d.lo}, ${d.hi}]`);
});

test('iterative vs one-step: fails only when the one-step attack is clearly stronger', () => {
  assert.equal(decideIterativeVsOneStep([{ label: 'a', oneStep: flags(100, 40), iterative: flags(100, 60) }]).status, 'pass');
  // Noise (1 sample) is not a failure.
  assert.equal(decideIterativeVsOneStep([{ label: 'a', oneStep: flags(100, 41), iterative: flags(100, 40) }]).status, 'pass');
  const d = decideIterativeVsOneStep([{ label: 'l∞ ε = 0.1', oneStep: flags(100, 60), iterative: flags(100, 30) }]);
  assert.equal(d.status, 'fail');
  assert.match(d.summary, /possible gradient masking.*l∞ ε = 0\.1/);
});

test('unbounded budget: the last fooling ratio must reach 95%', () => {
  assert.equal(
    decideUnbounded([
      { budget: 0.1, success: flags(50, 10) },
      { budget: 1, success: flags(50, 50) },
    ]).status,
    'pass',
  );
  assert.equal(decideUnbounded([{ budget: 1, success: flags(50, 40) }]).status, 'fail');
  assert.equal(decideUnbounded([]).status, 'skipped');
});

test('PGD steps and restarts: worse is a failure, much better a warning, equal a pass', () => {
  assert.equal(decideStepsRestarts(flags(100, 50), flags(100, 52), 'weak', 'strong').status, 'pass');
  assert.equal(decideStepsRestarts(flags(100, 30), flags(100, 60), 'weak', 'strong').status, 'warn');
  assert.equal(decideStepsRestarts(flags(100, 60), flags(100, 30), 'weak', 'strong').status, 'fail');
});

test('margin vs CE, transfer and gradient-free flag an attack that is clearly stronger than the white-box gradient attack', () => {
  assert.equal(decideMarginVsCe([{ label: 'x', ce: flags(80, 40), margin: flags(80, 42) }]).status, 'pass');
  assert.equal(decideMarginVsCe([{ label: 'x', ce: flags(80, 5), margin: flags(80, 60) }]).status, 'fail');
  assert.equal(decideTransfer(flags(80, 50), flags(80, 20)).status, 'pass');
  assert.equal(decideTransfer(flags(80, 5), flags(80, 50)).status, 'fail');
  assert.equal(decideGradientFree(flags(60, 10), [{ label: 'PGD', success: flags(60, 30) }]).status, 'pass');
  const g = decideGradientFree(flags(60, 40), [
    { label: 'PGD-margin', success: flags(60, 45) },
    { label: 'PGD-CE', success: flags(60, 2) },
  ]);
  assert.equal(g.status, 'fail');
  assert.match(g.summary, /beats PGD-CE/);
});

test('temperature: suppression that vanishes after scaling, or a boundary that did not move, is a warning', () => {
  const row = (lambda: number, scaled: number, margin: number, t = 1): FimRow => ({
    model: 'm',
    label: 'm',
    mu: 0,
    samples: 10,
    accuracy: 1,
    temperature: t,
    traceGs: 100,
    lambdaMaxGx: lambda,
    lambdaMaxGxScaled: scaled,
    klBudget: 1,
    klBudgetScaled: 1,
    normalizedMargin: margin,
  });
  const base = row(10, 5, 1);
  assert.equal(decideTemperature(base, row(1, 1, 2)).status, 'pass');
  const gone = decideTemperature(base, row(1, 5, 2));
  assert.equal(gone.status, 'warn');
  assert.match(gone.summary, /mostly a smaller logit scale/);
  assert.ok(Math.abs(gone.values.lambdaRatioAfter! - 1) < 1e-12);
  assert.match(decideTemperature(base, row(1, 1, 0.5)).summary, /first-order distance .* is not larger/);
  const larger = decideTemperature(base, row(40, 20, 0.5));
  assert.equal(larger.status, 'warn');
  assert.match(larger.summary, /not suppressed at all/);
});
