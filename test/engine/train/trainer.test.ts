import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { readMetrics, readRun } from '../../../src/runs/reader';
import { parseFimlog } from '../../../src/runs/fimlog';
import { listCheckpoints } from '../../../src/engine/train/checkpoint';
import { epochOrder, train, TrainingError, type TrainRequest } from '../../../src/engine/train/trainer';
import { tmpDir, useEngineBackend } from '../../helpers';

const store = tmpDir();
const base: TrainRequest = {
  model: 'convnet',
  dataset: 'mnist',
  mu: 0,
  epochs: 1,
  batchSize: 32,
  learningRate: 1e-3,
  seed: 3,
  limitTrain: 1500,
  limitTest: 500,
  storeDir: store,
  logEvery: 10,
};

before(async () => {
  await useEngineBackend();
});

test('epoch order is a seeded permutation that differs between epochs', () => {
  const a = epochOrder(100, 1, 0);
  assert.deepEqual(
    Array.from(a).sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.deepEqual(Array.from(epochOrder(100, 1, 0)), Array.from(a));
  assert.notDeepEqual(Array.from(epochOrder(100, 1, 1)), Array.from(a));
  assert.notDeepEqual(Array.from(epochOrder(100, 2, 0)), Array.from(a));
});

let baseline: Awaited<ReturnType<typeof train>>;

test('a short baseline run on 1,500 MNIST samples reaches ≥ 70% test accuracy and writes a complete run', async () => {
  const progress: number[] = [];
  baseline = await train(base, { onProgress: (p) => progress.push(p.step) });
  assert.equal(baseline.state, 'completed');
  assert.ok(baseline.testAccuracy! >= 0.7, `test accuracy ${baseline.testAccuracy}`);
  const dir = baseline.runDir;
  for (const f of ['config.json', 'status.json', 'metrics.jsonl', 'train.fimlog', 'summary.json'])
    assert.ok(fs.existsSync(path.join(dir, f)), f);
  const info = readRun(dir);
  assert.equal(info.effectiveState, 'completed');
  assert.equal(info.config!.trainSamples, 1500);
  assert.equal(info.config!.mu, 0);
  assert.deepEqual(listCheckpoints(dir), ['epoch-0001']);
  for (const f of ['model.json', 'weights.bin', 'optimizer.bin', 'state.json'])
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'epoch-0001', f)), f);
  const m = readMetrics(dir);
  assert.equal(m.skippedLines, 0);
  const steps = m.records.filter((r) => r.kind === 'step');
  assert.equal(steps.length, 5); // 47 steps, logged every 10 and at the end
  assert.equal(m.records.filter((r) => r.kind === 'epoch').length, 1);
  const log = parseFimlog(fs.readFileSync(path.join(dir, 'train.fimlog'), 'utf8'));
  assert.equal(log.filter((r) => r.kind === 'step').length, 5);
  assert.equal(log.find((r) => r.kind === 'epoch')!.fields.test_acc, Number(baseline.testAccuracy!.toPrecision(6)));
  assert.equal(progress.at(-1), 47);
  assert.ok(baseline.samplesPerSecond! > 0 && baseline.backend.length > 0);
});

test('μ > 0 gives a lower test-set tr G_s than μ = 0 on the same seed, near the per-sample optimum', async () => {
  const defended = await train({ ...base, mu: 0.022 }, {});
  assert.equal(defended.state, 'completed');
  assert.ok(defended.testMeanTraceGs! < baseline.testMeanTraceGs!, `${defended.testMeanTraceGs} vs ${baseline.testMeanTraceGs}`);
  assert.ok(defended.testMedianTraceGs! < baseline.testMedianTraceGs!);
  // tr G_s ≥ K² = 100 always; the trace term holds it near its per-sample optimum (≈ 119).
  assert.ok(defended.testMeanTraceGs! >= 100 && defended.testMeanTraceGs! < 200, `${defended.testMeanTraceGs}`);
});

test('a loss that becomes NaN stops the run, says so, and keeps the last good checkpoint', async () => {
  // A user module whose custom layer turns NaN on its 16th training call (epoch 2 of 10-step epochs).
  const dir = tmpDir();
  const file = path.join(dir, 'nan-model.ts');
  fs.writeFileSync(
    file,
    `import * as tf from '@tensorflow/tfjs';
let calls = 0;
class NanAfter extends tf.layers.Layer {
  static className = 'NanAfter';
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training && ++calls > 15) return tf.mul(x, NaN);
    return tf.mul(x, 1);
  }
}
tf.serialization.registerClass(NanAfter);
export default (ctx: { inputShape: number[]; numClasses: number }) => tf.sequential({ layers: [
  tf.layers.flatten({ inputShape: ctx.inputShape }),
  tf.layers.dense({ units: ctx.numClasses }),
  new NanAfter({}),
] });
`,
  );
  const req = { ...base, model: file, epochs: 3, limitTrain: 320, limitTest: 64, logEvery: 2 };
  await assert.rejects(train(req, {}), (e: Error) => {
    assert.ok(e instanceof TrainingError, e.stack);
    assert.match(e.message, /loss became NaN at epoch 2, step 16; training stopped and the last good checkpoint epoch-0001 is kept/);
    const run = readRun(e.summary!.runDir);
    assert.equal(run.effectiveState, 'failed');
    assert.deepEqual(listCheckpoints(e.summary!.runDir), ['epoch-0001']);
    assert.match(fs.readFileSync(path.join(e.summary!.runDir, 'train.fimlog'), 'utf8'), /error msg="loss became NaN/);
    return true;
  });
});
