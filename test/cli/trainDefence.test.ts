import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { defenceFromFlags } from '../../src/cli/trainFlags';
import { readRun } from '../../src/runs/reader';
import type { RunSummary } from '../../src/runs/types';
import { tmpDir } from '../helpers';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

test('--defence, --weight and --defence-option resolve to the run’s μ and defence', () => {
  assert.deepEqual(defenceFromFlags({}, 0.022), { mu: 0.022 });
  assert.deepEqual(defenceFromFlags({ mu: '0' }, 0.022), { mu: 0 });
  assert.deepEqual(defenceFromFlags({ defence: 'trace', weight: '0.01' }, 0.022), { mu: 0.01 });
  assert.deepEqual(defenceFromFlags({ defence: 'trace' }, 0.022), { mu: 0.022 });
  assert.deepEqual(defenceFromFlags({ defence: 'trades', weight: '3', options: ['steps=5', 'epsilon=0.2'] }, 0.022), {
    mu: 0,
    defence: { kind: 'trades', weight: 3, epsilon: 0.2, steps: 5, stepSize: 0.1 },
  });
  assert.deepEqual(defenceFromFlags({ defence: 'spectral' }, 0.022).defence?.kind, 'spectral');
});

test('bad defence flags are usage errors (exit code 2) that say what to do', () => {
  const cases: [string[], RegExp][] = [
    [['--defence', 'magic'], /--defence must be one of trace, spectral, trades, trace-scaled/],
    [['--weight', '1'], /--weight needs --defence/],
    [['--defence-option', 'steps=3'], /--defence-option needs --defence/],
    [['--defence', 'trades', '--mu', '0.1'], /--mu is the trace defence's weight/],
    [['--defence', 'trades', '--defence-option', 'fdStep=0.1'], /trades has no option "fdStep" \(it takes epsilon, steps, stepSize\)/],
    [['--defence', 'trades', '--defence-option', 'steps'], /key=value/],
    [['--defence', 'trades', '--defence-option', 'steps=2.5'], /steps must be a positive integer/],
    [['--defence', 'trace', '--defence-option', 'scale=2'], /trace has no option "scale" \(it takes none\)/],
    [['--defence', 'spectral', '--weight=-1'], /weight must be a finite number ≥ 0/],
    [['--defence', 'trades', '--adversarial-training'], /choose one/],
  ];
  for (const [args, re] of cases) {
    const r = fim(['train', ...args, '--limit-train', '16', '--limit-test', '16']);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '');
  }
  const help = fim(['train', '--help']);
  assert.match(help.stdout, /--defence KIND/);
  assert.match(help.stdout, /trace-scaled: .*options scale=1,probes=1,fdStep=0.01/);
});

test('fim train --defence trace-scaled writes the defence into config.json and names the run after it', () => {
  const out = tmpDir();
  const r = fim([
    'train',
    '--defence',
    'trace-scaled',
    '--weight',
    '0.02',
    '--defence-option',
    'probes=2',
    '--epochs',
    '1',
    '--batch',
    '16',
    '--limit-train',
    '32',
    '--limit-test',
    '16',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as RunSummary;
  assert.equal(summary.state, 'completed');
  assert.match(summary.name, /tracescaled0\.02/);
  const config = readRun(summary.runDir).config!;
  assert.deepEqual(config.defence, { kind: 'trace-scaled', weight: 0.02, scale: 1, probes: 2, fdStep: 0.01 });
  assert.equal(config.mu, 0);
  assert.match(r.stderr, /trace-scaled w=0\.02/);
  const runs = fim(['runs', '--out', out]);
  assert.match(runs.stdout, /trace-scaled w=0\.02/);
});
