import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readRun } from '../../src/runs/reader';
import type { RunSummary } from '../../src/runs/types';
import { tmpDir } from '../helpers';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

test('bad flags and values give a usage message and exit code 2', () => {
  for (const args of [
    ['train', '--epochs', 'x'],
    ['train', '--nope'],
    ['train', '--mu', '-1'],
    ['train', '--backend', 'tpu'],
    ['frobnicate'],
  ]) {
    const r = fim(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /fim/);
  }
  const missing = fim(['train', '--model', '/nonexistent/model.json', '--json']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /neither a built-in definition .* nor an existing file/);
  assert.equal(missing.stdout, '');
});

test('--help works for every command', () => {
  for (const c of ['train', 'runs', 'quickstart', 'backend']) {
    const r = fim([c, '--help']);
    assert.equal(r.status, 0, c);
    assert.match(r.stdout, new RegExp(`fim ${c}`));
  }
});

test('a run killed with SIGKILL mid-epoch stays readable, is incomplete, and --resume finishes it', async () => {
  const out = tmpDir();
  // 100 steps per epoch: long enough to kill reliably inside epoch 2 with the native kernels.
  const args = [
    'train',
    '--mu',
    '0.022',
    '--epochs',
    '2',
    '--batch',
    '32',
    '--limit-train',
    '3200',
    '--limit-test',
    '200',
    '--seed',
    '5',
    '--out',
    out,
    '--json',
  ];
  // Reference: the same run, uninterrupted.
  const ref = fim([...args, '--name', 'reference']);
  assert.equal(ref.status, 0, ref.stderr);
  const refSummary = JSON.parse(ref.stdout) as RunSummary;

  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args, '--name', 'killed'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let runDir = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Kill it once epoch 1 is checkpointed and epoch 2 is under way.
  const deadline = Date.now() + 300_000;
  for (;;) {
    assert.ok(Date.now() < deadline, `timed out waiting for epoch 2: ${stderr}`);
    const m = /run (\S+killed)/.exec(stderr);
    if (m) runDir = m[1]!;
    if (runDir && fs.existsSync(path.join(runDir, 'checkpoints', 'epoch-0001'))) {
      const status = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8'));
      if (status.step > 105) break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));

  const killed = readRun(runDir);
  assert.equal(killed.effectiveState, 'incomplete');
  assert.equal(killed.summary, null);
  assert.deepEqual(killed.problems, []);
  const listed = fim(['runs', '--out', out, '--json']);
  assert.equal(listed.status, 0);
  const runs = JSON.parse(listed.stdout).runs as { id: string; effectiveState: string }[];
  assert.equal(runs.find((r) => r.id === path.basename(runDir))!.effectiveState, 'incomplete');

  const resumed = fim(['train', '--resume', runDir, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const s = JSON.parse(resumed.stdout) as RunSummary;
  assert.equal(s.state, 'completed');
  assert.equal(s.epochsCompleted, 2);
  assert.equal(readRun(runDir).effectiveState, 'completed');
  // Resuming from the epoch-1 checkpoint replays epoch 2 exactly as the uninterrupted run did
  // (same data order, weights, BN statistics and Adam state; deterministic kernels).
  assert.equal(s.testMeanTraceGs, refSummary.testMeanTraceGs);
  assert.equal(s.testAccuracy, refSummary.testAccuracy);

  const again = fim(['train', '--resume', runDir]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already completed all 2 epochs/);
});

test('--json prints exactly one JSON object with the summary fields', () => {
  const out = tmpDir();
  const r = fim([
    'train',
    '--mu',
    '0',
    '--epochs',
    '1',
    '--batch',
    '64',
    '--limit-train',
    '256',
    '--limit-test',
    '100',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as RunSummary;
  for (const k of ['runDir', 'testAccuracy', 'testMeanTraceGs', 'backend', 'samplesPerSecond', 'wallSeconds'] as const)
    assert.ok(s[k] !== undefined && s[k] !== null, k);
  assert.ok(s.testAccuracy! >= 0 && s.testAccuracy! <= 1);
  assert.ok(fs.existsSync(s.runDir));
});
