import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { SweepEval, TransferEval } from '../../src/runs/evals';
import { requestBase } from '../../src/cli/commands/evalShared';
import { Progress } from '../../src/cli/output';
import { useEngineBackend, tmpDir } from '../helpers';
import { makeTinyRun } from '../engine/eval/tinyRun';

/**
 * `--shard I/N` and `fim eval merge` as a user runs them: two shards of a sweep merged equal the
 * unsharded sweep's numbers and per-sample results; a transfer's shards merge into both runs;
 * bad shard flags and an incomplete merge exit with code 2 and say why. (Exactness for every
 * kind, images included, is tested in test/engine/eval/shard.test.ts.)
 */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

function json<T>(args: string[]): T {
  const r = fim([...args, '--json']);
  assert.equal(r.status, 0, `fim ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

let runA: string;
let runB: string;

before(async () => {
  await useEngineBackend();
  const store = tmpDir('fim-cli-shards-');
  runA = await makeTinyRun(store, { seed: 1, name: 'a', trainSamples: 1000 });
  runB = await makeTinyRun(store, { seed: 2, name: 'b', mu: 0.01, trainSamples: 1000 });
});

test('fim attack --shard 1/2 and 2/2, then fim eval merge: the unsharded sweep', () => {
  const sweep = ['attack', '--run', runA, '--attack', 'pgd', '--eps', '0.05,0.1', '--option', 'steps=3', '--samples', '24', '--batch', '5'];
  const whole = json<SweepEval>([...sweep, '--name', 'whole']);
  const s2 = json<{ shard: { index: number; count: number }; units: [number, number]; totalUnits: number; file: string }>([
    ...sweep,
    '--name',
    'parts',
    '--shard',
    '2/2',
  ]);
  assert.deepEqual(s2.shard, { index: 2, count: 2 });
  assert.equal(s2.units[1], s2.totalUnits);
  assert.ok(s2.units[0] % 5 === 0, 'a shard starts on a batch boundary');
  assert.match(s2.file, /evals\/\.shards\/parts\/2-of-2\.json$/);
  const early = fim(['eval', 'merge', '--run', runA, '--name', 'parts']);
  assert.equal(early.status, 2);
  assert.match(early.stderr, /has 1 of 2 shards; missing 1\/2/);
  const text = fim([...sweep, '--name', 'parts', '--shard', '1/2']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /when all 2 are written: fim eval merge --run .* --name parts/);
  const merged = json<SweepEval & { files: string[]; shards: number }>(['eval', 'merge', '--run', runA, '--name', 'parts']);
  assert.equal(merged.shards, 2);
  assert.deepEqual(merged.files, [path.join(runA, 'evals', 'parts.json')]);
  // `fim attack --json` names each budget `eps` too; the stored evaluation does not.
  assert.deepEqual(
    merged.results,
    whole.results.map(({ eps: _eps, ...r }: SweepEval['results'][number] & { eps?: number }) => r),
  );
  assert.deepEqual(merged.perSample, whole.perSample);
  assert.deepEqual(merged.provenance.sampleIndices, whole.provenance.sampleIndices);
  assert.equal(merged.provenance.shards?.count, 2);
});

test('a transfer is sharded in the --from run and merged into both runs', () => {
  const t = ['eval', 'transfer', '--from', runA, '--to', runB, '--attack', 'fgsm', '--eps', '0.2', '--samples', '20', '--batch', '4'];
  const whole = json<TransferEval & { files: string[] }>([...t, '--name', 'tw']);
  for (const s of ['1/3', '2/3', '3/3']) json([...t, '--name', 'tp', '--shard', s]);
  const merged = json<TransferEval & { files: string[] }>(['eval', 'merge', '--run', runA, '--name', 'tp']);
  assert.deepEqual(merged.files, [path.join(runA, 'evals', 'tp.json'), path.join(runB, 'evals', 'tp.json')]);
  assert.deepEqual(merged.results, whole.results);
});

test('bad shard flags and merge requests exit with code 2', () => {
  const cases: [string[], RegExp][] = [
    [['attack', '--run', runA, '--attack', 'fgsm', '--eps', '0.1', '--shard', '3/2'], /--shard: a shard is I\/N/],
    [['inspect', '--run', runA, '--shard', 'half'], /--shard: a shard is I\/N/],
    [['eval', 'merge', '--run', runA], /--name NAME is required/],
    [['eval', 'merge', '--name', 'x'], /--run DIR is required/],
    [['eval', 'merge', '--run', runA, '--name', 'nothing-here'], /no shards of evaluation "nothing-here"/],
  ];
  for (const [args, re] of cases) {
    const r = fim([...args, '--json']);
    assert.equal(r.status, 2, `fim ${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, re, `fim ${args.join(' ')}`);
    assert.equal(r.stdout, '');
  }
  // An evaluation command that does not handle shards refuses --shard rather than ignore it.
  assert.throws(
    () => requestBase({ shard: '1/2' }, 10, 'eval', ['new-kind'], new Progress()),
    /--shard: this evaluation cannot run as shards yet/,
  );
  assert.doesNotThrow(() => requestBase({ shard: '1/2' }, 10, 'eval', ['distance'], new Progress(), true));
  const help = fim(['eval', 'merge', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /fim eval merge --run DIR --name NAME/);
});
