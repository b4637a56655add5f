import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import pkg from '../../../package.json';
import type {
  AttackOptions,
  AutoAttackEval,
  AutoAttackSample,
  AutoAttackStep,
  EvalProvenance,
  RobustnessCurve,
  ShardSpec,
} from '../../runs/evals';
import { writeJsonAtomic } from '../../runs/atomic';
import { RUN_FILES } from '../../runs/paths';
import { readJsonFile } from '../../runs/reader';
import { evalNameFrom } from '../../protocol/names';
import { wilsonInterval } from '../../shared/stats';
import { Cancelled } from '../attacks/attack';
import { getAttack, resolveOptions } from '../attacks/registry';
import { runAttackAsync } from '../attacks/run';
import { AUTOATTACK_SQUARE } from '../attacks/square';
import { InputError } from '../errors';
import { argmaxRows, logitsOf } from '../models/predict';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { imagePng, signedPng } from './images';
import { robustnessCurve, CURVE_DEFAULTS } from './robustnessCurve';
import { makeProvenance, selectIndices, splitOf, type EvalRequestBase, type EvalRun } from './runModel';
import { batchOf, blockOf, shardRange, writeShard, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';

/**
 * AutoAttack (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks"), as fra31/auto-attack's run_standard_evaluation: the
 * standard cascade APGD-CE → APGD-T → FAB-T → Square at one budget, each attack only on the
 * samples still robust, with the reference's settings (APGD 100 iterations, 1 restart; APGD-T
 * and FAB-T over the 9 classes with the largest clean logits after the predicted one; Square
 * 5,000 queries from p = 0.8 on its unstretched schedule). The verdict is the robust accuracy
 * over all evaluated samples, with which attack broke each sample.
 *
 * Resumable between attacks: after each attack the cascade's state is written next to the
 * evaluation (`evals/.<name>.state.json`, hidden from the listing), and a later call with the same
 * run, samples and settings continues after the last finished attack. The evaluation file itself
 * is written once, at the end (images first, JSON last). A cancelled call keeps the state.
 */
export const AUTOATTACK_STANDARD = ['apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;
/** AutoAttack's own attack names, each standing for the registry attack of the evaluation's norm. */
export const AUTOATTACK_NAMES = ['apgd-ce', 'apgd-dlr', 'apgd-t', 'fab-t', 'square'] as const;
/** Broken samples whose images an evaluation keeps. */
export const AUTOATTACK_EXAMPLES = 8;

export type AutoAttackNorm = 'linf' | 'l2';

export interface AutoAttackRequest extends EvalRequestBase {
  norm: AutoAttackNorm;
  epsilon: number;
  version?: 'standard' | 'custom';
  /** For `custom`: AutoAttack names (apgd-ce, apgd-dlr, apgd-t, fab-t, square) or registry attacks of the norm. */
  attacks?: string[];
  /** For `custom`: option overrides per attack (by the name given). */
  options?: Record<string, AttackOptions>;
  /** Robustness curve over the first N evaluated samples (0: none). */
  curveSamples?: number;
  /** APGD bisection rounds of the curve's minimum-norm search. */
  curveBisections?: number;
  /** Broken samples to keep images of. */
  examples?: number;
}

/** The registry attack an AutoAttack name (or a registry name) stands for in `norm`. */
export function autoAttackAttack(name: string, norm: AutoAttackNorm): string {
  const short = (AUTOATTACK_NAMES as readonly string[]).includes(name);
  const full = short && norm === 'l2' ? `${name}-l2` : name;
  const attack = getAttack(full);
  if (attack.norm !== norm)
    throw new InputError(`${name} is an ${attack.norm} attack; an AutoAttack evaluation in ${norm} needs ${norm} attacks`);
  return attack.name;
}

/** AutoAttack's settings for a registry attack at budget ε (what the reference's AutoAttack class sets). */
export function autoAttackSettings(attack: string, epsilon: number): AttackOptions {
  if (attack.startsWith('fab-t')) return { stopAtNorm: epsilon };
  if (attack === 'square' || attack === 'square-l2') return { ...AUTOATTACK_SQUARE };
  return {};
}

interface CascadeState {
  fingerprint: string;
  steps: AutoAttackStep[];
  brokenBy: (string | null)[];
  adversarialPredicted: (number | null)[];
  distance: (number | null)[];
  /** Adversarial pixels of the first broken samples (positions into the evaluated samples). */
  examples: { position: number; attack: string; adv: number[] }[];
  curve?: { fingerprint: string; curve: RobustnessCurve; minNorm: (number | null)[] };
  wallSeconds: number;
}

/** The request checked and resolved: which attacks run, with which options. */
function cascadePlan(req: AutoAttackRequest) {
  const { norm, epsilon } = req;
  if (norm !== 'linf' && norm !== 'l2') throw new InputError(`AutoAttack runs in linf or l2 (got "${String(norm)}")`);
  if (!(Number.isFinite(epsilon) && epsilon > 0))
    throw new InputError(`the AutoAttack budget ε must be a finite number > 0 (got ${epsilon})`);
  const version = req.version ?? 'standard';
  if (version !== 'standard' && version !== 'custom')
    throw new InputError(`--version must be standard or custom (got "${String(version)}")`);
  if (version === 'standard' && req.attacks?.length)
    throw new InputError('the standard version runs APGD-CE, APGD-T, FAB-T and Square; give --version custom to choose the attacks');
  if (version === 'standard' && req.options && Object.keys(req.options).length)
    throw new InputError("the standard version uses the reference's settings; give --version custom to change options");
  const given = version === 'standard' ? [...AUTOATTACK_STANDARD] : (req.attacks ?? []);
  if (given.length === 0) throw new InputError('give at least one attack for a custom AutoAttack (--attacks apgd-ce,apgd-dlr,...)');
  const attacks = given.map((a) => autoAttackAttack(a, norm));
  if (new Set(attacks).size !== attacks.length) throw new InputError(`an attack appears twice in the cascade: ${attacks.join(', ')}`);
  for (const key of Object.keys(req.options ?? {}))
    if (!given.includes(key) && !attacks.includes(key))
      throw new InputError(`--option for ${key}, which is not in the cascade (${given.join(', ')})`);
  const options = attacks.map((a, i) => {
    const own = { ...autoAttackSettings(a, epsilon), ...(req.options?.[given[i]!] ?? {}), ...(req.options?.[a] ?? {}) };
    return resolveOptions(getAttack(a), own, { seed: req.seed ?? 0, ...(req.batchSize ? { batchSize: req.batchSize } : {}) });
  });
  const curveSamples = req.curveSamples ?? 0;
  if (!Number.isInteger(curveSamples) || curveSamples < 0)
    throw new InputError(`--curve-samples must be an integer ≥ 0 (got ${curveSamples})`);
  const bisections = req.curveBisections ?? CURVE_DEFAULTS.bisections;
  if (!Number.isInteger(bisections) || bisections < 0)
    throw new InputError(`--curve-bisections must be an integer ≥ 0 (got ${bisections})`);
  return { norm, epsilon, version, attacks, options, curveSamples, bisections };
}

export function autoAttackStateFile(runDir: string, name: string, shard?: ShardSpec): string {
  return path.join(runDir, RUN_FILES.evals, `.${name}${shard ? `.${shard.index}-of-${shard.count}` : ''}.state.json`);
}

/**
 * What every shard of an AutoAttack evaluation shares (eval/shard.ts), and what the aggregation
 * (`autoAttackResult`) needs besides the samples' results. The units are the evaluated samples.
 */
export interface AutoAttackHeader {
  version: 'standard' | 'custom';
  norm: AutoAttackNorm;
  epsilon: number;
  attacks: string[];
  options: AttackOptions[];
  /** Dataset indices, labels and clean predictions of the evaluated samples, in order. */
  indices: number[];
  labels: number[];
  predicted: number[];
  examples: number;
  checkpointSha256: string;
  engineVersion: string;
}

/** The results of a run of consecutive evaluated samples (all of them, or one shard's). */
export interface AutoAttackPart {
  rows: { brokenBy: string | null; adversarialPredicted: number | null; distance: number | null }[];
  /** Per attack of the cascade: samples of this part it attacked and broke, and its wall time. */
  steps: { attacked: number; broken: number; wallSeconds: number }[];
  /** This part's first broken samples (at most `examples`), in cascade order then sample order. */
  examples: AutoAttackEval['examples'];
}

/** The request resolved against the run: what every path (whole, shard) starts from. */
function prepare(run: EvalRun, req: AutoAttackRequest) {
  assertEvalName(req.name);
  const plan = cascadePlan(req);
  const d = splitOf(run, req.selection.split);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  const seed = req.seed ?? 0;
  const name = req.name ?? evalNameFrom('autoattack', plan.norm);
  const { norm, epsilon, attacks, options } = plan;
  const fingerprint = hash({ sha: run.checkpointSha256, split: req.selection.split, indices, norm, epsilon, attacks, options, seed });
  const header: AutoAttackHeader = {
    version: plan.version,
    norm,
    epsilon,
    attacks,
    options,
    indices,
    labels: Array.from(clean.labels),
    predicted: Array.from(clean.predicted),
    examples: req.examples ?? AUTOATTACK_EXAMPLES,
    checkpointSha256: run.checkpointSha256,
    engineVersion: pkg.version,
  };
  return { ...plan, run, req, d, size: imageSizeOf(d), indices, n: indices.length, clean, seed, name, fingerprint, header };
}
type Prepared = ReturnType<typeof prepare>;

export async function autoAttackRun(
  run: EvalRun,
  req: AutoAttackRequest,
): Promise<{ file: string; result: AutoAttackEval; resumedAfter: number }> {
  const kept = { attacks: 0 };
  // One evaluation of a name at a time, from before the first attack until it is written.
  return withEvalLock(run.runDir, evalNameOf(req), 'AutoAttack evaluation', () => keepingFinished(kept, () => whole(run, req, kept)));
}

/** The evaluation's name (the request is checked first, so a bad norm is reported as such). */
function evalNameOf(req: AutoAttackRequest): string {
  assertEvalName(req.name);
  return req.name ?? evalNameFrom('autoattack', cascadePlan(req).norm);
}

/**
 * Shard `shard` of the evaluation `req` (merge the shards with mergeEvalShards): the cascade on
 * the shard's samples only, resumable between attacks like a whole run. Each attack's batches are
 * the shard's survivors, so its random draws differ from those of an unsharded run; the
 * bookkeeping and the aggregation are the same.
 */
export async function autoAttackShard(run: EvalRun, req: AutoAttackRequest, shard: ShardSpec): Promise<ShardWritten> {
  if (req.curveSamples)
    throw new InputError('a sharded AutoAttack has no robustness curve (its searches need all samples together): run it without --shard');
  const started = Date.now();
  const p = prepare(run, req);
  const block = blockOf(p.options.map(batchOf));
  const [u0, u1] = shardRange(p.n, block, shard);
  const stateFile = autoAttackStateFile(run.runDir, p.name, shard);
  const kept = { attacks: 0 };
  const { state, priorWall } = await keepingFinished(kept, () => cascade(p, [u0, u1], stateFile, kept, started, 0));
  const { images, examples } = exampleImages(p, state);
  const part: AutoAttackPart = {
    rows: p.indices.slice(u0, u1).map((_, j) => rowOf(state, u0 + j)),
    steps: state.steps.map((s) => ({ attacked: s.attacked, broken: s.broken, wallSeconds: s.wallSeconds })),
    examples,
  };
  const written = writeShard<AutoAttackHeader, AutoAttackPart>(
    {
      kind: 'autoattack',
      name: p.name,
      runDir: run.runDir,
      header: p.header,
      units: p.n,
      block,
      compute: (_u0, _u1, out) => {
        for (const [rel, png] of images) out.set(rel, png);
        return part;
      },
      provenance: () => {
        const prov = makeProvenance('autoattack', run, req.selection.split, p.indices, p.seed, started, req.command);
        prov.wallSeconds = priorWall + (Date.now() - started) / 1000;
        return prov;
      },
    },
    shard,
  );
  fs.rmSync(stateFile, { force: true });
  return written;
}

/** A cancel after some attacks finished says they are kept. */
async function keepingFinished<T>(kept: { attacks: number }, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Cancelled && kept.attacks > 0)
      throw new Cancelled(`cancelled; the ${kept.attacks} finished attack(s) are kept, and the same evaluation continues after them`);
    throw e;
  }
}

