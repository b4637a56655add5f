import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { distanceRun, distanceShard } from '../../../src/engine/eval/distance';
import { inspectRun, inspectShard } from '../../../src/engine/eval/inspect';
import { mergeEvalShards } from '../../../src/engine/eval/merge';
import { loadEvalRun, type EvalRun } from '../../../src/engine/eval/runModel';
import { blockOf, parseShardSpec, shardDir, shardRange, writtenShards, type ShardWritten } from '../../../src/engine/eval/shard';
import { sweepRun, sweepShard } from '../../../src/engine/eval/sweep';
import { transferRun, transferShard } from '../../../src/engine/eval/transfer';
import { worstCaseRun, worstCaseShard } from '../../../src/engine/eval/worstCase';
import type { AnyEval, ShardSpec, SweepEval } from '../../../src/runs/evals';
import { tmpDir, useEngineBackend } from '../../helpers';
import { makeTinyRun } from './tinyRun';

/**
 * Sharded evaluations: for every kind, N shards merged give exactly the unsharded evaluation —
 * the same per-sample results, counts, means, medians and intervals, and the same images — with
 * random attacks (PGD's random start) in batches that straddle the shard boundaries. Only the
 * provenance's time, wall seconds and command may differ. Then the merge's refusals.
 */
let a: EvalRun;
let b: EvalRun;
const SEL = (count: number) => ({ split: 'test' as const, start: 0, count });

before(async () => {
  await useEngineBackend();
  const store = tmpDir('fim-shards-');
  a = await loadEvalRun(await makeTinyRun(store, { seed: 1, name: 'a' }));
  b = await loadEvalRun(await makeTinyRun(store, { seed: 2, name: 'b', mu: 0.01 }));
});

/**
 * writeEval stores images under a per-write version folder (`<name>/v<time>-<pid>/`, see
 * eval/store.ts), so two computations of the same evaluation name them differently.
 */
const VERSION_SEGMENT = /(^|\/)v[0-9a-z]+-\d+\//;
const unversioned = (p: string) => p.replace(VERSION_SEGMENT, '$1');

/** The evaluation without what legitimately differs between two computations of it. */
function comparable(v: AnyEval): unknown {
  const c = JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? unversioned(x) : x))) as AnyEval & {
    provenance: Record<string, unknown>;
  };
  for (const k of ['createdAt', 'wallSeconds', 'command', 'shards']) delete c.provenance[k];
  if (c.kind === 'distance') for (const r of c.results) delete r.wallSeconds;
  return c;
}

function readJson(file: string): AnyEval {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AnyEval;
}

/** Every file under `dir`, by relative path, with its bytes. */
function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(unversioned(f.split(path.sep).join('/')), fs.readFileSync(p).toString('base64'));
  }
  return out;
}

/**
 * Runs `whole`, keeps its files, then the N shards and the merge under the same name, and checks
 * the merged files equal the unsharded ones (JSON and images).
 */
async function checkIdentical(
  label: string,
  runDirs: string[],
  name: string,
  whole: () => Promise<unknown>,
  shard: (s: ShardSpec) => Promise<ShardWritten>,
  count: number,
): Promise<ShardWritten[]> {
  await whole();
  const evalsOf = (dir: string) => path.join(dir, 'evals');
  const before = runDirs.map((d) => ({
    json: readJson(path.join(evalsOf(d), `${name}.json`)),
    images: filesUnder(path.join(evalsOf(d), name)),
  }));
  for (const d of runDirs) {
    fs.rmSync(path.join(evalsOf(d), `${name}.json`));
    fs.rmSync(path.join(evalsOf(d), name), { recursive: true, force: true });
  }
  const written: ShardWritten[] = [];
  // Out of order, as parallel jobs finish.
  for (let i = count; i >= 1; i--) written.push(await shard({ index: i, count }));
  const merged = mergeEvalShards(runDirs[0]!, name, 'fim eval merge (test)');
  assert.equal(merged.shards, count);
  assert.equal(merged.files.length, runDirs.length);
  runDirs.forEach((d, i) => {
    const after = readJson(path.join(evalsOf(d), `${name}.json`));
    assert.deepEqual(
      comparable(after),
      comparable(before[i]!.json),
      `${label}: merged evaluation in ${path.basename(d)} equals the unsharded one`,
    );
    assert.equal(after.provenance.shards?.count, count);
    assert.deepEqual([...filesUnder(path.join(evalsOf(d), name))].sort(), [...before[i]!.images].sort(), `${label}: the same images`);
  });
  return written;
}

test('shard ranges: whole batches, contiguous, covering every unit once, empty shards allowed', () => {
  for (const [total, block, count] of [
    [23, 4, 3],
    [100, 10, 7],
    [5, 10, 3],
    [0, 4, 2],
    [37, 1, 37],
  ] as const) {
    let next = 0;
    for (let i = 1; i <= count; i++) {
      const [u0, u1] = shardRange(total, block, { index: i, count });
      assert.equal(u0, next, `${total}/${block}/${count}: shard ${i} starts where ${i - 1} ended`);
      assert.ok(u1 >= u0);
      assert.ok(u0 % block === 0, 'starts on a batch boundary');
      next = u1;
    }
    assert.equal(next, total);
  }
  assert.equal(blockOf([4, 6]), 12);
  assert.equal(blockOf([100]), 100);
  assert.deepEqual(parseShardSpec('2/8'), { index: 2, count: 8 });
  for (const bad of ['0/3', '4/3', '1/0', 'x/2', '1', '1/2/3', '-1/2', '1.5/3']) assert.throws(() => parseShardSpec(bad), /I\/N/, bad);
});

