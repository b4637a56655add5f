/**
 * The engine process as the extension drives it, over JSON-RPC: malformed parameters of every
 * request are answered with InvalidParams naming the field (before any work), evaluation names
 * that would escape evals/ are refused, and an untrusted workspace cannot make the engine run its
 * code or read outside it, however the request or a run config it reads names that code.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { AttackSweep, EngineErrorCode, Initialize, Inspect, Resume, RunAutoAttack, StopJob, Train } from '../../src/protocol/engine';
import { PARAMS_SCHEMAS } from '../../src/protocol/engineParams';
import * as protocol from '../../src/protocol/engine';
import { writeJsonAtomic } from '../../src/runs/atomic';
import { runFile } from '../../src/runs/paths';
import { bundled } from '../cliBundle';
import { makeTinyRun } from './eval/tinyRun';
import { tmpDir, treeDigest, useEngineBackend } from '../helpers';

interface Engine {
  conn: MessageConnection;
  child: ChildProcess;
}

async function startEngine(cwd: string, trusted: boolean | undefined): Promise<Engine> {
  const script = await bundled('engine');
  const child = spawn(process.execPath, [script], { cwd, env: { ...process.env, FIM_BACKEND: 'wasm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  await conn.sendRequest(Initialize, { protocolVersion: 1, backend: 'wasm', ...(trusted === undefined ? {} : { trusted }) });
  return { conn, child };
}

function stop(e: Engine): void {
  e.conn.dispose();
  e.child.kill('SIGKILL');
}

/** The error a request is answered with (the test fails if it succeeds). */
async function errorOf(p: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ResponseError, `a JSON-RPC error, got ${String(e)}`);
    return e;
  }
  assert.fail('the request succeeded');
}

let workspace: string;
let outside: string;
let target: string;
let marker: string;

before(async () => {
  await useEngineBackend();
  workspace = tmpDir('fim-ws-');
  outside = tmpDir('fim-outside-');
  target = await makeTinyRun(path.join(workspace, '.fim', 'runs'), { name: 'target', trainSamples: 300 });
  marker = path.join(outside, 'the-workspace-code-ran');
  // A model module shipped in the workspace: running it leaves a marker outside the workspace.
  fs.writeFileSync(
    path.join(workspace, 'evil.js'),
    `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); module.exports = () => { throw 'evil.js ran'; };\n`,
  );
  // A run directory shipped in the repository: no checkpoint, so resuming it rebuilds its model
  // from config.model, relative to the workspace.
  const evil = path.join(workspace, '.fim', 'runs', '2026-01-01T00-00-00-evil');
  fs.mkdirSync(evil, { recursive: true });
  const config = JSON.parse(fs.readFileSync(runFile(target, 'config'), 'utf8')) as Record<string, unknown>;
  writeJsonAtomic(runFile(evil, 'config'), { ...config, name: 'evil', model: 'evil.js', trainSamples: 64, testSamples: 32 });
  writeJsonAtomic(runFile(evil, 'status'), { state: 'incomplete', startedAt: '', updatedAt: '', epoch: 0, step: 0, totalSteps: 2 });
  // A run inside the workspace whose config names a dataset directory outside it.
  const peek = path.join(workspace, '.fim', 'runs', '2026-01-01T00-00-01-peek');
  fs.cpSync(target, peek, { recursive: true });
  writeJsonAtomic(runFile(peek, 'config'), { ...config, dataset: 'folder', dataDir: outside });
  // A link inside the workspace to a run outside it.
  const away = path.join(outside, 'away');
  fs.cpSync(target, away, { recursive: true });
  fs.symlinkSync(away, path.join(workspace, '.fim', 'runs', 'linked'));
});

test('every request of the protocol has a parameter schema', () => {
  const methods = Object.values(protocol as Record<string, unknown>)
    .filter(
      (v): v is { method: string; numberOfParams: number } => typeof v === 'object' && v !== null && 'method' in v && 'numberOfParams' in v,
    )
    .filter((t) => t.constructor.name.startsWith('RequestType') && t.numberOfParams > 0)
    .map((t) => t.method)
    .sort();
  assert.deepEqual(methods, Object.keys(PARAMS_SCHEMAS).sort());
});