function rowOf(state: CascadeState, i: number): AutoAttackPart['rows'][number] {
  return { brokenBy: state.brokenBy[i]!, adversarialPredicted: state.adversarialPredicted[i]!, distance: state.distance[i]! };
}

async function whole(
  run: EvalRun,
  req: AutoAttackRequest,
  kept: { attacks: number },
): Promise<{ file: string; result: AutoAttackEval; resumedAfter: number }> {
  const started = Date.now();
  const p = prepare(run, req);
  const { norm, epsilon, curveSamples, bisections, indices, n, clean, seed, name, fingerprint, d } = p;
  const stateFile = autoAttackStateFile(run.runDir, name);
  const curveShare = curveSamples > 0 ? 0.3 : 0;
  const { state, resumedAfter, priorWall, save } = await cascade(p, [0, n], stateFile, kept, started, curveShare);
  const correct = new Set(clean.correct);

  if (curveSamples > 0) {
    const curveFingerprint = hash({ fingerprint, curveSamples, bisections });
    if (state.curve?.fingerprint !== curveFingerprint) {
      const positions = indices.slice(0, Math.min(curveSamples, n)).map((_, i) => i);
      const r = await robustnessCurve(
        {
          model: run.model,
          shape: d.imageShape,
          norm,
          epsilon,
          x: clean.x,
          labels: clean.labels,
          positions: positions.filter((i) => correct.has(i)),
          samples: positions.length,
          known: positions.map((i) => state.distance[i] ?? null),
          seed,
          bisections,
          ...(req.batchSize ? { batchSize: req.batchSize } : {}),
        },
        (message, fraction) => req.onProgress?.(`robustness curve: ${message}`, 1 - curveShare + curveShare * fraction),
        req.signal,
      );
      state.curve = { fingerprint: curveFingerprint, curve: r.curve, minNorm: r.minNorm };
      save();
    }
  }

  const { images, examples } = exampleImages(p, state);
  const part: AutoAttackPart = {
    rows: indices.map((_, i) => rowOf(state, i)),
    steps: state.steps.map((s) => ({ attacked: s.attacked, broken: s.broken, wallSeconds: s.wallSeconds })),
    examples,
  };
  const provenance = makeProvenance('autoattack', run, req.selection.split, indices, seed, started, req.command);
  provenance.wallSeconds = priorWall + (Date.now() - started) / 1000;
  const result = autoAttackResult(p.header, [part], provenance, state.curve);
  const file = writeEval(run.runDir, name, result, images);
  fs.rmSync(stateFile, { force: true });
  return { file, result, resumedAfter };
}

