import * as tf from '@tensorflow/tfjs-core';
import pkg from '../../../package.json';
import type { AdversarialExample, EvalProvenance, NormName, ShardSpec, SweepEval, SweepPoint } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { runAttack, runOptions, validateBudgets } from '../attacks/run';
import { argmaxRows, logitsOf } from '../models/predict';
import { InputError } from '../errors';
import { mean, median, wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { imagePng, signedPng } from './images';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { batchOf, writeShard, type ShardPlan, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Fooling ratio vs budget for one attack (the paper's Fig. 3–5): among the samples the model
 * classifies correctly, the fraction whose prediction changes, with a 95% Wilson interval; plus
 * accuracy under attack over all evaluated samples and a few example images.
 */
export interface SweepRequest extends EvalRequestBase {
  attack: string;
  budgets: number[];
  options?: AttackOptions;
  clip?: boolean;
  /** Correctly classified samples to keep images of (per budget). */
  examples?: number;
}

/** What every shard of a sweep shares (eval/shard.ts). */
export interface SweepHeader {
  attack: string;
  norm: NormName;
  budgetUnit: string;
  clip: boolean;
  budgets: number[];
  options: AttackOptions;
  /** Samples evaluated and, in order, the dataset indices of the correctly classified ones (the units). */
  samples: number;
  correctIndices: number[];
  /** The first `examples` units keep example images. */
  examples: number;
  checkpointSha256: string;
  engineVersion: string;
}

/** One attacked sample's results, one entry per budget (success flags 0/1). */
interface SweepRow {
  success: number[];
  loss: number[];
  distance: number[];
  /** Success on the inputs clipped to [0, 1], when the evaluated ones were not. */
  clipped?: number[];
  examples?: AdversarialExample[];
}

export interface SweepPart {
  rows: SweepRow[];
}

const softmax = (z: Float32Array) => {
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
};

export function sweepPlan(run: EvalRun, req: SweepRequest): ShardPlan<SweepHeader, SweepPart> {
  assertEvalName(req.name);
  const started = Date.now();
  const attack = getAttack(req.attack);
  validateBudgets(attack, req.budgets);
  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  if (clean.correct.length === 0)
    throw new InputError(`the model classifies none of the ${indices.length} samples correctly; there is nothing to attack`);
  const seed = req.seed ?? 0;
  const settings = {
    ...(req.options ? { options: req.options } : {}),
    seed,
    ...(req.batchSize ? { batchSize: req.batchSize } : {}),
    ...(req.clip !== undefined ? { clip: req.clip } : {}),
  };
  const opts = runOptions(attack, settings);
  const block = batchOf(opts);
  const c = clean.correct.length;
  const name = req.name ?? evalNameFrom('sweep', attack.name);
  const header: SweepHeader = {
    attack: attack.name,
    norm: attack.norm,
    budgetUnit: attack.budgetUnit(opts),
    clip: opts.clip === true,
    budgets: req.budgets,
    options: opts,
    samples: indices.length,
    correctIndices: clean.correct.map((i) => indices[i]!),
    examples: Math.min(req.examples ?? 4, c),
    checkpointSha256: run.checkpointSha256,
    engineVersion: pkg.version,
  };
  const compute = (u0: number, u1: number, images: Map<string, Uint8Array>): SweepPart => {
    const pos = clean.correct.slice(u0, u1);
    const m = pos.length;
    if (m === 0) return { rows: [] };
    req.onProgress?.(`${attack.name}: attacking ${m} correctly classified of ${indices.length} samples`, 0);
    const res = runAttack(
      attack,
      { model: run.model, x: rowsOf(clean.x, pos, size), shape: d.imageShape, labels: Int32Array.from(pos, (i) => clean.labels[i]!) },
      req.budgets,
      {
        ...settings,
        firstSample: u0,
        onProgress: (done, total, detail) =>
          req.onProgress?.(`${attack.name}: ${done}/${total} batch×budget steps${detail ? `, ${detail}` : ''}`, done / total),
        ...(req.signal ? { signal: req.signal } : {}),
      },
    );
    const k = d.numClasses;
    const rows: SweepRow[] = pos.map(() => ({ success: [], loss: [], distance: [] }));
    res.budgets.forEach((b) => {
      let clippedPred: Int32Array | null = null;
      if (b.evaluated === 'raw') {
        // Report the clipped inputs too: values outside [0, 1] are not valid images. Batch by
        // batch, as the attack ran, so that a shard's predictions are the whole run's.
        clippedPred = new Int32Array(m);
        for (let j0 = 0; j0 < m; j0 += block) {
          const j1 = Math.min(m, j0 + block);
          const x = b.clipped.subarray(j0 * size, j1 * size);
          clippedPred.set(
            tf.tidy(() => argmaxRows(logitsOf(run.model, tf.tensor4d(x, [j1 - j0, ...d.imageShape])), k)),
            j0,
          );
        }
      }
      const evaluated = b.evaluated === 'clipped' ? b.clipped : b.raw;
      pos.forEach((i, j) => {
        const row = rows[j]!;
        row.success.push(b.success[j]!);
        row.loss.push(b.loss[j]!);
        row.distance.push(b.distance[j]!);
        if (clippedPred) (row.clipped ??= []).push(clippedPred[j] !== clean.labels[i] ? 1 : 0);
        if (u0 + j >= header.examples) return;
        const idx = indices[i]!;
        const orig = clean.x.subarray(i * size, (i + 1) * size);
        const adv = evaluated.subarray(j * size, (j + 1) * size);
        const delta = adv.map((v, t) => v - orig[t]!);
        const tag = `${name}/sample-${idx}`;
        const original = `${tag}.png`;
        if (!images.has(original)) images.set(original, imagePng(orig, d.imageShape));
        const perturbation = `${tag}-budget-${b.budget}-perturbation.png`;
        const adversarial = `${tag}-budget-${b.budget}-adversarial.png`;
        images.set(perturbation, signedPng(delta, d.imageShape));
        images.set(adversarial, imagePng(adv, d.imageShape));
        (row.examples ??= []).push({
          index: idx,
          label: clean.labels[i]!,
          budget: b.budget,
          original,
          perturbation,
          adversarial,
          predictedOriginal: res.cleanPredicted[j]!,
          predictedAdversarial: b.predicted[j]!,
          probsOriginal: softmax(res.cleanLogits.subarray(j * k, (j + 1) * k)),
          probsAdversarial: softmax(b.logits.subarray(j * k, (j + 1) * k)),
          distance: b.distance[j]!,
        });
      });
    });
    return { rows };
  };
  return {
    kind: 'sweep',
    name,
    runDir: run.runDir,
    header,
    units: c,
    block,
    compute,
    provenance: () => makeProvenance('sweep', run, req.selection.split, indices, seed, started, req.command),
  };
}

/** The sweep's result from its units' results (those of one run, or of all shards in order). */
export function sweepResult(h: SweepHeader, parts: SweepPart[], provenance: EvalProvenance): SweepEval {
  const rows = parts.flatMap((p) => p.rows);
  const n = h.samples;
  const c = h.correctIndices.length;
  if (rows.length !== c) throw new InputError(`a sweep needs the results of all ${c} attacked samples, got ${rows.length}`);
  const results: SweepPoint[] = h.budgets.map((budget, bi) => {
    const fooled = rows.reduce((a, r) => a + r.success[bi]!, 0);
    const dist = rows.map((r) => r.distance[bi]!);
    const point: SweepPoint = {
      budget,
      foolingRatio: fooled / c,
      foolingRatioCi: wilsonInterval(fooled, c),
      fooled,
      accuracy: (c - fooled) / n,
      meanLoss: mean(rows.map((r) => r.loss[bi]!)),
      meanDistance: mean(dist),
      medianDistance: median(dist),
    };
    if (rows[0]?.clipped) {
      const f = rows.reduce((a, r) => a + r.clipped![bi]!, 0);
      point.clipped = { foolingRatio: f / c, foolingRatioCi: wilsonInterval(f, c), fooled: f, accuracy: (c - f) / n };
    }
    return point;
  });
  const withExamples = rows.slice(0, h.examples);
  return {
    kind: 'sweep',
    provenance,
    attack: h.attack,
    norm: h.norm,
    budgetUnit: h.budgetUnit,
    clip: h.clip,
    samples: n,
    correct: c,
    cleanAccuracy: c / n,
    options: h.options,
    results,
    examples: h.budgets.flatMap((_, bi) => withExamples.map((r) => r.examples![bi]!)),
    perSample: rows.map((r, j) => ({
      index: h.correctIndices[j]!,
      fooled: r.success.map(Boolean),
      ...(r.clipped ? { fooledClipped: r.clipped.map(Boolean) } : {}),
    })),
  };
}

export async function sweepRun(run: EvalRun, req: SweepRequest): Promise<{ file: string; result: SweepEval }> {
  const plan = sweepPlan(run, req);
  // One evaluation of a name at a time: a second one is refused rather than overwriting it.
  return withEvalLock(run.runDir, plan.name, `attack sweep ${plan.header.attack}`, () => {
    const images = new Map<string, Uint8Array>();
    const part = plan.compute(0, plan.units, images);
    const result = sweepResult(plan.header, [part], plan.provenance());
    const file = writeEval(run.runDir, plan.name, result, images);
    return { file, result };
  });
}

/** Shard `shard` of the sweep `req` (merge the shards with mergeEvalShards). */
export async function sweepShard(run: EvalRun, req: SweepRequest, shard: ShardSpec): Promise<ShardWritten> {
  return writeShard(sweepPlan(run, req), shard);
}