describe('malformed parameters', () => {
  let e: Engine;
  before(async () => (e = await startEngine(workspace, true)));
  after(() => stop(e));

  const sweep = { jobId: 'j', runDir: '', attack: 'fgsm', budgets: [0.1], samples: 4 };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'budgets as a string',
      () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, budgets: 'x' } as never),
      /budgets: expected a list of numbers/,
    ],
    [
      'a budget that is not a number',
      () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, budgets: [0.1, 'a'] } as never),
      /budgets\[1\]: expected a number/,
    ],
    ['a negative budget', () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, budgets: [-1] }), /budgets\[0\]: must be ≥ 0/],
    ['no budgets', () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, budgets: [] }), /budgets: needs at least one budget/],
    ['samples 1.5', () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, samples: 1.5 }), /samples: must be an integer/],
    ['no runDir', () => e.conn.sendRequest(Inspect, { jobId: 'j', samples: 4 } as never), /runDir: is required/],
    [
      'an AutoAttack norm l1',
      () => e.conn.sendRequest(RunAutoAttack, { jobId: 'j', runDir: target, norm: 'l1', epsilon: 0.1, samples: 4 } as never),
      /norm: expected linf or l2/,
    ],
    [
      'an AutoAttack budget of 0',
      () => e.conn.sendRequest(RunAutoAttack, { jobId: 'j', runDir: target, norm: 'linf', epsilon: 0, samples: 4 }),
      /epsilon: must be > 0/,
    ],
    [
      'an eval name ..',
      () => e.conn.sendRequest(Inspect, { jobId: 'j', runDir: target, samples: 4, name: '..' }),
      /name: evaluation name "\.\." is not allowed/,
    ],
    [
      'an eval name .',
      () => e.conn.sendRequest(AttackSweep, { ...sweep, runDir: target, name: '.' }),
      /name: evaluation name "\." is not allowed/,
    ],
    [
      'train without epochs',
      () =>
        e.conn.sendRequest(Train, {
          jobId: 'j',
          model: 'convnet',
          dataset: 'mnist',
          mu: 0,
          batchSize: 8,
          learningRate: 1e-3,
          seed: 0,
          storeDir: workspace,
        } as never),
      /epochs: is required/,
    ],
    [
      'a learning rate of NaN',
      () =>
        e.conn.sendRequest(Train, {
          jobId: 'j',
          model: 'convnet',
          dataset: 'mnist',
          mu: 0,
          epochs: 1,
          batchSize: 8,
          learningRate: NaN,
          seed: 0,
          storeDir: workspace,
        }),
      /learningRate: /,
    ],
    [
      'adversarial training steps as text',
      () =>
        e.conn.sendRequest(Train, {
          jobId: 'j',
          model: 'convnet',
          dataset: 'mnist',
          mu: 0,
          epochs: 1,
          batchSize: 8,
          learningRate: 1e-3,
          seed: 0,
          storeDir: workspace,
          adversarialTraining: { epsilon: 0.3, steps: 'ten', stepSize: 0.1, ratio: 1 },
        } as never),
      /adversarialTraining\.steps: expected a number/,
    ],
    ['a NUL in a path', () => e.conn.sendRequest(Resume, { jobId: 'j', runDir: 'a\0b' }), /runDir: must not contain a NUL character/],
    ['stop without a job id', () => e.conn.sendRequest(StopJob, {} as never), /jobId: is required/],
    ['params that are not an object', () => e.conn.sendRequest(Resume, null as never), /params: /],
    [
      'an unknown backend',
      () => e.conn.sendRequest(Initialize, { protocolVersion: 1, backend: 'tpu' } as never),
      /backend: expected one of auto/,
    ],
  ];
  for (const [name, send, message] of cases) {
    test(`${name}: InvalidParams naming the field`, async () => {
      const before = treeDigest(target);
      const err = await errorOf(send());
      assert.equal(err.code, ErrorCodes.InvalidParams, err.message);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /is not a function|Cannot read properties/);
      assert.equal(treeDigest(target), before, 'the run is untouched');
    });
  }
});

