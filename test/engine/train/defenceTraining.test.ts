import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import type { DatasetSplits } from '../../../src/engine/data/dataset';
import { registerDataset } from '../../../src/engine/data/registry';
import { resume, train, validateRequest, type TrainRequest } from '../../../src/engine/train/trainer';
import { resolveDefence } from '../../../src/runs/defence';
import { readMetrics, readRun } from '../../../src/runs/reader';
import type { DefenceConfig, StepMetrics } from '../../../src/runs/types';
import { toyDataset, tmpDir, useEngineBackend } from '../../helpers';

// One thread: TRADES' sign(∇) turns run-to-run rounding differences of threaded reductions into other examples.
process.env.FIM_THREADS = '1';

before(async () => {
  await useEngineBackend();
  const splits = (): DatasetSplits => ({
    train: toyDataset(36, [28, 28, 1], 3, 10),
    test: toyDataset(20, [28, 28, 1], 4, 10),
    source: 'toy',
  });
  registerDataset({ name: 'toy-defences', description: 'toy data for the defence tests', needsDataDir: false, load: splits });
});

function stepRecords(runDir: string): StepMetrics[] {
  return readMetrics(runDir).records.filter((r): r is StepMetrics => r.kind === 'step');
}

function request(name: string, defence: DefenceConfig, seed = 5): TrainRequest {
  return {
    model: 'convnet',
    dataset: 'toy-defences',
    mu: 0,
    defence,
    epochs: 2,
    batchSize: 12,
    learningRate: 1e-3,
    seed,
    storeDir: tmpDir(),
    name,
    logEvery: 1,
  };
}

const DEFENCES: DefenceConfig[] = [
  resolveDefence('spectral', 0.5).defence!,
  resolveDefence('trades', 1, { steps: 2 }).defence!,
  resolveDefence('trace-scaled', 0.01).defence!,
];

/**
 * Each defence trains, stores itself in config.json, adds a positive term to the loss, and is
 * replayed on --resume: a run stopped mid-way and resumed logs the same loss at every step as an
 * uninterrupted one (TRADES' random starts and trace-scaled's probes depend on (seed, step) only).
 */
for (const d of DEFENCES) {
  test(`${d.kind}: trains, is stored in config.json, adds a positive term, and resumes with the same losses`, async () => {
    const whole = await train(request('whole', d));
    assert.equal(whole.state, 'completed');
    const info = readRun(whole.runDir);
    assert.deepEqual(info.config!.defence, d);
    assert.equal(info.config!.mu, 0);
    const a = stepRecords(whole.runDir);
    assert.equal(a.length, 6);
    for (const r of a) assert.ok(r.loss > r.ce, `step ${r.step}: loss ${r.loss} should exceed CE ${r.ce}`);

    const ac = new AbortController();
    const stopped = await train(request('split', d), { onProgress: (p) => p.step === 2 && ac.abort() }, ac.signal);
    assert.equal(stopped.state, 'stopped');
    const resumed = await resume(stopped.runDir, { logEvery: 1 });
    assert.equal(resumed.state, 'completed');
    assert.deepEqual(readRun(resumed.runDir).config!.defence, d);
    const b = new Map(stepRecords(resumed.runDir).map((r) => [r.step, r.loss]));
    for (const r of a) assert.equal(b.get(r.step), r.loss, `step ${r.step}: ${r.loss} uninterrupted vs ${b.get(r.step)} resumed`);
  });
}

test('a run has one defence: --mu or --adversarial-training beside another defence is refused', () => {
  const base = request('x', DEFENCES[0]!);
  assert.throws(() => validateRequest({ ...base, mu: 0.02 }), /--mu is the trace defence's weight/);
  assert.throws(
    () => validateRequest({ ...base, adversarialTraining: { epsilon: 0.1, steps: 2, stepSize: 0.05, ratio: 1 } }),
    /choose one/,
  );
  assert.throws(() => validateRequest({ ...base, defence: { ...DEFENCES[1]!, epsilon: 2 } as DefenceConfig }), /epsilon/);
  validateRequest(base);
});
