import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { EngineClient, newJobId, type EngineLaunch } from '../../src/extension/engineProcess';
import { EngineErrorCode, RunAutoAttack, Train, type JobProgressParams } from '../../src/protocol/engine';
import type { AutoAttackEval } from '../../src/runs/evals';
import { readJsonFile } from '../../src/runs/reader';
import { tmpDir } from '../helpers';

/** `fim/autoattack` through the engine process, as "FIM: Run AutoAttack" calls it: progress, result, cancel. */
const root = path.resolve(__dirname, '../..');
const launch = (): EngineLaunch => ({
  command: process.execPath,
  args: ['--import', 'tsx', path.join(root, 'src/engine/main.ts')],
  env: { ...process.env },
  cwd: root,
});

describe('fim/autoattack over JSON-RPC', { timeout: 240_000 }, () => {
  const store = tmpDir();
  const progress: JobProgressParams[] = [];
  let client: EngineClient;
  let runDir: string;
  before(async () => {
    client = new EngineClient(launch, () => ({ protocolVersion: 1, backend: 'auto', trusted: true }), {
      onProgress: (p) => progress.push(p),
    });
    await client.start();
    const { summary } = await client.job(Train, {
      jobId: newJobId('train'),
      model: 'convnet',
      dataset: 'mnist',
      mu: 0,
      epochs: 1,
      batchSize: 32,
      learningRate: 1e-3,
      seed: 0,
      limitTrain: 512,
      limitTest: 64,
      storeDir: store,
    });
    runDir = summary.runDir;
  });
  after(async () => {
    await client.dispose();
  });

  it('runs the cascade with progress naming the attack and the robust accuracy so far, and writes the evaluation', async () => {
    const jobId = newJobId('autoattack');
    const r = await client.job(RunAutoAttack, { jobId, runDir, norm: 'linf', epsilon: 0.3, samples: 8 });
    const ev = readJsonFile<AutoAttackEval>(r.evalFile)!;
    assert.equal(ev.kind, 'autoattack');
    assert.equal(path.basename(r.evalFile), 'autoattack-linf.json');
    assert.match(ev.provenance.command!, /^fim eval autoattack --run .* --norm linf --eps 0.3 --samples 8 \(VS Code\)$/);
    const mine = progress.filter((p) => p.jobId === jobId && p.phase === 'attack');
    assert.ok(
      mine.some((p) => /^apgd-ce \(1\/4\)/.test(p.message) && /robust accuracy so far/.test(p.message)),
      'progress names the attack',
    );
    assert.ok(mine.every((p) => p.fraction === undefined || (p.fraction >= 0 && p.fraction <= 1)));
  });

  it('stops when cancelled', async () => {
    const ac = new CancellationTokenSource();
    const done = client.job(
      RunAutoAttack,
      { jobId: newJobId('autoattack'), runDir, norm: 'l2', epsilon: 0.5, samples: 64, name: 'aa-cancel' },
      ac.token,
    );
    setTimeout(() => ac.cancel(), 300);
    await assert.rejects(done, (e: unknown) => e instanceof ResponseError && e.code === EngineErrorCode.Cancelled);
    assert.ok(!fs.existsSync(path.join(runDir, 'evals', 'aa-cancel.json')));
  });
});