/**
 * The cascade on the evaluated samples [u0, u1): each attack on those still robust, the state
 * saved after each (a later call with the same fingerprint continues after the finished ones).
 */
async function cascade(
  p: Prepared,
  range: [number, number],
  stateFile: string,
  kept: { attacks: number },
  started: number,
  curveShare: number,
) {
  const { run, req, n, clean, size, d, epsilon, attacks, options } = p;
  const [u0, u1] = range;
  const sharded = u0 !== 0 || u1 !== n;
  const fingerprint = sharded ? hash({ fingerprint: p.fingerprint, range }) : p.fingerprint;
  const previous = readJsonFile<CascadeState>(stateFile);
  const state: CascadeState =
    previous && previous.fingerprint === fingerprint
      ? previous
      : {
          fingerprint,
          steps: [],
          brokenBy: p.indices.map(() => null),
          adversarialPredicted: p.indices.map(() => null),
          distance: p.indices.map(() => null),
          examples: [],
          wallSeconds: 0,
        };
  const resumedAfter = state.steps.length;
  kept.attacks = resumedAfter;
  const priorWall = state.wallSeconds;
  const mine = clean.correct.filter((i) => i >= u0 && i < u1);
  const robustRows = () => mine.filter((i) => state.brokenBy[i] === null);
  const robustCount = () => robustRows().length;
  const units = u1 - u0;
  // A resumed evaluation's wall time covers all its attempts.
  const save = () => {
    state.wallSeconds = priorWall + (Date.now() - started) / 1000;
    fs.mkdirSync(path.dirname(stateFile), { recursive: true });
    writeJsonAtomic(stateFile, state);
  };

  for (let ai = state.steps.length; ai < attacks.length; ai++) {
    const t0 = Date.now();
    const attack = attacks[ai]!;
    const rows = robustRows();
    const step: AutoAttackStep = {
      attack,
      attacked: rows.length,
      broken: 0,
      robustAccuracy: 0,
      robustAccuracyCi: [0, 0],
      wallSeconds: 0,
      options: options[ai]!,
    };
    if (rows.length > 0) {
      const r = await runAttackAsync(
        attack,
        { model: run.model, x: rowsOf(clean.x, rows, size), shape: d.imageShape, labels: Int32Array.from(rows, (i) => clean.labels[i]!) },
        [epsilon],
        {
          options: options[ai]!,
          // A shard's batches are seeded by where it starts (0 for a whole run, as before sharding).
          ...(u0 > 0 ? { firstSample: u0 } : {}),
          onProgress: (done, total, detail) =>
            req.onProgress?.(
              `${attack} (${ai + 1}/${attacks.length}) on ${rows.length} robust samples: ${done}/${total} batches${detail ? `, ${detail}` : ''} · robust accuracy so far ${pct(robustCount() / units)}`,
              (1 - curveShare) * ((ai + (total > 0 ? done / total : 1)) / attacks.length),
            ),
          ...(req.signal ? { signal: req.signal } : {}),
        },
      );
      const b = r.budgets[0]!;
      rows.forEach((i, j) => {
        if (!b.success[j]) return;
        step.broken++;
        state.brokenBy[i] = attack;
        state.adversarialPredicted[i] = b.predicted[j]!;
        state.distance[i] = b.distance[j]!;
        if (state.examples.length < p.header.examples)
          state.examples.push({ position: i, attack, adv: Array.from(b.clipped.subarray(j * size, (j + 1) * size)) });
      });
    }
    const robust = robustCount();
    step.robustAccuracy = robust / units;
    step.robustAccuracyCi = wilsonInterval(robust, units);
    step.wallSeconds = (Date.now() - t0) / 1000;
    state.steps.push(step);
    save();
    kept.attacks = state.steps.length;
    req.onProgress?.(
      `${attack} done: robust accuracy ${pct(robust / units)} (${step.broken} of ${step.attacked} broken)`,
      (1 - curveShare) * ((ai + 1) / attacks.length),
    );
  }
  return { state, resumedAfter, priorWall, save };
}

