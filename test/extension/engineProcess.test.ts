import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { markRunIncomplete } from '../../src/runs/status';
import {
  EngineClient,
  EngineCrashedError,
  newJobId,
  RestartPolicy,
  type EngineLaunch,
  type EngineState,
} from '../../src/extension/engineProcess';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { Train } from '../../src/protocol/engine';
import { listRuns, readRun } from '../../src/runs/reader';
import { tmpDir } from '../helpers';

const root = path.resolve(__dirname, '../..');
const engineTs = path.join(root, 'src/engine/main.ts');

/** The engine from its TypeScript sources (tsx), so the test needs no build step. */
function launch(): EngineLaunch {
  return { command: process.execPath, args: ['--import', 'tsx', engineTs], env: { ...process.env }, cwd: root };
}

function trainParams(storeDir: string) {
  return {
    jobId: newJobId('train'),
    model: 'convnet',
    dataset: 'mnist',
    mu: 0.022,
    epochs: 1,
    batchSize: 32,
    learningRate: 1e-3,
    seed: 0,
    limitTrain: 256,
    limitTest: 64,
    storeDir,
  };
}

describe('RestartPolicy', () => {
  it('restarts up to maxRestarts crashes within the window, then gives up', () => {
    const p = new RestartPolicy(2, 1000);
    assert.equal(p.crashed(0), true);
    assert.equal(p.crashed(10), true);
    assert.equal(p.crashed(20), false);
  });
  it('forgets crashes older than the window', () => {
    const p = new RestartPolicy(1, 1000);
    assert.equal(p.crashed(0), true);
    assert.equal(p.crashed(2000), true);
    assert.equal(p.crashed(2500), false);
  });
});

describe('markRunIncomplete', () => {
  it('marks only running runs owned by the dead pid, atomically', () => {
    const dir = tmpDir();
    const status = { state: 'running', pid: 4242, startedAt: 'x', updatedAt: 'x', epoch: 0, step: 3, totalSteps: 10 };
    fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify(status));
    assert.equal(markRunIncomplete(dir, 1111, 'why'), false, 'another owner');
    assert.equal(markRunIncomplete(dir, 4242, 'engine died'), true);
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'));
    assert.equal(s.state, 'incomplete');
    assert.equal(s.message, 'engine died');
    assert.equal(s.step, 3);
    assert.equal(markRunIncomplete(dir, 4242, 'again'), false, 'not running any more');
  });
});

describe('engine process over JSON-RPC', { timeout: 240_000 }, () => {
  const store = tmpDir();
  const states: EngineState[] = [];
  const stderr: string[] = [];
  let client: EngineClient;
  before(() => {
    client = new EngineClient(
      launch,
      () => ({ protocolVersion: 1, backend: 'auto', trusted: true }),
      { onState: (s) => states.push(s), onStderr: (t) => stderr.push(t) },
      new RestartPolicy(1, 60_000),
    );
  });
  after(async () => {
    await client.dispose();
  });

  it('initialises and reports the backend, built-in models and datasets', async () => {
    const info = await client.start();
    assert.equal(info.pid, client.pid);
    assert.ok(['wasm', 'cpu', 'tfjs-node', 'tfjs-node-gpu'].includes(info.backend.name));
    assert.ok(info.models.some((m) => m.name === 'convnet'));
    assert.ok(info.datasets.some((d) => d.name === 'mnist'));
    assert.ok(stderr.join('').includes('engine'), 'engine logs go to stderr');
  });

  it('trains with progress notifications, and cancellation stops with a checkpoint', async () => {
    const progress: number[] = [];
    const c2 = new EngineClient(launch, () => ({ protocolVersion: 1, backend: 'auto', trusted: true }), {
      onProgress: (p) => progress.push(p.step ?? 0),
    });
    try {
      const params = { ...trainParams(store), limitTrain: 2048, epochs: 2 };
      const ac = new CancellationTokenSource();
      const done = c2.job(Train, params, ac.token);
      const t0 = Date.now();
      while (progress.length < 2 && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
      ac.cancel();
      const { summary } = await done;
      assert.equal(summary.state, 'stopped');
      assert.ok(summary.checkpoint, 'a checkpoint was written on stop');
      const run = readRun(summary.runDir);
      assert.equal(run.effectiveState, 'stopped');
      assert.ok(fs.existsSync(path.join(summary.runDir, 'checkpoints', summary.checkpoint)));
    } finally {
      await c2.dispose();
    }
  });

  it('fails a job whose engine is killed, marks its run incomplete and restarts the engine', async () => {
    const params = { ...trainParams(store), limitTrain: 4096, epochs: 3, name: 'killed' };
    const c3 = new EngineClient(
      launch,
      () => ({ protocolVersion: 1, backend: 'auto', trusted: true }),
      {
        onState: (s) => states.push(s),
        runsOwnedBy: (pid) =>
          listRuns(store)
            .filter((r) => r.status?.state === 'running' && r.status.pid === pid)
            .map((r) => r.dir),
      },
      new RestartPolicy(1, 60_000),
    );
    try {
      await c3.start();
      const firstPid = c3.pid!;
      const done = c3.job(Train, params);
      // Kill as soon as the run exists on disk, possibly before the engine announced it.
      let runDir: string | undefined;
      const t0 = Date.now();
      while (!runDir && Date.now() - t0 < 120_000) {
        runDir = listRuns(store).find((r) => r.config?.name === 'killed' && r.status?.state === 'running')?.dir;
        if (!runDir) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(runDir, 'job started');
      process.kill(firstPid, 'SIGKILL');
      await assert.rejects(
        done,
        (e: unknown) =>
          e instanceof EngineCrashedError && /killed by SIGKILL/.test(e.message) && e.runMarkedIncomplete && e.runDir === runDir,
      );
      const run = readRun(runDir);
      assert.equal(run.effectiveState, 'incomplete');
      assert.equal(run.status?.state, 'incomplete', 'status.json itself says incomplete');
      assert.ok(run.config, 'config still readable');
      const info = await c3.start();
      assert.notEqual(info.pid, firstPid, 'a new engine process');
      assert.ok(states.includes('crashed'));
    } finally {
      await c3.dispose();
    }
  });
});
