import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { runAttack } from '../../../src/engine/attacks/run';
import { batchLabels, batchPixels } from '../../../src/engine/data/dataset';
import { Cancelled } from '../../../src/engine/attacks/attack';
import { distanceRun, foolbox2Units } from '../../../src/engine/eval/distance';
import { inspectJob, sweepJob } from '../../../src/engine/eval/engineJobs';
import { inspectRun } from '../../../src/engine/eval/inspect';
import { loadEvalRun, type EvalRun } from '../../../src/engine/eval/runModel';
import { sweepRun } from '../../../src/engine/eval/sweep';
import { transferRun } from '../../../src/engine/eval/transfer';
import { worstCaseRun } from '../../../src/engine/eval/worstCase';
import { TRUSTED } from '../../../src/engine/trust';
import { sampleFimStats } from '../../../src/engine/fim/sampleStats';
import { nllAtTemperature } from '../../../src/engine/fim/temperature';
import { readJsonFile, readRun } from '../../../src/runs/reader';
import type { AnyEval, DistanceEval, InspectEval, SweepEval } from '../../../src/runs/evals';
import { mean, median, wilsonInterval } from '../../../src/shared/stats';
import { tmpDir, useEngineBackend } from '../../helpers';
import { makeTinyRun } from './tinyRun';

let a: EvalRun;
let b: EvalRun;
const SEL = (count: number) => ({ split: 'test' as const, start: 0, count });

before(async () => {
  await useEngineBackend();
  const store = tmpDir('fim-evals-');
  a = await loadEvalRun(await makeTinyRun(store, { seed: 1, name: 'a' }));
  b = await loadEvalRun(await makeTinyRun(store, { seed: 2, name: 'b', mu: 0.01 }));
});

function readEval<T extends AnyEval>(file: string): T {
  const v = readJsonFile<T>(file);
  assert.ok(v, `${file} is readable JSON`);
  return v;
}

function checkPng(evalFile: string, rel: string, size: number): void {
  const png = PNG.sync.read(fs.readFileSync(path.join(path.dirname(evalFile), rel)));
  assert.equal(png.width, size);
  assert.equal(png.height, size);
}