describe('an untrusted workspace', () => {
  let e: Engine;
  before(async () => (e = await startEngine(workspace, false)));
  after(() => stop(e));
  const runs = () => path.join(workspace, '.fim', 'runs');

  test('resuming a shipped run without a checkpoint does not run the model module its config names', async () => {
    const err = await errorOf(e.conn.sendRequest(Resume, { jobId: 'r1', runDir: path.join(runs(), '2026-01-01T00-00-00-evil') }));
    assert.equal(err.code, EngineErrorCode.InputError);
    assert.match(err.message, /not trusted: .*config\.json names the model definition "evil\.js"/);
    assert.ok(!fs.existsSync(marker), 'evil.js did not run');
  });

  test('training a workspace model module or model.json is refused', async () => {
    const base = {
      mu: 0,
      epochs: 1,
      batchSize: 8,
      learningRate: 1e-3,
      seed: 0,
      dataset: 'mnist',
      storeDir: runs(),
      limitTrain: 16,
      limitTest: 8,
    };
    for (const model of ['evil.js', path.join(workspace, 'evil.js'), path.join(workspace, 'model.json')]) {
      const err = await errorOf(e.conn.sendRequest(Train, { jobId: `t-${model}`, model, ...base }));
      assert.equal(err.code, EngineErrorCode.InputError);
      assert.match(err.message, /only built-in definitions and ONNX files in the workspace are loaded in restricted mode/);
    }
    assert.ok(!fs.existsSync(marker), 'evil.js did not run');
  });

  test('a run store, a run or a dataset directory outside the workspace is refused, links resolved', async () => {
    const base = {
      mu: 0,
      epochs: 1,
      batchSize: 8,
      learningRate: 1e-3,
      seed: 0,
      dataset: 'mnist',
      model: 'convnet',
      limitTrain: 16,
      limitTest: 8,
    };
    let err = await errorOf(e.conn.sendRequest(Train, { jobId: 't-out', ...base, storeDir: path.join(outside, 'store') }));
    assert.match(err.message, /the run store .* is outside the workspace/);
    err = await errorOf(e.conn.sendRequest(Inspect, { jobId: 'i-out', runDir: path.join(outside, 'away'), samples: 4 }));
    assert.match(err.message, /the run directory .* is outside the workspace/);
    err = await errorOf(e.conn.sendRequest(Inspect, { jobId: 'i-link', runDir: path.join(runs(), 'linked'), samples: 4 }));
    assert.match(err.message, /the run directory .* is outside the workspace/);
    err = await errorOf(
      e.conn.sendRequest(Inspect, { jobId: 'i-peek', runDir: path.join(runs(), '2026-01-01T00-00-01-peek'), samples: 4 }),
    );
    assert.match(err.message, /the dataset directory that .*config\.json names, .* is outside the workspace/);
    assert.ok(!fs.existsSync(path.join(outside, 'store')), 'no store was made outside');
  });

  test('built-in models and the workspace’s own runs still work', async () => {
    const r = await e.conn.sendRequest(Inspect, { jobId: 'i-ok', runDir: target, samples: 4, name: 'restricted' });
    assert.ok(fs.existsSync(r.evalFile));
  });
});

test('initialize without `trusted` is untrusted; the same resume in a trusted workspace does run the module', async () => {
  const evilRun = path.join(workspace, '.fim', 'runs', '2026-01-01T00-00-00-evil');
  const silent = await startEngine(workspace, undefined);
  try {
    const err = await errorOf(silent.conn.sendRequest(Resume, { jobId: 'r2', runDir: evilRun }));
    assert.match(err.message, /not trusted/);
    assert.ok(!fs.existsSync(marker));
  } finally {
    stop(silent);
  }
  // The control: trusted, the engine loads what the config names, so the refusal above was the trust check.
  const trusted = await startEngine(workspace, true);
  try {
    const err = await errorOf(trusted.conn.sendRequest(Resume, { jobId: 'r3', runDir: evilRun }));
    assert.match(err.message, /evil\.js ran/);
    assert.ok(fs.existsSync(marker), 'trusted: the module ran');
  } finally {
    stop(trusted);
    fs.rmSync(marker, { force: true });
  }
});
