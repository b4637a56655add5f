import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import type { DatasetSplits } from '../../../src/engine/data/dataset';
import { registerDataset } from '../../../src/engine/data/registry';
import { resume, train, type TrainRequest } from '../../../src/engine/train/trainer';
import { readMetrics } from '../../../src/runs/reader';
import type { StepMetrics } from '../../../src/runs/types';
import { toyDataset, tmpDir, useEngineBackend } from '../../helpers';

// The native kernels' multi-threaded reductions are not bitwise reproducible from run to run, and
// PGD's sign(∇) turns rounding differences into different examples: one thread makes runs exact.
process.env.FIM_THREADS = '1';

before(async () => {
  await useEngineBackend();
  const splits = (): DatasetSplits => ({
    train: toyDataset(48, [28, 28, 1], 3, 10),
    test: toyDataset(20, [28, 28, 1], 4, 10),
    source: 'toy',
  });
  registerDataset({ name: 'toy-transforms', description: 'toy data for the transform tests', needsDataDir: false, load: splits });
});

function stepLosses(runDir: string): Map<number, number> {
  const steps = readMetrics(runDir).records.filter((r): r is StepMetrics => r.kind === 'step');
  return new Map(steps.map((r) => [r.step, r.loss]));
}

function request(name: string, seed: number): TrainRequest {
  return {
    model: 'convnet',
    dataset: 'toy-transforms',
    mu: 0.01,
    epochs: 2,
    batchSize: 12,
    learningRate: 1e-3,
    seed,
    storeDir: tmpDir(),
    name,
    logEvery: 1,
    augmentation: 'crop-flip',
    adversarialTraining: { epsilon: 0.1, steps: 2, stepSize: 0.05, ratio: 0.5 },
  };
}

/**
 * The crops, flips, PGD random starts and replaced rows depend only on (seed, global step), so a
 * run stopped mid-epoch and resumed sees the same batches as an uninterrupted one: every step's
 * loss is identical, and differs clearly for another seed.
 */
test('augmentation and PGD-AT are replayed on --resume: the same step losses as an uninterrupted run', async () => {
  const whole = await train(request('whole', 5));
  assert.equal(whole.state, 'completed');
  const ac = new AbortController();
  const stopped = await train(request('split', 5), { onProgress: (p) => p.step === 3 && ac.abort() }, ac.signal);
  assert.equal(stopped.state, 'stopped');
  const resumed = await resume(stopped.runDir, { logEvery: 1 });
  assert.equal(resumed.state, 'completed');

  const a = stepLosses(whole.runDir);
  const b = stepLosses(resumed.runDir);
  assert.equal(a.size, 8);
  const relDiff = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(x), 1e-9);
  for (const [step, loss] of a) {
    assert.ok(b.has(step), `step ${step} logged in the resumed run`);
    assert.equal(b.get(step), loss, `step ${step}: loss ${loss} uninterrupted vs ${b.get(step)} resumed`);
  }
  const other = stepLosses((await train(request('other-seed', 6))).runDir);
  const maxOther = Math.max(...[...a].filter(([s]) => s > 3).map(([s, l]) => relDiff(l, other.get(s)!)));
  assert.ok(maxOther > 1e-2, `another seed gives other batches (max relative difference ${maxOther})`);
});
