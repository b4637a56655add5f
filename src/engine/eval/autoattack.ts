import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type { AttackOptions, AutoAttackEval, AutoAttackSample, AutoAttackStep, RobustnessCurve } from '../../runs/evals';
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
import { cleanSet, imageSizeOf, rowsOf, type CleanSet } from './common';
import type { Dataset } from '../data/dataset';
import { imagePng, signedPng } from './images';
import { robustnessCurve, CURVE_DEFAULTS } from './robustnessCurve';
import { makeProvenance, selectIndices, splitOf, type EvalRequestBase, type EvalRun } from './runModel';
import { assertEvalName, writeEval } from './store';

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

export function autoAttackStateFile(runDir: string, name: string): string {
  return path.join(runDir, RUN_FILES.evals, `.${name}.state.json`);
}

export async function autoAttackRun(
  run: EvalRun,
  req: AutoAttackRequest,
): Promise<{ file: string; result: AutoAttackEval; resumedAfter: number }> {
  const kept = { attacks: 0 };
  try {
    return await cascade(run, req, kept);
  } catch (e) {
    if (e instanceof Cancelled && kept.attacks > 0)
      throw new Cancelled(`cancelled; the ${kept.attacks} finished attack(s) are kept, and the same evaluation continues after them`);
    throw e;
  }
}

async function cascade(
  run: EvalRun,
  req: AutoAttackRequest,
  kept: { attacks: number },
): Promise<{ file: string; result: AutoAttackEval; resumedAfter: number }> {
  assertEvalName(req.name);
  const started = Date.now();
  const { norm, epsilon, version, attacks, options, curveSamples, bisections } = cascadePlan(req);

  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const n = indices.length;
  const clean = cleanSet(run.model, d, indices);
  const seed = req.seed ?? 0;
  const name = req.name ?? evalNameFrom('autoattack', norm);
  const stateFile = autoAttackStateFile(run.runDir, name);
  const fingerprint = hash({ sha: run.checkpointSha256, split: req.selection.split, indices, norm, epsilon, attacks, options, seed });
  const previous = readJsonFile<CascadeState>(stateFile);
  const state: CascadeState =
    previous && previous.fingerprint === fingerprint
      ? previous
      : {
          fingerprint,
          steps: [],
          brokenBy: indices.map(() => null),
          adversarialPredicted: indices.map(() => null),
          distance: indices.map(() => null),
          examples: [],
          wallSeconds: 0,
        };
  const resumedAfter = state.steps.length;
  kept.attacks = resumedAfter;
  const priorWall = state.wallSeconds;
  const correct = new Set(clean.correct);
  const robustRows = () => clean.correct.filter((i) => state.brokenBy[i] === null);
  const robustCount = () => robustRows().length;
  const maxExamples = req.examples ?? AUTOATTACK_EXAMPLES;
  const curveShare = curveSamples > 0 ? 0.3 : 0;
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
          onProgress: (done, total, detail) =>
            req.onProgress?.(
              `${attack} (${ai + 1}/${attacks.length}) on ${rows.length} robust samples: ${done}/${total} batches${detail ? `, ${detail}` : ''} · robust accuracy so far ${pct(robustCount() / n)}`,
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
        if (state.examples.length < maxExamples)
          state.examples.push({ position: i, attack, adv: Array.from(b.clipped.subarray(j * size, (j + 1) * size)) });
      });
    }
    const robust = robustCount();
    step.robustAccuracy = robust / n;
    step.robustAccuracyCi = wilsonInterval(robust, n);
    step.wallSeconds = (Date.now() - t0) / 1000;
    state.steps.push(step);
    save();
    kept.attacks = state.steps.length;
    req.onProgress?.(
      `${attack} done: robust accuracy ${pct(robust / n)} (${step.broken} of ${step.attacked} broken)`,
      (1 - curveShare) * ((ai + 1) / attacks.length),
    );
  }

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

  const { images, examples } = exampleImages(run.model, d, clean, indices, name, epsilon, state);
  const perSample: AutoAttackSample[] = indices.map((idx, i) => ({
    index: idx,
    label: clean.labels[i]!,
    predicted: clean.predicted[i]!,
    brokenBy: state.brokenBy[i]!,
    ...(state.adversarialPredicted[i] !== null ? { adversarialPredicted: state.adversarialPredicted[i]! } : {}),
    ...(state.distance[i] !== null ? { distance: state.distance[i]! } : {}),
    ...(state.curve && i < state.curve.minNorm.length ? { minNorm: state.curve.minNorm[i]! } : {}),
  }));
  const robust = robustCount();
  const provenance = makeProvenance('autoattack', run, req.selection.split, indices, seed, started, req.command);
  provenance.wallSeconds = priorWall + (Date.now() - started) / 1000;
  const result: AutoAttackEval = {
    kind: 'autoattack',
    provenance,
    version,
    norm,
    epsilon,
    attacks,
    samples: n,
    correct: clean.correct.length,
    cleanAccuracy: clean.correct.length / n,
    robustAccuracy: robust / n,
    robustAccuracyCi: wilsonInterval(robust, n),
    cascade: state.steps,
    perSample,
    examples,
    ...(state.curve ? { curve: state.curve.curve } : {}),
  };
  const file = writeEval(run.runDir, name, result, images);
  fs.rmSync(stateFile, { force: true });
  return { file, result, resumedAfter };
}

/** Images and probabilities of the kept broken samples: original, perturbation, adversarial. */
function exampleImages(
  model: EvalRun['model'],
  d: Dataset,
  clean: CleanSet,
  indices: number[],
  name: string,
  epsilon: number,
  state: CascadeState,
): { images: Map<string, Uint8Array>; examples: AutoAttackEval['examples'] } {
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
