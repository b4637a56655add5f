import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Cancelled } from '../../../src/engine/attacks/attack';
import { runAttack } from '../../../src/engine/attacks/run';
import { autoAttackRun, autoAttackShard, autoAttackStateFile, type AutoAttackRequest } from '../../../src/engine/eval/autoattack';
import { mergeEvalShards } from '../../../src/engine/eval/merge';
import { cleanSet, rowsOf } from '../../../src/engine/eval/common';
import { loadEvalRun, type EvalRun } from '../../../src/engine/eval/runModel';
import { readJsonFile } from '../../../src/runs/reader';
import type { AutoAttackEval } from '../../../src/runs/evals';
import { wilsonInterval } from '../../../src/shared/stats';
import { tmpDir, useEngineBackend } from '../../helpers';
import { makeTinyRun } from './tinyRun';
import { importModel } from '../../../src/engine/train/importModel';

/**
 * `fim eval autoattack`'s engine side on a tiny trained run: the cascade's bookkeeping (each
 * attack only on the samples still robust; robust accuracy over all samples after each attack;
 * which attack broke which sample), its equality with running the attack directly, resuming
 * after an interruption between attacks, the robustness curve, and the input errors.
 */
let run: EvalRun;
const SEL = (count: number) => ({ split: 'test' as const, start: 0, count });
/** A cheap custom cascade for the bookkeeping tests. */
const CHEAP: Partial<AutoAttackRequest> = {
  version: 'custom',
  attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
  options: {
    'apgd-ce': { steps: 10 },
    'apgd-t': { steps: 10, targetClasses: 3 },
    'fab-t': { steps: 10, targetClasses: 3 },
    square: { queries: 100 },
  },
};

before(async () => {
  await useEngineBackend();
  run = await loadEvalRun(await makeTinyRun(tmpDir('fim-autoattack-'), { seed: 1, name: 'aa' }));
});

function checkBookkeeping(r: AutoAttackEval, epsilon: number): void {
  const robust = r.perSample.filter((s) => s.predicted === s.label && s.brokenBy === null).length;
  assert.equal(r.robustAccuracy, robust / r.samples);
  assert.deepEqual(r.robustAccuracyCi, wilsonInterval(robust, r.samples));
  assert.equal(r.correct, r.perSample.filter((s) => s.predicted === s.label).length);
  let left = r.correct;
  for (const step of r.cascade) {
    assert.equal(step.attacked, left, `${step.attack} attacks exactly the samples still robust`);
    assert.equal(step.broken, r.perSample.filter((s) => s.brokenBy === step.attack).length);
    left -= step.broken;
    assert.equal(step.robustAccuracy, left / r.samples);
  }
  assert.equal(r.cascade[r.cascade.length - 1]!.robustAccuracy, r.robustAccuracy);
  for (const s of r.perSample) {
    if (s.brokenBy === null) continue;
    assert.equal(s.predicted, s.label, 'only correctly classified samples are attacked');
    assert.notEqual(s.adversarialPredicted, s.label, 'a broken sample is misclassified');
    assert.ok(s.distance! <= epsilon * (1 + 1e-5), `distance ${s.distance} within ε = ${epsilon}`);
  }
}

test('the standard cascade: APGD-CE → APGD-T → FAB-T → Square, each on the samples still robust', async () => {
  const eps = 0.05;
  const { file, result } = await autoAttackRun(run, { norm: 'linf', epsilon: eps, selection: SEL(16), name: 'aa-std' });
  assert.deepEqual(result.attacks, ['apgd-ce', 'apgd-t', 'fab-t', 'square']);
  assert.equal(result.version, 'standard');
  assert.deepEqual(
    result.cascade.map((s) => s.options.steps ?? s.options.queries),
    [100, 100, 100, 5000],
  );
  assert.equal(result.cascade[2]!.options.stopAtNorm, eps);
  assert.equal(result.cascade[3]!.options.pInit, 0.8);
  assert.equal(result.cascade[3]!.options.rescaleSchedule, false);
  checkBookkeeping(result, eps);
  assert.ok(result.robustAccuracy < result.cleanAccuracy, 'AutoAttack breaks something at ε = 0.05 on the tiny model');
  const stored = readJsonFile<AutoAttackEval>(file)!;
  assert.equal(stored.kind, 'autoattack');
  assert.equal(stored.robustAccuracy, result.robustAccuracy);
  for (const ex of stored.examples) {
    for (const rel of [ex.original, ex.perturbation, ex.adversarial]) assert.ok(fs.existsSync(path.join(path.dirname(file), rel)), rel);
    assert.notEqual(ex.predictedAdversarial, ex.label);
  }
  assert.ok(!fs.existsSync(autoAttackStateFile(run.runDir, 'aa-std')), 'the state file goes once the evaluation is written');
});

