import * as tf from '@tensorflow/tfjs-core';
import pkg from '../../../package.json';
import type { EvalProvenance, InspectEval, SampleFimStats, ShardSpec } from '../../runs/evals';
import type { Dataset } from '../data/dataset';
import { InputError } from '../errors';
import { aggregateFim, sampleFimStats } from '../fim/sampleStats';
import { fitTemperature } from '../fim/temperature';
import { Cancelled } from '../attacks/attack';
import { logitsOf } from '../models/predict';
import { imagePng, signedPng } from './images';
import { makeProvenance, samplesOf, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { writeShard, type ShardPlan, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Per-sample Fisher-information inspection of a run (docs/design.md §1): tr G_s, λmax(G_s), the exact
 * λmax(G_x) and its eigenvector, the KL budget, the logit margin and its normalised form, the same
 * after temperature scaling, plus images of the input and of OSSA's direction for a few samples.
 */
export interface InspectRequest extends EvalRequestBase {
  /** KL threshold τ of the KL budget. */
  tau?: number;
  /** Held-out samples for the temperature fit. */
  heldOut?: number;
  /** Samples to draw (input + eigenvector PNGs). */
  images?: number;
}

export const INSPECT_DEFAULTS = { tau: 0.1, heldOut: 1000, images: 8, batchSize: 32 } as const;

/** Held-out samples for temperature scaling: test samples after the inspected ones, else training samples the run never used. */
function heldOutSet(run: EvalRun, split: 'train' | 'test', used: number[], want: number): { d: Dataset; indices: number[]; label: string } {
  const test = run.data.test;
  const lastUsed = split === 'test' ? used[used.length - 1]! : -1;
  const testFree = Array.from({ length: Math.max(0, test.count - lastUsed - 1) }, (_, i) => lastUsed + 1 + i);
  if (testFree.length >= Math.min(want, 100)) {
    const idx = testFree.slice(Math.max(0, testFree.length - want));
    return { d: test, indices: idx, label: `test[${idx[0]}..${idx[idx.length - 1]}]` };
  }
  const train = run.data.train;
  const unusedStart = run.config.trainSamples;
  const free = train.count - unusedStart;
  if (split !== 'train' && free >= Math.min(want, 100)) {
    const idx = Array.from({ length: Math.min(want, free) }, (_, i) => train.count - Math.min(want, free) + i);
    return { d: train, indices: idx, label: `train[${idx[0]}..${idx[idx.length - 1]}] (not used in training)` };
  }
  throw new InputError(
    'no held-out samples are left for temperature scaling; inspect fewer samples (--samples) so some test samples stay unused',
  );
}

/** What every shard of an inspection shares (eval/shard.ts): the temperature fit is done in each, identically. */
export interface InspectHeader {
  tau: number;
  temperatureScaling: { temperature: number; heldOutSamples: number; heldOut: string; nllBefore: number; nllAfter: number };
  /** The inspected dataset indices, in order (the units). */
  indices: number[];
  /** The first `images` units keep their input and eigenvector PNGs. */
  images: number;
  checkpointSha256: string;
  engineVersion: string;
}

export interface InspectPart {
  rows: SampleFimStats[];
}

export function inspectPlan(run: EvalRun, req: InspectRequest): ShardPlan<InspectHeader, InspectPart> {
  assertEvalName(req.name);
  const started = Date.now();
  const tau = req.tau ?? INSPECT_DEFAULTS.tau;
  if (!(tau > 0) || !Number.isFinite(tau)) throw new InputError(`--tau must be a positive number (got ${tau})`);
  const d = splitOf(run, req.selection.split);
  const indices = selectIndices(d, req.selection);
  const held = heldOutSet(run, req.selection.split, indices, req.heldOut ?? INSPECT_DEFAULTS.heldOut);
  req.onProgress?.(`fitting the temperature on ${held.indices.length} held-out samples (${held.label})`, 0);
  const hs = samplesOf(held.d, held.indices);
  const hLogits = tf.tidy(() => logitsOf(run.model, tf.tensor4d(hs.x, [held.indices.length, ...d.imageShape])));
  const fit = fitTemperature(hLogits, hs.labels, d.numClasses);

  const batch = req.batchSize ?? INSPECT_DEFAULTS.batchSize;
  const name = req.name ?? evalNameFrom('inspect');
  const size = d.imageShape[0] * d.imageShape[1] * d.imageShape[2];
  const header: InspectHeader = {
    tau,
    temperatureScaling: {
      temperature: fit.temperature,
      heldOutSamples: held.indices.length,
      heldOut: held.label,
      nllBefore: fit.nllAtOne,
      nllAfter: fit.nll,
    },
    indices,
    images: Math.min(req.images ?? INSPECT_DEFAULTS.images, indices.length),
    checkpointSha256: run.checkpointSha256,
    engineVersion: pkg.version,
  };
  const compute = (u0: number, u1: number, images: Map<string, Uint8Array>): InspectPart => {
    const rows: SampleFimStats[] = [];
    for (let s0 = u0; s0 < u1; s0 += batch) {
      if (req.signal?.aborted) throw new Cancelled();
      const idx = indices.slice(s0, Math.min(u1, s0 + batch));
      const { x, labels } = samplesOf(d, idx);
      const xt = tf.tensor4d(x, [idx.length, ...d.imageShape]);
      const { stats, eigenvectors } = sampleFimStats(run.model, xt, labels, idx, { tau, temperature: fit.temperature });
      xt.dispose();
      stats.forEach((st, i) => {
        if (s0 + i < header.images) {
          st.image = `${name}/sample-${st.index}.png`;
          st.eigenImage = `${name}/sample-${st.index}-eigenvector.png`;
          images.set(st.image, imagePng(x.subarray(i * size, (i + 1) * size), d.imageShape));
          images.set(st.eigenImage, signedPng(eigenvectors.subarray(i * size, (i + 1) * size), d.imageShape));
        }
        rows.push(st);
      });
      req.onProgress?.(`inspecting: ${rows.length}/${u1 - u0} samples`, rows.length / (u1 - u0));
    }
    return { rows };
  };
  return {
    kind: 'inspect',
    name,
    runDir: run.runDir,
    header,
    units: indices.length,
    block: batch,
    compute,
    provenance: () => makeProvenance('inspect', run, req.selection.split, indices, 0, started, req.command),
  };
}

/** The inspection from its samples' statistics (those of one run, or of all shards in order). */
export function inspectResult(h: InspectHeader, parts: InspectPart[], provenance: EvalProvenance): InspectEval {
  const samples = parts.flatMap((p) => p.rows);
  if (samples.length !== h.indices.length)
    throw new InputError(`an inspection needs all ${h.indices.length} samples, got ${samples.length}`);
  const accuracy = samples.filter((s) => s.predicted === s.label).length / samples.length;
  const plain = aggregateFim(samples);
  const scaled = aggregateFim(samples, true);
  const t = h.temperatureScaling;
  return {
    kind: 'inspect',
    provenance,
    tau: h.tau,
    accuracy,
    samples,
    mean: plain.mean,
    median: plain.median,
    temperatureScaling: {
      temperature: t.temperature,
      heldOutSamples: t.heldOutSamples,
      heldOut: t.heldOut,
      nllBefore: t.nllBefore,
      nllAfter: t.nllAfter,
      mean: scaled.mean,
      median: scaled.median,
    },
  };
}

export async function inspectRun(run: EvalRun, req: InspectRequest): Promise<{ file: string; result: InspectEval }> {
  const plan = inspectPlan(run, req);
  // One evaluation of a name at a time: a second one is refused rather than overwriting it.
  return withEvalLock(run.runDir, plan.name, 'inspect', () => {
    const images = new Map<string, Uint8Array>();
    const part = plan.compute(0, plan.units, images);
    const result = inspectResult(plan.header, [part], plan.provenance());
    const file = writeEval(run.runDir, plan.name, result, images);
    return { file, result };
  });
}

/** Shard `shard` of the inspection `req` (merge the shards with mergeEvalShards). */
export async function inspectShard(run: EvalRun, req: InspectRequest, shard: ShardSpec): Promise<ShardWritten> {
  return writeShard(inspectPlan(run, req), shard);
}