test('provenance: the newest checkpoint, the SHA-256 of its weights, the exact samples', async () => {
  const { file, result } = await sweepRun(a, {
    attack: 'fgsm',
    budgets: [0.1],
    selection: { split: 'test', start: 5, count: 10 },
    seed: 3,
    examples: 0,
  });
  const p = result.provenance;
  const weights = fs.readFileSync(path.join(a.runDir, 'checkpoints', p.checkpoint, 'weights.bin'));
  assert.equal(p.checkpointSha256, createHash('sha256').update(weights).digest('hex'));
  assert.deepEqual(p.sampleIndices, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.equal(p.seed, 3);
  assert.equal(p.kind, 'sweep');
  assert.equal(path.dirname(file), path.join(a.runDir, 'evals'));
  assert.ok(readRun(a.runDir).evals.includes('sweep-fgsm'), 'the run lists the evaluation');
});

test('inspect: per-sample statistics equal a direct computation; means, medians, temperature, images', async () => {
  const { file } = await inspectRun(a, { selection: SEL(40), images: 3, heldOut: 500 });
  const stored = readEval<InspectEval>(file);
  assert.equal(stored.samples.length, 40);
  const d = a.data.test;
  const idx = Array.from({ length: 40 }, (_, i) => i);
  const direct = sampleFimStats(a.model, tf.tensor4d(batchPixels(d, idx), [40, 28, 28, 1]), batchLabels(d, idx), idx, {
    tau: 0.1,
    temperature: stored.temperatureScaling.temperature,
  });
  stored.samples.forEach((s, i) => {
    const r = direct.stats[i]!;
    assert.equal(s.index, i);
    assert.ok(Math.abs(s.lambdaMaxGx - r.lambdaMaxGx) <= 1e-9 * r.lambdaMaxGx);
    assert.ok(Math.abs(s.traceGs - r.traceGs) <= 1e-9 * r.traceGs);
    assert.ok(Math.abs(s.scaled!.lambdaMaxGx - r.scaled!.lambdaMaxGx) <= 1e-9 * r.scaled!.lambdaMaxGx);
  });
  assert.ok(Math.abs(stored.mean.lambdaMaxGx - mean(stored.samples.map((s) => s.lambdaMaxGx))) < 1e-9 * stored.mean.lambdaMaxGx);
  assert.equal(stored.median.traceGs, median(stored.samples.map((s) => s.traceGs)));
  assert.equal(stored.accuracy, stored.samples.filter((s) => s.predicted === s.label).length / 40);
  // The temperature minimises the held-out NLL (test samples 9500..9999, disjoint from the inspected ones).
  const t = stored.temperatureScaling;
  assert.equal(t.heldOutSamples, 500);
  assert.equal(t.heldOut, 'test[9500..9999]');
  const hi = Array.from({ length: 500 }, (_, i) => 9500 + i);
  const z = tf.tidy(() => (a.model.apply(tf.tensor4d(batchPixels(d, hi), [500, 28, 28, 1])) as tf.Tensor).dataSync());
  const at = (T: number) => nllAtTemperature(z, batchLabels(d, hi), 10, T);
  assert.ok(at(t.temperature) <= at(t.temperature * 1.05) && at(t.temperature) <= at(t.temperature / 1.05));
  const drawn = stored.samples.filter((s) => s.image);
  assert.equal(drawn.length, 3);
  for (const s of drawn) {
    checkPng(file, s.image!, 112);
    checkPng(file, s.eigenImage!, 112);
  }
});

test('sweep: fooling ratio over correctly classified samples with Wilson CI; accuracy over all', async () => {
  const { file } = await sweepRun(a, { attack: 'bim-linf', budgets: [0.05, 0.15], selection: SEL(60), seed: 1, examples: 2 });
  const stored = readEval<SweepEval>(file);
  const d = a.data.test;
  const idx = Array.from({ length: 60 }, (_, i) => i);
  const x = batchPixels(d, idx);
  const y = batchLabels(d, idx);
  const pred = tf.tidy(() => tf.argMax(a.model.apply(tf.tensor4d(x, [60, 28, 28, 1])) as tf.Tensor, 1).dataSync());
  const correct = idx.filter((i) => pred[i] === y[i]);
  assert.equal(stored.correct, correct.length);
  assert.equal(stored.samples, 60);
  const xc = new Float32Array(correct.length * 784);
  correct.forEach((i, j) => xc.set(x.subarray(i * 784, (i + 1) * 784), j * 784));
  const direct = runAttack(
    'bim-linf',
    { model: a.model, x: xc, shape: [28, 28, 1], labels: Int32Array.from(correct, (i) => y[i]!) },
    [0.05, 0.15],
    { seed: 1 },
  );
  stored.results.forEach((r, bi) => {
    const fooled = direct.budgets[bi]!.success.reduce((s, v) => s + v, 0);
    assert.equal(r.fooled, fooled);
    assert.equal(r.foolingRatio, fooled / correct.length);
    assert.deepEqual(r.foolingRatioCi, wilsonInterval(fooled, correct.length));
    assert.ok(r.foolingRatioCi[0] <= r.foolingRatio && r.foolingRatio <= r.foolingRatioCi[1]);
    assert.equal(r.accuracy, (correct.length - fooled) / 60);
  });
  assert.equal(stored.examples.length, 4);
  for (const e of stored.examples) {
    for (const rel of [e.original, e.perturbation, e.adversarial]) checkPng(file, rel, 112);
    assert.ok(Math.abs(e.probsAdversarial.reduce((s, v) => s + v, 0) - 1) < 1e-5);
    assert.ok(e.distance <= e.budget + 1e-6);
  }
});

test('OSSA sweep reports unclipped results (the paper) and the clipped ones beside them', async () => {
  const { result } = await sweepRun(a, { attack: 'ossa', budgets: [1, 4], selection: SEL(30), examples: 0 });
  assert.equal(result.clip, false);
  assert.match(result.budgetUnit, /squared l2/);
  for (const r of result.results) {
    assert.ok(r.clipped, 'clipped fooling ratio present');
    assert.ok(Math.abs(r.meanDistance! - Math.sqrt(r.budget)) < 1e-4, 'unclipped perturbations have ‖η‖ = √ε');
  }
});

test('distance: natural norms and Foolbox-2 units (MSE, MAE, Linf, L0) per attack', async () => {
  assert.equal(foolbox2Units('l2', 28, 784), 1);
  assert.equal(foolbox2Units('l1', 78.4, 784), 0.1);
  assert.equal(foolbox2Units('linf', 0.3, 784), 0.3);
  assert.equal(foolbox2Units('l0', 12, 784), 12);
  const { file } = await distanceRun(a, { attacks: ['fgsm', 'fgm', 'deepfool'], selection: SEL(25) });
  const stored = readEval<DistanceEval>(file);
  for (const r of stored.results) {
    const ds = r.perSample!.map((p) => p.distance).filter((v): v is number => v !== null);
    assert.equal(r.found, ds.length);
    assert.equal(r.successRate, ds.length / r.samples);
    assert.ok(Math.abs(r.meanDistance - mean(ds)) < 1e-12);
    assert.ok(Math.abs(r.foolbox2.mean - mean(ds.map((v) => foolbox2Units(r.norm, v, 784)))) < 1e-12);
    assert.equal(r.foolbox2.unit, { l2: 'MSE', linf: 'Linf', l1: 'MAE', l0: 'L0' }[r.norm]);
    assert.ok(r.successRate > 0.9, `${r.attack} success ${r.successRate}`);
  }
  assert.deepEqual(
    stored.results.map((r) => r.attack),
    ['fgsm', 'fgm', 'deepfool'],
  );
});

test('transfer: both directions, stored in both runs', async () => {
  const { files, result } = await transferRun(a, b, { attack: 'fgsm', budget: 0.3, selection: SEL(40) });
  assert.equal(files.length, 2);
  assert.ok(files[0]!.startsWith(a.runDir) && files[1]!.startsWith(b.runDir));
  const [ab, ba] = result.results;
  assert.equal(ab!.sourceRunDir, a.runDir);
  assert.equal(ba!.sourceRunDir, b.runDir);
  for (const r of result.results) {
    assert.ok(r.samples <= r.crafted!);
    assert.ok(r.targetAccuracy >= 0 && r.targetAccuracy <= 1);
    assert.equal(r.sourceAccuracy, (r.crafted! - r.samples) / r.crafted!);
  }
  const other = readEval<typeof result>(files[1]!);
  assert.equal(other.provenance.runDir, b.runDir);
  assert.equal(other.otherRunDir, a.runDir);
  // The minimum-distance variant (the paper's Table 2 setting) runs too.
  const min = await transferRun(a, b, { attack: 'deepfool', selection: SEL(20) });
  assert.equal(min.result.results[0]!.budget, undefined);
});

test('worst case: a sample is broken if any attack breaks it (AutoAttack rule)', async () => {
  const { result } = await worstCaseRun(a, {
    attacks: ['fgsm', 'bim-linf', 'pgd-margin'],
    budgets: [0.05, 0.1],
    selection: SEL(40),
    seed: 1,
  });
  for (const r of result.results) {
    const per = Object.values(r.perAttackAccuracy);
    assert.ok(r.robustAccuracy <= Math.min(...per) + 1e-12);
    assert.ok(r.robustAccuracy <= result.cleanAccuracy!);
  }
  assert.ok(result.results[1]!.robustAccuracy <= result.results[0]!.robustAccuracy);
  await assert.rejects(worstCaseRun(a, { attacks: ['fgsm', 'fgm'], budgets: [0.1], selection: SEL(5) }), /attacks in one norm/);
});

test('a run without a checkpoint, or not a run at all, is a clear input error', async () => {
  const dir = tmpDir('fim-nock-');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ dataset: 'mnist', model: 'convnet' }));
  await assert.rejects(loadEvalRun(dir), /has no checkpoint yet/);
  await assert.rejects(loadEvalRun(tmpDir('fim-empty-')), /not a readable run directory/);
});

