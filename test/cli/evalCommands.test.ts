import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { useEngineBackend, tmpDir } from '../helpers';
import { makeTinyRun } from '../engine/eval/tinyRun';

/** `fim inspect`, `fim attack`, `fim eval distance|transfer|worst-case` as a user runs them. */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

function json(args: string[]): Record<string, unknown> {
  const r = fim([...args, '--json']);
  assert.equal(r.status, 0, `fim ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

let runA: string;
let runB: string;

before(async () => {
  await useEngineBackend();
  const store = tmpDir('fim-cli-evals-');
  runA = await makeTinyRun(store, { seed: 1, name: 'a', trainSamples: 1000 });
  runB = await makeTinyRun(store, { seed: 2, name: 'b', mu: 0.01, trainSamples: 1000 });
});

test('fim inspect --json: per-sample statistics, means, medians and the temperature-scaled statistics', () => {
  const out = json(['inspect', '--run', runA, '--samples', '12', '--images', '2', '--held-out', '200']);
  const samples = out.samples as Record<string, number>[];
  assert.equal(samples.length, 12);
  for (const key of ['index', 'label', 'predicted', 'traceGs', 'lambdaMaxGs', 'lambdaMaxGx', 'klBudget'])
    assert.equal(typeof samples[0]![key], 'number', key);
  for (const agg of [out.mean, out.median] as Record<string, number>[])
    for (const key of ['traceGs', 'lambdaMaxGs', 'lambdaMaxGx']) assert.equal(typeof agg[key], 'number');
  const t = out.temperatureScaling as { temperature: number; mean: Record<string, number> };
  assert.ok(t.temperature > 0 && typeof t.mean.lambdaMaxGx === 'number');
  assert.ok(fs.existsSync(out.file as string));
  // Image paths are relative to evals/, in the version folder the JSON names (evals/inspect/<version>/).
  assert.match(String(samples[0]!.eigenImage), /^inspect\/v[0-9a-z]+-\d+\/sample-0-eigenvector\.png$/);
  assert.ok(fs.existsSync(path.join(runA, 'evals', String(samples[0]!.eigenImage))));
});

test('fim attack --attack ossa --eps 1,2,4,6 --json: {attack, samples, results: [{eps, foolingRatio, accuracy}]}', () => {
  const out = json(['attack', '--run', runA, '--attack', 'ossa', '--eps', '1,2,4,6', '--samples', '15']);
  assert.equal(out.attack, 'ossa');
  assert.equal(out.samples, 15);
  const results = out.results as Record<string, number>[];
  assert.deepEqual(
    results.map((r) => r.eps),
    [1, 2, 4, 6],
  );
  for (const r of results) {
    assert.ok(r.foolingRatio! >= 0 && r.foolingRatio! <= 1);
    assert.ok(r.accuracy! >= 0 && r.accuracy! <= 1);
  }
  // Human output: a table with the unit spelled out.
  const text = fim(['attack', '--run', runA, '--attack', 'fgsm', '--eps', '0.1', '--samples', '10', '--option', 'loss=margin']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /ε = l∞ norm/);
  assert.match(text.stdout, /fooling ratio/);
  assert.match(text.stderr, /wrote .*sweep-fgsm\.json/);
});

test('fim eval distance --json: {results: [{attack, norm, meanDistance, medianDistance, successRate}]}', () => {
  const out = json(['eval', 'distance', '--run', runA, '--attacks', 'fgsm,deepfool', '--samples', '8']);
  const results = out.results as Record<string, unknown>[];
  assert.deepEqual(
    results.map((r) => r.attack),
    ['fgsm', 'deepfool'],
  );
  assert.deepEqual(
    results.map((r) => r.norm),
    ['linf', 'l2'],
  );
  for (const r of results) for (const key of ['meanDistance', 'medianDistance', 'successRate']) assert.equal(typeof r[key], 'number', key);
});

test('fim eval transfer and worst-case', () => {
  const t = json(['eval', 'transfer', '--from', runA, '--to', runB, '--attack', 'fgsm', '--eps', '0.2', '--samples', '12']);
  assert.equal((t.results as unknown[]).length, 2);
  assert.equal((t.files as string[]).length, 2);
  const w = json(['eval', 'worst-case', '--run', runA, '--attacks', 'fgsm,bim-linf', '--eps', '0.05,0.1', '--samples', '12']);
  assert.equal((w.results as unknown[]).length, 2);
});

test('bad requests exit with code 2 and say what is wrong', () => {
  const noCkpt = tmpDir('fim-cli-nockpt-');
  fs.writeFileSync(path.join(noCkpt, 'config.json'), JSON.stringify({ dataset: 'mnist', model: 'convnet' }));
  const cases: [string[], RegExp][] = [
    [['attack', '--run', runA, '--attack', 'nosuch', '--eps', '1'], /unknown attack "nosuch"/],
    [['attack', '--run', runA, '--attack', 'ossa', '--eps', ''], /--eps needs a comma-separated list/],
    [['attack', '--run', runA, '--attack', 'ossa'], /--eps needs a comma-separated list/],
    [['attack', '--run', runA, '--attack', 'ossa', '--eps', '1,-2'], /budgets must be ≥ 0/],
    [['attack', '--run', noCkpt, '--attack', 'ossa', '--eps', '1'], /has no checkpoint yet/],
    [['attack', '--attack', 'ossa', '--eps', '1'], /--run DIR is required/],
    [['attack', '--run', runA, '--attack', 'ossa', '--eps', '1', '--option', 'bogus=1'], /has no option "bogus"/],
    [['attack', '--run', runA, '--attack', 'fgsm', '--eps', 'inf'], /unbounded budget only makes sense/],
    [['inspect', '--run', noCkpt], /has no checkpoint yet/],
    [['inspect', '--run', runA, '--samples', '0'], /--samples expects an integer ≥ 1/],
    [['eval', 'distance', '--run', runA, '--attacks', 'fgsm,nosuch'], /unknown attack "nosuch"/],
    [['eval', 'frobnicate'], /unknown evaluation "frobnicate"/],
    [['eval', 'worst-case', '--run', runA, '--attacks', 'fgsm', '--eps=-1'], /budgets must be ≥ 0/],
    // node's parser refuses a value that looks like a flag, with a hint to write --eps=-1.
    [['eval', 'worst-case', '--run', runA, '--attacks', 'fgsm', '--eps', '-1'], /--eps/],
  ];
  for (const [args, re] of cases) {
    const r = fim([...args, '--json']);
    assert.equal(r.status, 2, `fim ${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, re, `fim ${args.join(' ')}`);
    assert.equal(r.stdout, '', 'nothing on stdout');
  }
});

test('--help for the new commands', () => {
  for (const args of [
    ['inspect', '--help'],
    ['attack', '--help'],
    ['eval', '--help'],
    ['eval', 'distance', '--help'],
  ]) {
    const r = fim(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /fim (inspect|attack|eval)/);
  }
});
