/**
 * The evaluations the extension runs through the engine process (fim/distance, fim/transfer,
 * fim/worstCase, fim/completeInspection), each in a worker thread: the same numbers as the engine
 * functions called directly, progress while the synchronous attacks run, and a stop that takes
 * effect mid-evaluation without writing anything.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { EngineClient, newJobId, type EngineLaunch } from '../../src/extension/engineProcess';
import {
  CheckSetup,
  CompleteInspection,
  Distance,
  EngineErrorCode,
  Inspect,
  Transfer,
  WorstCase,
  type JobProgressParams,
} from '../../src/protocol/engine';
import type { DistanceEval, InspectEval, TransferEval, WorstCaseEval } from '../../src/runs/evals';
import { distanceRun } from '../../src/engine/eval/distance';
import { inspectRun } from '../../src/engine/eval/inspect';
import { loadEvalRun } from '../../src/engine/eval/runModel';
import { transferRun } from '../../src/engine/eval/transfer';
import { worstCaseRun } from '../../src/engine/eval/worstCase';
import { tmpDir, useEngineBackend } from '../helpers';
import { makeTinyRun } from './eval/tinyRun';

const root = path.resolve(__dirname, '../..');
const launch = (): EngineLaunch => ({
  command: process.execPath,
  args: ['--import', 'tsx', path.join(root, 'src/engine/main.ts')],
  env: { ...process.env, FIM_BACKEND: 'wasm' },
  cwd: root,
});
const read = <T>(f: string) => JSON.parse(fs.readFileSync(f, 'utf8')) as T;
const sel = (count: number) => ({ split: 'test' as const, start: 0, count });

describe('evaluations through the engine process', { timeout: 600_000 }, () => {
  const store = tmpDir();
  const progress: JobProgressParams[] = [];
  let client: EngineClient;
  let base = '';
  let defended = '';

  before(async () => {
    await useEngineBackend();
    base = await makeTinyRun(store, { mu: 0, seed: 1, name: 'base' });
    defended = await makeTinyRun(store, { mu: 0.022, seed: 2, name: 'def' });
    // Trusted, as VS Code says for a trusted workspace: the runs are in a temporary folder, outside cwd.
    client = new EngineClient(launch, () => ({ protocolVersion: 1, backend: 'wasm', trusted: true }), {
      onProgress: (p) => progress.push(p),
    });
    await client.start();
  });
  after(async () => {
    await client?.dispose();
  });

  it('fim/distance gives the numbers distanceRun gives in-process', async () => {
    const r = await client.job(Distance, {
      jobId: newJobId('distance'),
      runDir: base,
      attacks: ['fgsm', 'deepfool'],
      samples: 12,
      name: 'd-engine',
    });
    const viaEngine = read<DistanceEval>(r.evalFile);
    const direct = (await distanceRun(await loadEvalRun(base), { attacks: ['fgsm', 'deepfool'], selection: sel(12), name: 'd-direct' }))
      .result;
    assert.deepEqual(
      viaEngine.results.map((x) => [x.attack, x.found, x.meanDistance, x.foolbox2.mean]),
      direct.results.map((x) => [x.attack, x.found, x.meanDistance, x.foolbox2.mean]),
    );
    assert.match(viaEngine.provenance.command ?? '', /^fim eval distance --run .* --attacks fgsm,deepfool --samples 12 --name d-engine/);
    assert.ok(progress.some((p) => p.jobId.startsWith('distance') && p.runDir === base && /deepfool/.test(p.message)));
  });

  it('fim/transfer writes into both runs, as transferRun does', async () => {
    const r = await client.job(Transfer, {
      jobId: newJobId('transfer'),
      fromRunDir: base,
      toRunDir: defended,
      attack: 'fgsm',
      budget: 0.2,
      samples: 16,
      name: 't-engine',
    });
    assert.deepEqual(r.evalFiles.map((f) => path.dirname(path.dirname(f))).sort(), [base, defended].sort());
    const viaEngine = read<TransferEval>(r.evalFile);
    const direct = (
      await transferRun(await loadEvalRun(base), await loadEvalRun(defended), {
        attack: 'fgsm',
        budget: 0.2,
        selection: sel(16),
        name: 't-direct',
      })
    ).result;
    assert.deepEqual(
      viaEngine.results.map((x) => [x.source, x.target, x.samples, x.targetAccuracy]),
      direct.results.map((x) => [x.source, x.target, x.samples, x.targetAccuracy]),
    );
  });

  it('fim/worstCase gives the robust accuracies worstCaseRun gives', async () => {
    const r = await client.job(WorstCase, {
      jobId: newJobId('worst'),
      runDir: defended,
      attacks: ['fgsm', 'bim-linf'],
      budgets: [0.05, 0.15],
      samples: 16,
      name: 'w-engine',
    });
    const viaEngine = read<WorstCaseEval>(r.evalFile);
    const direct = (
      await worstCaseRun(await loadEvalRun(defended), {
        attacks: ['fgsm', 'bim-linf'],
        budgets: [0.05, 0.15],
        selection: sel(16),
        name: 'w-direct',
      })
    ).result;
    assert.deepEqual(
      viaEngine.results.map((x) => [x.budget, x.robustAccuracy, x.perAttackAccuracy]),
      direct.results.map((x) => [x.budget, x.robustAccuracy, x.perAttackAccuracy]),
    );
    assert.ok(viaEngine.results[1]!.robustAccuracy <= viaEngine.results[0]!.robustAccuracy, 'a larger budget breaks at least as many');
  });

  it('fim/completeInspection draws the images an inspection left out, identical to drawing them at once', async () => {
    const r = await client.job(Inspect, { jobId: newJobId('inspect'), runDir: base, samples: 20, images: 3, name: 'i-partial' });
    const before = read<InspectEval>(r.evalFile);
    assert.equal(before.samples.filter((s) => s.image).length, 3);
    delete before.classNames;
    fs.writeFileSync(r.evalFile, JSON.stringify(before)); // as an inspection written before class names were stored
    const done = await client.job(CompleteInspection, { jobId: newJobId('complete'), runDir: base, evalName: 'i-partial' });
    assert.equal(done.rendered, 17);
    assert.equal(done.classNames, true);
    const after = read<InspectEval>(r.evalFile);
    assert.deepEqual(after.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(
      after.samples.map((s) => [s.index, s.lambdaMaxGx, s.traceGs]),
      before.samples.map((s) => [s.index, s.lambdaMaxGx, s.traceGs]),
      'statistics unchanged',
    );
    const full = await inspectRun(await loadEvalRun(base), { selection: sel(20), images: 20, name: 'i-full' });
    const fullSamples = new Map(read<InspectEval>(full.file).samples.map((s) => [s.index, s]));
    const evals = path.join(base, 'evals');
    for (const s of after.samples) {
      assert.ok(s.image && s.eigenImage, `sample ${s.index} has both images`);
      const f = fullSamples.get(s.index)!;
      assert.deepEqual(fs.readFileSync(path.join(evals, s.image)), fs.readFileSync(path.join(evals, f.image!)), `input of ${s.index}`);
      assert.deepEqual(
        fs.readFileSync(path.join(evals, s.eigenImage)),
        fs.readFileSync(path.join(evals, f.eigenImage!)),
        `eigen-direction of ${s.index}`,
      );
    }
    const again = await client.job(CompleteInspection, { jobId: newJobId('complete'), runDir: base, evalName: 'i-partial' });
    assert.equal(again.rendered, 0, 'nothing left to draw');
  });

  it('refuses to draw images from other weights than the inspected ones', async () => {
    const r = await client.job(Inspect, { jobId: newJobId('inspect'), runDir: defended, samples: 5, images: 0, name: 'i-other' });
    const ev = read<InspectEval>(r.evalFile);
    ev.provenance.checkpointSha256 = '0'.repeat(64);
    fs.writeFileSync(r.evalFile, JSON.stringify(ev));
    await assert.rejects(
      client.job(CompleteInspection, { jobId: newJobId('complete'), runDir: defended, evalName: 'i-other' }),
      (e: unknown) => e instanceof ResponseError && e.code === EngineErrorCode.InputError && /other weights/.test(e.message),
    );
  });

  it('stops an evaluation in the middle of its attack loop, and writes nothing', async () => {
    const jobId = newJobId('worst');
    const cts = new CancellationTokenSource();
    const job = client.job(
      WorstCase,
      { jobId, runDir: base, attacks: ['pgd', 'bim-linf'], budgets: [0.1, 0.2, 0.3], samples: 150, name: 'w-stopped' },
      cts.token,
    );
    const t0 = Date.now();
    while (!progress.some((p) => p.jobId === jobId && p.phase === 'attack') && Date.now() - t0 < 120_000)
      await new Promise((r) => setTimeout(r, 50));
    const stopAt = Date.now();
    cts.cancel();
    await assert.rejects(job, (e: unknown) => e instanceof ResponseError && e.code === EngineErrorCode.Cancelled);
    assert.ok(Date.now() - stopAt < 15_000, `stopped ${Date.now() - stopAt} ms after the request`);
    assert.equal(fs.existsSync(path.join(base, 'evals', 'w-stopped.json')), false);
    const attackProgress = progress.filter((p) => p.jobId === jobId && p.phase === 'attack');
    assert.ok(attackProgress.length >= 1, 'progress arrived while the attack ran');
  });

  it('fim/checkSetup loads the built-in dataset and names the ones that need a folder', async () => {
    const r = await client.request(CheckSetup);
    const mnist = r.datasets.find((d) => d.name === 'mnist');
    assert.equal(mnist?.status, 'ok');
    assert.match(mnist?.detail ?? '', /60000 train \/ 10000 test images of 28×28×1, 10 classes/);
    assert.ok(r.datasets.filter((d) => d.needsDataDir).every((d) => d.status === 'needs-folder'));
  });
});
