import * as tf from '@tensorflow/tfjs-core';
import type { NormName } from '../../runs/evals';
import type { BatchContext, IterativeAttack, IterativeRun } from './attack';
import type { AttackOptions } from '../../runs/evals';
import { gatherRows, isAdversarial } from './context';
import { clipToBounds, normalizeDirection, objectiveGradient, projectToBall, type AttackLoss } from './tensorOps';
import { argmaxRows } from '../models/predict';
import { tidyReadAll } from '../util/read';

/**
 * Projected gradient ascent on the attack loss, the core of BIM (Kurakin et al. 2017) and PGD
 * (Madry et al. 2018): x ← clip(Π_ε(x + α·dir(∇L))), with dir = sign for l∞ and g/‖g‖ for l1/l2,
 * Π_ε the projection onto the ε-ball around the input (rescaling for l1/l2, as Foolbox does).
 * Samples are processed as a shrinking active set, so with `returnEarly` a sample that is already
 * adversarial costs nothing more.
 */
export type PgNorm = Exclude<NormName, 'l0'>;

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** A random start inside the ball: uniform per pixel for l∞ (and l1), uniform in the l2 ball for l2. */
function randomStart(ctx: BatchContext, rows: number[], radius: Float32Array, norm: PgNorm, out: Float32Array): void {
  const n = ctx.size;
  for (const s of rows) {
    const r = radius[s]!;
    const o = s * n;
    if (norm === 'l2') {
      let len = 0;
      const d = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        d[t] = gaussian(ctx.rng);
        len += d[t]! * d[t]!;
      }
      const scale = (r * Math.pow(ctx.rng(), 1 / n)) / Math.sqrt(len);
      for (let t = 0; t < n; t++) out[o + t] = ctx.xData[o + t]! + d[t]! * scale;
    } else {
      let l1 = 0;
      const d = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        d[t] = (2 * ctx.rng() - 1) * r;
        l1 += Math.abs(d[t]!);
      }
      const f = norm === 'l1' && l1 > r ? r / l1 : 1;
      for (let t = 0; t < n; t++) out[o + t] = ctx.xData[o + t]! + d[t]! * f;
    }
    for (let t = 0; t < n; t++) out[o + t] = Math.min(ctx.bounds[1], Math.max(ctx.bounds[0], out[o + t]!));
  }
}

function pick<T extends Float32Array | Int32Array>(src: T, rows: number[]): T {
  const out = new (src.constructor as { new (n: number): T })(rows.length);
  rows.forEach((s, i) => (out[i] = src[s]!));
  return out;
}

export function projectedGradient(
  ctx: BatchContext,
  run: IterativeRun,
  norm: PgNorm,
  opts: AttackOptions,
): { adv: Float32Array; success: Uint8Array } {
  const n = ctx.labels.length;
  const size = ctx.size;
  const loss = (opts.loss ?? 'ce') as AttackLoss;
  const targeted = Boolean(ctx.targets);
  const classes = ctx.targets ?? ctx.labels;
  const cur = Float32Array.from(ctx.xData);
  const success = new Uint8Array(n);
  let active = Array.from({ length: n }, (_, s) => s).filter((s) => run.radius[s]! > 0);
  if (run.randomStart) randomStart(ctx, active, run.radius, norm, cur);
  for (let step = 0; step < run.steps && active.length > 0; step++) {
    if (!run.returnEarly) ctx.note?.(`step ${step + 1}/${run.steps}`);
    const m = active.length;
    const shape: [number, number, number, number] = [m, ...ctx.shape];
    const wantLogits = run.returnEarly || step === run.steps - 1;
    const [next, logits] = tidyReadAll(() => {
      const xa = tf.tensor4d(gatherRows(cur, active, size), shape);
      const orig = tf.tensor4d(gatherRows(ctx.xData, active, size), shape);
      const { grad } = objectiveGradient(ctx.model, xa, tf.tensor1d(pick(classes, active), 'int32'), loss, targeted);
      const stepped = tf.add(xa, tf.mul(normalizeDirection(grad, norm), tf.reshape(tf.tensor1d(pick(run.stepsize, active)), [m, 1, 1, 1])));
      const delta = projectToBall(tf.sub<tf.Tensor4D>(stepped, orig), pick(run.radius, active), norm);
      const nx = clipToBounds(tf.add<tf.Tensor4D>(orig, delta), ctx.bounds);
      return wantLogits ? [nx, ctx.model.apply(nx, { training: false }) as tf.Tensor] : [nx];
    });
    active.forEach((s, i) => cur.set(next!.subarray(i * size, (i + 1) * size), s * size));
    if (logits) {
      const pred = argmaxRows(logits, ctx.numClasses);
      active.forEach((s, i) => {
        if (isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])) success[s] = 1;
      });
      if (run.returnEarly) active = active.filter((s) => !success[s]);
    }
  }
  return { adv: cur, success };
}

/** Foolbox 2 measures l1/l2 as means (MAE, RMS): its ε is ×N (l1) or ×√N (l2) in natural norms. */
export function foolbox2Unit(norm: PgNorm, size: number): number {
  return norm === 'linf' ? 1 : norm === 'l2' ? Math.sqrt(size) : size;
}

export const NORM_LABEL: Record<PgNorm, string> = { linf: 'l∞', l2: 'l2', l1: 'l1' };

/**
 * A projected-gradient attack: Foolbox 3 fixed-budget settings (steps, relStepsize·ε, random start
 * or not) and Foolbox 2.4's minimum-distance search settings (searchEpsilon, searchStepsize,
 * searchSteps, in Foolbox 2's mean-based units).
 */
export function projectedGradientAttack(
  spec: Pick<IterativeAttack, 'name' | 'title' | 'reference' | 'defaults'> & { norm: PgNorm; randomStart: boolean },
): IterativeAttack {
  const { norm, randomStart } = spec;
  return {
    name: spec.name,
    title: spec.title,
    reference: spec.reference,
    defaults: spec.defaults,
    norm,
    kind: 'iterative',
    budgetUnit: () => `ε = ${NORM_LABEL[norm]} norm of the perturbation`,
    radius: (budget) => budget,
    clipByDefault: true,
    fixedRun: (radius, opts) => ({
      radius,
      stepsize: radius.map((r) => r * Number(opts.relStepsize)),
      steps: Number(opts.steps),
      randomStart,
      returnEarly: false,
    }),
    searchRun: (opts, size) => ({
      radius: Number(opts.searchEpsilon) * foolbox2Unit(norm, size),
      stepRatio: Number(opts.searchStepsize) / Number(opts.searchEpsilon),
      steps: Number(opts.searchSteps),
      randomStart,
    }),
    iterate: (ctx, run, opts) => projectedGradient(ctx, run, norm, opts),
  };
}