test('sweep with a random attack (PGD random start): 3 shards merge into the unsharded sweep', async () => {
  const req = {
    attack: 'pgd',
    budgets: [0.05, 0.15],
    options: { steps: 3 },
    selection: SEL(40),
    batchSize: 4,
    seed: 7,
    examples: 6,
    name: 'sh-pgd',
  };
  await checkIdentical(
    'pgd sweep',
    [a.runDir],
    req.name,
    () => sweepRun(a, req),
    (s) => sweepShard(a, req, s),
    3,
  );
  const v = readJson(path.join(a.runDir, 'evals', 'sh-pgd.json')) as SweepEval;
  assert.equal(v.perSample?.length, v.correct, 'one per-sample row per attacked sample');
  assert.equal(v.results[1]!.fooled, v.perSample.filter((p) => p.fooled[1]).length, 'the counts are the per-sample flags summed');
  assert.equal(v.examples.length, 12, '6 examples × 2 budgets, spanning two shards of 4-sample batches');
});

test('sweep with OSSA (unclipped, clipped beside it): 2 shards merge exactly', async () => {
  const req = { attack: 'ossa', budgets: [1, 6], selection: SEL(30), batchSize: 5, clip: false, examples: 2, name: 'sh-ossa' };
  await checkIdentical(
    'ossa sweep',
    [a.runDir],
    req.name,
    () => sweepRun(a, req),
    (s) => sweepShard(a, req, s),
    2,
  );
  const v = readJson(path.join(a.runDir, 'evals', 'sh-ossa.json')) as SweepEval;
  assert.ok(v.results.every((p) => p.clipped) && v.perSample!.every((p) => p.fooledClipped?.length === 2));
});

test('inspection: 3 shards (images in the first two) merge into the unsharded one', async () => {
  const req = { selection: SEL(30), heldOut: 200, images: 10, batchSize: 8, name: 'sh-inspect' };
  await checkIdentical(
    'inspect',
    [a.runDir],
    req.name,
    () => inspectRun(a, req),
    (s) => inspectShard(a, req, s),
    3,
  );
});

test('minimum distance with two batch sizes (shards align to their lcm): 2 shards merge exactly', async () => {
  const req = {
    attacks: ['fgsm', 'pgd'],
    options: { pgd: { searchSteps: 3, batchSize: 6 }, fgsm: { batchSize: 4 } },
    selection: SEL(30),
    name: 'sh-distance',
  };
  const written = await checkIdentical(
    'distance',
    [a.runDir],
    req.name,
    () => distanceRun(a, req),
    (s) => distanceShard(a, req, s),
    2,
  );
  for (const w of written) assert.ok(w.units[0] % 12 === 0, 'shards start on a multiple of lcm(4, 6)');
});

test('transfer (fixed-budget PGD, both directions): 2 shards merge into both runs exactly', async () => {
  const req = { attack: 'pgd', budget: 0.15, options: { steps: 3 }, selection: SEL(30), batchSize: 4, seed: 3, name: 'sh-transfer' };
  await checkIdentical(
    'transfer',
    [a.runDir, b.runDir],
    req.name,
    () => transferRun(a, b, req),
    (s) => transferShard(a, b, req, s),
    2,
  );
});

test('worst case over PGD and FGSM: 6 shards (one of them empty) merge exactly', async () => {
  const req = {
    attacks: ['pgd', 'fgsm'],
    budgets: [0.04, 0.06, 0.08, 0.1],
    options: { pgd: { steps: 2 } },
    selection: SEL(60),
    batchSize: 14,
    seed: 5,
    name: 'sh-worst',
  };
  const written = await checkIdentical(
    'worst case',
    [a.runDir],
    req.name,
    () => worstCaseRun(a, req),
    (s) => worstCaseShard(a, req, s),
    6,
  );
  assert.ok(
    written.some((w) => w.units[0] === w.units[1]),
    'more shards than batches leaves one empty',
  );
});

test('the merge refuses a missing shard, shards of another evaluation, and an unknown name; a rerun replaces stale shards', async () => {
  const req = { attack: 'fgsm', budgets: [0.1], selection: SEL(20), batchSize: 5, examples: 0, name: 'sh-check' };
  await sweepShard(a, req, { index: 1, count: 2 });
  assert.throws(() => mergeEvalShards(a.runDir, 'sh-check'), /has 1 of 2 shards; missing 2\/2/);
  // The same shard of a different evaluation (another seed) replaces the first one's shards.
  await sweepShard(a, { ...req, seed: 9 }, { index: 2, count: 2 });
  assert.deepEqual(writtenShards(a.runDir, 'sh-check'), [{ index: 2, count: 2 }], 'the stale shard 1/2 was removed');
  // A shard that does not belong (copied in from elsewhere) is named.
  const dir = shardDir(a.runDir, 'sh-check');
  const foreign = JSON.parse(fs.readFileSync(path.join(dir, '2-of-2.json'), 'utf8')) as { fingerprint: string; shard: ShardSpec };
  fs.writeFileSync(
    path.join(dir, '1-of-2.json'),
    JSON.stringify({ ...foreign, fingerprint: 'f'.repeat(64), shard: { index: 1, count: 2 } }),
  );
  assert.throws(() => mergeEvalShards(a.runDir, 'sh-check'), /belong to different evaluations/);
  fs.writeFileSync(path.join(dir, '1-of-2.json'), '{ torn');
  assert.throws(() => mergeEvalShards(a.runDir, 'sh-check'), /not a readable evaluation shard/);
  assert.throws(() => mergeEvalShards(a.runDir, 'no-such-eval'), /no shards of evaluation "no-such-eval"/);
  assert.throws(() => mergeEvalShards(a.runDir, '../x'), /not allowed/);
});
