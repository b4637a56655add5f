import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import { batchLabels, batchPixels, range } from '../../src/engine/data/dataset';
import { loadDataset } from '../../src/engine/data/registry';
import { runSanityCheck, SANITY_CHECKS, type SanityInputs } from '../../src/reproduce/sanity';
import type { SanityCheck, SanityPlan } from '../../src/runs/reproduce';
import { useEngineBackend } from '../helpers';
import { trainSmallMnist, type TrainedMnist } from '../engine/attacks/trainedModel';
import { saturatedLogits } from './maskedModel';

/**
 * The gradient-masking sanity checks end to end on real attacks: a deliberately masked model (an
 * honest classifier with saturated logits: same decisions, zero cross-entropy gradients) must be
 * flagged by the margin-vs-CE, DLR-vs-CE, transfer and gradient-free checks, while the honest model it is
 * made from passes every check.
 */
let honest: TrainedMnist;
let other: TrainedMnist;
let samples: Pick<SanityInputs, 'x' | 'labels' | 'shape'>;

const PLAN: SanityPlan = {
  samples: 40,
  linfBudgets: [0.1, 0.2],
  l2Budgets: [1.5, 3],
  growBudgets: [0.1, 0.3, 0.5],
  epsilon: 0.1,
  weak: { steps: 10, restarts: 1 },
  strong: { steps: 30, restarts: 2 },
  squareSamples: 30,
  squareQueries: 200,
};
const ATTACK_CHECKS = SANITY_CHECKS.map((c) => c.id).filter((id) => id !== 'temperature-scaling');

before(async () => {
  await useEngineBackend();
  honest = await trainSmallMnist({ trainSamples: 3000, epochs: 2, testSamples: 10, seed: 1 });
  other = await trainSmallMnist({ trainSamples: 3000, epochs: 2, testSamples: 10, seed: 7 });
  const test = (await loadDataset('mnist')).test;
  const idx = range(0, PLAN.samples);
  samples = { x: batchPixels(test, idx), labels: batchLabels(test, idx), shape: [28, 28, 1] };
});

function runAll(inputs: SanityInputs): Map<string, SanityCheck> {
  return new Map(ATTACK_CHECKS.map((id) => [id, runSanityCheck(id, inputs, PLAN, { seed: 0 })]));
}

test('an honest model passes every gradient-masking check', () => {
  const checks = runAll({ ...samples, baseline: other.model, defended: honest.model, baselineLabel: 'other', defendedLabel: 'honest' });
  for (const [id, c] of checks) {
    assert.notEqual(c.status, 'fail', `${id}: ${c.summary}`);
    assert.ok(
      c.evidence.length > 0 && c.evidence.every((e) => e.n > 0 && e.ci[0] <= e.ratio + 1e-9 && e.ratio <= e.ci[1] + 1e-9),
      `${id} reports its evidence with intervals: ${JSON.stringify(c.evidence)}`,
    );
  }
  assert.equal(checks.get('unbounded-budget')!.status, 'pass', checks.get('unbounded-budget')!.summary);
});

test('a model with saturated logits is flagged as possible gradient masking', () => {
  const masked = saturatedLogits(honest.model);
  const checks = runAll({ ...samples, baseline: other.model, defended: masked, baselineLabel: 'other', defendedLabel: 'masked' });
  for (const id of ['margin-vs-ce', 'dlr-vs-ce', 'transfer-from-baseline', 'gradient-free']) {
    const c = checks.get(id)!;
    assert.equal(c.status, 'fail', `${id} must flag the masked model: ${c.summary}`);
    assert.match(c.summary, /possible gradient masking/);
  }
});

test('the temperature check without inspections is skipped, and unknown checks are errors', () => {
  const inputs = { ...samples, baseline: other.model, defended: honest.model, baselineLabel: 'a', defendedLabel: 'b' };
  assert.equal(runSanityCheck('temperature-scaling', inputs, PLAN).status, 'skipped');
  assert.throws(() => runSanityCheck('nope', inputs, PLAN), /unknown sanity check "nope"/);
});
