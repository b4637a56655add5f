import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { useEngineBackend, tmpDir } from '../helpers';
import { makeTinyRun } from '../engine/eval/tinyRun';

/** `fim eval autoattack` and the AutoAttack column of `fim runs`, as a user runs them. */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

let store: string;
let runDir: string;

before(async () => {
  await useEngineBackend();
  store = tmpDir('fim-cli-aa-');
  runDir = await makeTinyRun(store, { seed: 1, name: 'aa', trainSamples: 1000 });
});

test('fim eval autoattack --json: robustAccuracy at the top with its interval, the cascade, which attack broke each sample', () => {
  const args = ['eval', 'autoattack', '--run', runDir, '--norm', 'linf', '--eps', '0.05', '--samples', '12', '--version', 'custom'];
  const cheap = [
    '--attacks',
    'apgd-ce,fab-t',
    '--option',
    'apgd-ce.steps=10',
    '--option',
    'fab-t.steps=10',
    '--option',
    'fab-t.targetClasses=2',
  ];
  const r = fim([...args, ...cheap, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(typeof out.robustAccuracy, 'number');
  const ci = out.robustAccuracyCi as number[];
  assert.ok(ci[0]! <= (out.robustAccuracy as number) && (out.robustAccuracy as number) <= ci[1]!);
  assert.deepEqual(
    (out.cascade as { attack: string }[]).map((s) => s.attack),
    ['apgd-ce', 'fab-t'],
  );
  assert.equal((out.perSample as unknown[]).length, 12);
  assert.equal(typeof (out.provenance as { wallSeconds: number }).wallSeconds, 'number');
  assert.ok(fs.existsSync(out.file as string));
  assert.equal(out.file, path.join(runDir, 'evals', 'autoattack-linf.json'));
  // The human-readable table, and `fim runs` shows the verdict.
  const text = fim([...args, ...cheap, '--name', 'aa-text']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /robust accuracy \d+\.\d\d% \[/);
  const runs = fim(['runs', '--out', store]);
  assert.match(runs.stdout, /AutoAttack/);
  assert.match(runs.stdout, /% l∞ 0\.05/);
  const listed = JSON.parse(fim(['runs', '--out', store, '--json']).stdout) as {
    runs: { autoattack: { robustAccuracy: number } | null }[];
  };
  assert.equal(typeof listed.runs[0]!.autoattack!.robustAccuracy, 'number');
});

test('fim eval autoattack: bad flags are usage or input errors (exit code 2)', () => {
  const base = ['eval', 'autoattack', '--run', runDir];
  const cases: [string[], RegExp][] = [
    [[...base, '--eps', '0.1'], /--norm must be linf or l2/],
    [[...base, '--norm', 'linf'], /--eps needs one budget > 0/],
    [[...base, '--norm', 'linf', '--eps', '0'], /--eps needs one budget > 0/],
    [[...base, '--norm', 'linf', '--eps', '0.1', '--version', 'plus'], /--version must be standard or custom/],
    [[...base, '--norm', 'linf', '--eps', '0.1', '--attacks', 'apgd-ce'], /need --version custom/],
    [[...base, '--norm', 'linf', '--eps', '0.1', '--version', 'custom', '--attacks', 'pgd-l2'], /an l2 attack/],
    [['eval', 'autoattack', '--norm', 'linf', '--eps', '0.1'], /--run DIR is required/],
    [[...base, '--norm', 'linf', '--eps', '0.1', '--shard', '1/2', '--curve-samples', '4'], /--curve-samples needs all samples together/],
    [[...base, '--norm', 'linf', '--eps', '0.1', '--shard', '0/2'], /--shard: a shard is I\/N/],
  ];
  for (const [args, re] of cases) {
    const r = fim([...args, '--json']);
    assert.equal(r.status, 2, `fim ${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, re, `fim ${args.join(' ')}`);
    assert.equal(r.stdout, '', 'nothing on stdout');
  }
  const help = fim(['eval', 'autoattack', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /fim eval autoattack --run DIR --norm linf\|l2 --eps E/);
});

test('fim eval autoattack --shard I/N, then fim eval merge: the evaluation of all samples', () => {
  const args = ['eval', 'autoattack', '--run', runDir, '--norm', 'l2', '--eps', '1', '--samples', '12', '--batch', '4', '--name', 'aa-sh'];
  const cheap = ['--version', 'custom', '--attacks', 'apgd-ce,square', '--option', 'apgd-ce.steps=5', '--option', 'square.queries=20'];
  for (const shard of ['2/2', '1/2']) {
    const r = fim([...args, ...cheap, '--shard', shard, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { shard: { index: number }; totalUnits: number };
    assert.equal(out.totalUnits, 12);
  }
  const m = fim(['eval', 'merge', '--run', runDir, '--name', 'aa-sh', '--json']);
  assert.equal(m.status, 0, m.stderr);
  const merged = JSON.parse(m.stdout) as { kind: string; samples: number; robustAccuracy: number; cascade: { attack: string }[] };
  assert.equal(merged.kind, 'autoattack');
  assert.equal(merged.samples, 12);
  assert.deepEqual(
    merged.cascade.map((s) => s.attack),
    ['apgd-ce-l2', 'square-l2'],
  );
  assert.ok(fs.existsSync(path.join(runDir, 'evals', 'aa-sh.json')));
});