/**
 * The evaluation from its samples' results (one whole run's, or every shard's in order): the
 * same aggregation either way, so a merged evaluation has the bookkeeping of an unsharded one.
 */
export function autoAttackResult(
  h: AutoAttackHeader,
  parts: AutoAttackPart[],
  provenance: EvalProvenance,
  curve?: { curve: RobustnessCurve; minNorm: (number | null)[] },
): AutoAttackEval {
  const rows = parts.flatMap((q) => q.rows);
  const n = h.indices.length;
  if (rows.length !== n) throw new InputError(`an AutoAttack evaluation needs all ${n} samples, got ${rows.length}`);
  if (parts.some((q) => q.steps.length !== h.attacks.length))
    throw new InputError(`every part of an AutoAttack evaluation must have run all ${h.attacks.length} attacks`);
  const correct = h.indices.filter((_, i) => h.predicted[i] === h.labels[i]).length;
  let left = correct;
  const cascade: AutoAttackStep[] = h.attacks.map((attack, ai) => {
    const broken = rows.filter((r) => r.brokenBy === attack).length;
    left -= broken;
    return {
      attack,
      attacked: parts.reduce((a, q) => a + q.steps[ai]!.attacked, 0),
      broken,
      robustAccuracy: left / n,
      robustAccuracyCi: wilsonInterval(left, n),
      wallSeconds: parts.reduce((a, q) => a + q.steps[ai]!.wallSeconds, 0),
      options: h.options[ai]!,
    };
  });
  // The first broken samples in cascade order, then sample order: what one whole run keeps.
  const position = new Map(h.indices.map((idx, i) => [idx, i]));
  const examples = parts
    .flatMap((q) => q.examples)
    .sort((a, b) => h.attacks.indexOf(a.attack) - h.attacks.indexOf(b.attack) || position.get(a.index)! - position.get(b.index)!)
    .slice(0, h.examples);
  const perSample: AutoAttackSample[] = h.indices.map((idx, i) => {
    const r = rows[i]!;
    return {
      index: idx,
      label: h.labels[i]!,
      predicted: h.predicted[i]!,
      brokenBy: r.brokenBy,
      ...(r.adversarialPredicted !== null ? { adversarialPredicted: r.adversarialPredicted } : {}),
      ...(r.distance !== null ? { distance: r.distance } : {}),
      ...(curve && i < curve.minNorm.length ? { minNorm: curve.minNorm[i]! } : {}),
    };
  });
  return {
    kind: 'autoattack',
    provenance,
    version: h.version,
    norm: h.norm,
    epsilon: h.epsilon,
    attacks: h.attacks,
    samples: n,
    correct,
    cleanAccuracy: n > 0 ? correct / n : 0,
    robustAccuracy: n > 0 ? left / n : 0,
    robustAccuracyCi: wilsonInterval(left, n),
    cascade,
    perSample,
    examples,
    ...(curve ? { curve: curve.curve } : {}),
  };
}