test('a one-attack cascade breaks exactly what the attack breaks when run directly', async () => {
  const eps = 0.05;
  const { result } = await autoAttackRun(run, {
    norm: 'linf',
    epsilon: eps,
    selection: SEL(24),
    version: 'custom',
    attacks: ['apgd-ce'],
    seed: 3,
    name: 'aa-one',
  });
  const d = run.data.test;
  const indices = Array.from({ length: 24 }, (_, i) => i);
  const clean = cleanSet(run.model, d, indices);
  const direct = runAttack(
    'apgd-ce',
    {
      model: run.model,
      x: rowsOf(clean.x, clean.correct, 784),
      shape: [28, 28, 1],
      labels: Int32Array.from(clean.correct, (i) => clean.labels[i]!),
    },
    [eps],
    { seed: 3 },
  );
  const brokenDirect = clean.correct.filter((_, j) => direct.budgets[0]!.success[j]);
  const brokenCascade = result.perSample.map((s, i) => (s.brokenBy ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(brokenCascade, brokenDirect);
});

test('interrupted between attacks, the same call continues after the finished ones and gives the same verdict', async () => {
  const req = { norm: 'linf' as const, epsilon: 0.04, selection: SEL(20), ...CHEAP, name: 'aa-resume' };
  const whole = await autoAttackRun(run, { ...req, name: 'aa-whole' });
  const ac = new AbortController();
  await assert.rejects(
    autoAttackRun(run, {
      ...req,
      signal: ac.signal,
      onProgress: (message) => {
        if (message.startsWith('fab-t')) ac.abort();
      },
    }),
    Cancelled,
  );
  const stateFile = autoAttackStateFile(run.runDir, 'aa-resume');
  assert.ok(fs.existsSync(stateFile), 'the finished attacks are kept');
  assert.ok(!fs.existsSync(path.join(run.runDir, 'evals', 'aa-resume.json')), 'no evaluation file yet');
  // Cancellation takes effect between batches: FAB-T's one batch finishes, Square's first does not start.
  const kept = readJsonFile<{ steps: { attack: string }[] }>(stateFile)!.steps.map((s) => s.attack);
  assert.deepEqual(kept, ['apgd-ce', 'apgd-t', 'fab-t']);
  const again = await autoAttackRun(run, req);
  assert.equal(again.resumedAfter, 3, `only Square runs again (resumed after ${again.resumedAfter})`);
  assert.equal(again.result.robustAccuracy, whole.result.robustAccuracy);
  assert.deepEqual(
    again.result.perSample.map((s) => s.brokenBy),
    whole.result.perSample.map((s) => s.brokenBy),
  );
  checkBookkeeping(again.result, 0.04);
  // Other settings do not reuse a state: a changed ε starts over.
  const ac2 = new AbortController();
  await assert.rejects(
    autoAttackRun(run, { ...req, signal: ac2.signal, onProgress: (m) => m.startsWith('apgd-t') && ac2.abort() }),
    Cancelled,
  );
  const other = await autoAttackRun(run, { ...req, epsilon: 0.06 });
  assert.equal(other.resumedAfter, 0);
});

test('the l2 cascade and the robustness curve from per-sample minimum norms', async () => {
  const eps = 1;
  const { result } = await autoAttackRun(run, {
    norm: 'l2',
    epsilon: eps,
    selection: SEL(16),
    ...CHEAP,
    curveSamples: 10,
    curveBisections: 3,
    name: 'aa-l2',
  });
  assert.deepEqual(result.attacks, ['apgd-ce-l2', 'apgd-t-l2', 'fab-t-l2', 'square-l2']);
  checkBookkeeping(result, eps);
  const c = result.curve!;
  assert.equal(c.samples, 10);
  assert.equal(c.norm, 'l2');
  const head = result.perSample.slice(0, 10);
  assert.equal(c.correct, head.filter((s) => s.predicted === s.label).length);
  assert.equal(c.points[0]!.epsilon, 0);
  assert.equal(c.points[0]!.robustAccuracy, c.correct / 10, 'at ε = 0 the curve is the clean accuracy');
  for (let i = 1; i < c.points.length; i++)
    assert.ok(c.points[i]!.robustAccuracy <= c.points[i - 1]!.robustAccuracy, 'the curve never rises');
  assert.ok(
    c.points.some((p) => p.epsilon === eps),
    'the curve has a point at the evaluated ε',
  );
  for (const [i, s] of head.entries()) {
    if (s.predicted !== s.label) assert.equal(s.minNorm, 0, `sample ${i} is misclassified clean`);
    else if (s.brokenBy !== null) assert.ok(s.minNorm! <= s.distance! + 1e-9, `sample ${i}: the curve knows the cascade's adversarial`);
    // The curve is the fraction whose minimum norm exceeds ε.
  }
  for (const p of c.points) {
    const robust = head.filter((s) => s.predicted === s.label && (s.minNorm === null || s.minNorm! > p.epsilon)).length;
    assert.equal(p.robustAccuracy, robust / 10);
  }
});

test('an imported ONNX model (fim import) is evaluated like a trained run', async () => {
  const store = tmpDir('fim-autoattack-onnx-');
  const onnx = path.resolve(__dirname, '../../fixtures/onnx/convnet_op13.onnx');
  const imported = await importModel({ model: onnx, dataset: 'mnist', storeDir: store, limitTest: 32 });
  const other = await loadEvalRun(imported.runDir);
  const { result } = await autoAttackRun(other, { norm: 'l2', epsilon: 2, selection: SEL(8), ...CHEAP, name: 'aa-onnx' });
  assert.equal(result.kind, 'autoattack');
  assert.equal(result.samples, 8);
  checkBookkeeping(result, 2);
});

/** writeEval stores images under a per-write version folder (`<name>/v<time>-<pid>/`, eval/store.ts). */
const unversioned = (p: string) => p.replace(/(^|\/)v[0-9a-z]+-\d+\//, '$1');

/** The evaluation without what differs between two computations of it (dates, wall times, command, image version). */
function comparable(r: AutoAttackEval): unknown {
  const c = JSON.parse(JSON.stringify(r, (_k, x: unknown) => (typeof x === 'string' ? unversioned(x) : x))) as AutoAttackEval & {
    provenance: Record<string, unknown>;
  };
  for (const k of ['createdAt', 'wallSeconds', 'command', 'shards']) delete c.provenance[k];
  for (const s of c.cascade) s.wallSeconds = 0;
  return c;
}

/** Image files of evaluation `name` (its folder under evals/), by relative path, with their bytes. */
function imagesOf(name: string): Map<string, string> {
  const dir = path.join(run.runDir, 'evals', name);
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(unversioned(f.split(path.sep).join('/')), fs.readFileSync(p).toString('base64'));
  }
  return out;
}

test('sharded (--shard I/N, then fim eval merge): one shard is the whole run; N shards keep the bookkeeping, and each shard is the cascade on its samples', async () => {
  const eps = 0.05;
  const req = { norm: 'linf' as const, epsilon: eps, selection: SEL(20), ...CHEAP, batchSize: 4, examples: 3 };
  // Under the same name, so that the image paths agree: the merge then replaces the whole run's files.
  const whole = await autoAttackRun(run, { ...req, name: 'aa-sh-1' });
  const wholeImages = imagesOf('aa-sh-1');
  assert.ok(wholeImages.size > 0);
  await autoAttackShard(run, { ...req, name: 'aa-sh-1' }, { index: 1, count: 1 });
  const one = mergeEvalShards(run.runDir, 'aa-sh-1');
  assert.deepEqual(comparable(one.result as AutoAttackEval), comparable(whole.result));
  assert.deepEqual(imagesOf('aa-sh-1'), wholeImages);

  const written = [];
  for (const index of [3, 1, 2]) written.push(await autoAttackShard(run, { ...req, name: 'aa-sh-3' }, { index, count: 3 }));
  assert.ok(!fs.existsSync(autoAttackStateFile(run.runDir, 'aa-sh-3', { index: 1, count: 3 })), 'a written shard leaves no state');
  const merged = mergeEvalShards(run.runDir, 'aa-sh-3').result as AutoAttackEval;
  checkBookkeeping(merged, eps);
  assert.equal(merged.samples, 20);
  assert.equal(merged.correct, whole.result.correct);
  assert.deepEqual(
    merged.perSample.map((s) => [s.index, s.label, s.predicted]),
    whole.result.perSample.map((s) => [s.index, s.label, s.predicted]),
  );
  // The first shard starts where the whole run does: it is the cascade on samples [0, u1).
  const first = written.find((w) => w.shard.index === 1)!;
  assert.ok(first.units[1] > 0 && first.units[1] < 20, `shard 1/3 covers ${first.units.join('–')}`);
  const head = await autoAttackRun(run, { ...req, selection: SEL(first.units[1]), name: 'aa-sh-head' });
  assert.deepEqual(
    merged.perSample.slice(0, first.units[1]).map((s) => [s.brokenBy, s.adversarialPredicted, s.distance]),
    head.result.perSample.map((s) => [s.brokenBy, s.adversarialPredicted, s.distance]),
  );
  // The examples are the first broken samples in cascade order, then sample order; only their images are kept.
  const order = merged.perSample
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.brokenBy !== null)
    .sort((x, y) => merged.attacks.indexOf(x.s.brokenBy!) - merged.attacks.indexOf(y.s.brokenBy!) || x.i - y.i)
    .slice(0, 3)
    .map(({ s }) => s.index);
  assert.deepEqual(
    merged.examples.map((e) => e.index),
    order,
  );
  assert.deepEqual(
    [...imagesOf('aa-sh-3').keys()].sort(),
    merged.examples.flatMap((e) => [e.original, e.perturbation, e.adversarial].map((f) => unversioned(f).slice('aa-sh-3/'.length))).sort(),
  );
  await assert.rejects(
    autoAttackShard(run, { ...req, curveSamples: 4, name: 'aa-sh-curve' }, { index: 1, count: 2 }),
    /a sharded AutoAttack has no robustness curve/,
  );
});

test('bad requests are input errors', async () => {
  const base = { norm: 'linf' as const, epsilon: 0.1, selection: SEL(4) };
  await assert.rejects(autoAttackRun(run, { ...base, attacks: ['apgd-ce'] }), /give --version custom to choose the attacks/);
  await assert.rejects(autoAttackRun(run, { ...base, version: 'custom' }), /give at least one attack/);
  await assert.rejects(autoAttackRun(run, { ...base, version: 'custom', attacks: ['pgd-l2'] }), /an l2 attack/);
  await assert.rejects(autoAttackRun(run, { ...base, version: 'custom', attacks: ['nosuch'] }), /unknown attack "nosuch"/);
  await assert.rejects(autoAttackRun(run, { ...base, version: 'custom', attacks: ['apgd-ce', 'apgd-ce'] }), /appears twice/);
  await assert.rejects(autoAttackRun(run, { ...base, epsilon: 0 }), /must be a finite number > 0/);
  await assert.rejects(autoAttackRun(run, { ...base, epsilon: NaN }), /must be a finite number > 0/);
  await assert.rejects(autoAttackRun(run, { ...base, norm: 'l1' as never }), /linf or l2/);
  await assert.rejects(
    autoAttackRun(run, { ...base, version: 'custom', attacks: ['apgd-ce'], options: { 'apgd-ce': { bogus: 1 } } }),
    /has no option "bogus"/,
  );
  await assert.rejects(
    autoAttackRun(run, { ...base, version: 'custom', attacks: ['apgd-ce'], options: { square: { queries: 1 } } }),
    /not in the cascade/,
  );
  await assert.rejects(autoAttackRun(run, { ...base, name: '../x' }), /is not allowed/);
});