test('the engine-process entry points (fim/inspect, fim/attackSweep) write evals and honour cancellation', async () => {
  const messages: string[] = [];
  const ac = new AbortController();
  const sweep = await sweepJob(
    { jobId: 'j1', runDir: a.runDir, attack: 'fgsm', budgets: [0.1], samples: 10, name: 'sweep-engine' },
    (p) => messages.push(p.message),
    ac.signal,
    TRUSTED,
  );
  assert.equal(sweep.evalFile, path.join(a.runDir, 'evals', 'sweep-engine.json'));
  assert.ok(fs.existsSync(sweep.evalFile) && messages.length > 0);
  const ins = await inspectJob({ jobId: 'j2', runDir: a.runDir, samples: 5, name: 'inspect-engine' }, () => {}, ac.signal, TRUSTED);
  assert.ok(fs.existsSync(ins.evalFile));
  const stopped = new AbortController();
  stopped.abort();
  await assert.rejects(
    sweepJob(
      { jobId: 'j3', runDir: a.runDir, attack: 'fgsm', budgets: [0.1], samples: 10, name: 'sweep-cancelled' },
      () => {},
      stopped.signal,
      TRUSTED,
    ),
    Cancelled,
  );
  await assert.rejects(
    inspectJob({ jobId: 'j4', runDir: a.runDir, samples: 5, name: 'inspect-cancelled' }, () => {}, stopped.signal, TRUSTED),
    Cancelled,
  );
  assert.ok(
    !fs.existsSync(path.join(a.runDir, 'evals', 'sweep-cancelled.json')) &&
      !fs.existsSync(path.join(a.runDir, 'evals', 'inspect-cancelled.json')),
    'nothing written',
  );
});