/** Images and probabilities of the kept broken samples: original, perturbation, adversarial. */
function exampleImages(p: Prepared, state: CascadeState): { images: Map<string, Uint8Array>; examples: AutoAttackEval['examples'] } {
  const { run, d, clean, indices, name, epsilon } = p;
  const model = run.model;
  const size = imageSizeOf(d);
  const k = d.numClasses;
  const images = new Map<string, Uint8Array>();
  const examples: AutoAttackEval['examples'] = [];
  for (const ex of state.examples) {
    const i = ex.position;
    const idx = indices[i]!;
    const orig = clean.x.subarray(i * size, (i + 1) * size);
    const adv = Float32Array.from(ex.adv);
    const tag = `${name}/sample-${idx}`;
    images.set(`${tag}.png`, imagePng(orig, d.imageShape));
    images.set(
      `${tag}-perturbation.png`,
      signedPng(
        Float32Array.from(adv, (v, t) => v - orig[t]!),
        d.imageShape,
      ),
    );
    images.set(`${tag}-adversarial.png`, imagePng(adv, d.imageShape));
    const logits = tf.tidy(() => logitsOf(model, tf.tensor4d(Float32Array.from([...orig, ...adv]), [2, ...d.imageShape])));
    examples.push({
      index: idx,
      label: clean.labels[i]!,
      budget: epsilon,
      original: `${tag}.png`,
      perturbation: `${tag}-perturbation.png`,
      adversarial: `${tag}-adversarial.png`,
      predictedOriginal: argmaxRows(logits.subarray(0, k), k)[0]!,
      predictedAdversarial: argmaxRows(logits.subarray(k), k)[0]!,
      probsOriginal: softmax(logits.subarray(0, k)),
      probsAdversarial: softmax(logits.subarray(k)),
      distance: state.distance[i]!,
      attack: ex.attack,
    });
  }
  return { images, examples };
}

function hash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

function softmax(z: Float32Array): number[] {
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}
