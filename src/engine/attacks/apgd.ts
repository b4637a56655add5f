import * as tf from '@tensorflow/tfjs-core';
import type { AttackOptions } from '../../runs/evals';
import type { BatchContext, IterativeAttack, IterativeRun } from './attack';
import { gatherRows, isAdversarial, predictRows } from './context';
import { dlrLoss, dlrTargetedLoss } from './dlr';
import { foolbox2Unit, NORM_LABEL } from './iterative';
import { attackObjective } from './tensorOps';
import { argmaxRows, logitsOf } from '../models/predict';
import { tidyReadAll } from '../util/read';
import { InputError } from '../errors';

/**
 * Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", Algorithm 1), l∞ and l2, as the reference implementation
 * (fra31/auto-attack, autopgd_base.py) runs it:
 *  - start at a random point on the ε-sphere (l∞: ε·u/‖u‖∞ with u uniform in [−1, 1]; l2: ε·g/‖g‖₂
 *    with g Gaussian), clipped to [0, 1]; step size η = 2ε;
 *  - step with momentum 0.75 (none in the first step): z = P(x + η·dir(∇L)),
 *    x ← P(x + 0.75·(z − x) + 0.25·(x − x_prev)), P the projection onto the ε-ball and the box;
 *  - at the checkpoints w_j (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06),
 *    as fractions of the iterations, rounded as the reference does) halve η and restart from the
 *    best point when (1) the loss rose in at most ρ = 0.75 of the steps since the last checkpoint, or
 *    (2) η was not halved at the last checkpoint and the best loss has not improved since;
 *  - restarts (default 1) from fresh random points, on the samples not yet broken.
 * The losses are the cross-entropy (APGD-CE), DLR (APGD-DLR) and targeted DLR (APGD-T, which
 * cycles over the 9 classes with the largest clean logits after the predicted one, one run each).
 *
 * Two departures from the reference, neither of which changes which samples break: a sample leaves
 * the batch at its first adversarial iterate (the reference keeps iterating and keeps the last one),
 * and an iterate only counts as adversarial when the plain inference pass agrees (docs/attacks.md,
 * "decisions use the plain inference pass"). The first window's oscillation count compares with
 * the loss at the starting point, as the paper defines it (the reference compares with 0 there).
 */
export type ApgdLoss = 'ce' | 'dlr' | 'dlr-targeted';
export type ApgdNorm = 'linf' | 'l2';

/** The reference's defaults (AutoAttack's standard version runs these). */
export const APGD_DEFAULTS = { steps: 100, restarts: 1, rho: 0.75, searchEpsilon: 0.3, searchSteps: 100 } as const;
export const APGD_T_DEFAULTS = { ...APGD_DEFAULTS, targetClasses: 9 } as const;

const MOMENTUM = 0.75;
const TINY = 1e-12;

/**
 * The iteration counts after which APGD checks its step size, for `steps` iterations, as the
 * reference computes them: the first window is ⌊0.22·steps⌋, each next one ⌊0.03·steps⌋ shorter,
 * down to ⌊0.06·steps⌋ (all at least 1). For 100 steps: 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(steps: number): number[] {
  const out: number[] = [];
  let k = Math.max(Math.floor(0.22 * steps), 1);
  const min = Math.max(Math.floor(0.06 * steps), 1);
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  let counter = 0;
  for (let i = 0; i < steps; i++) {
    if (++counter === k) {
      out.push(i + 1);
      counter = 0;
      k = Math.max(k - decrease, min);
    }
  }
  return out;
}

/**
 * APGD's step-size test at a checkpoint (Algorithm 1's conditions): halve when (1) the loss rose in
 * at most ρ·window of the last `window` steps — `losses` holds the loss at every iterate so far,
 * the starting point first — or (2) the step was not halved at the last checkpoint and the best
 * loss has not improved since. The reference compares with ≤ in (1), as here.
 */
export function halveStepSize(s: {
  losses: ArrayLike<number>;
  window: number;
  rho: number;
  reducedLastCheck: boolean;
  bestLastCheck: number;
  best: number;
}): boolean {
  const last = s.losses.length - 1;
  let rose = 0;
  for (let c = 0; c < s.window; c++) if (s.losses[last - c]! > s.losses[last - c - 1]!) rose++;
  return rose <= s.window * s.rho || (!s.reducedLastCheck && s.bestLastCheck >= s.best);
}

/** Projects v onto the ε-ball around x0 (l∞: clipping; l2: rescaling, as the reference) and [lo, hi]. */
export function projectBallBox(
  v: ArrayLike<number>,
  x0: ArrayLike<number>,
  eps: number,
  norm: ApgdNorm,
  bounds: [number, number],
  out: Float32Array | Float64Array,
): void {
  const [lo, hi] = bounds;
  const n = v.length;
  if (norm === 'linf') {
    for (let t = 0; t < n; t++) {
      const c = Math.min(Math.max(v[t]!, x0[t]! - eps), x0[t]! + eps);
      out[t] = c < lo ? lo : c > hi ? hi : c;
    }
    return;
  }
  let len = 0;
  for (let t = 0; t < n; t++) len += (v[t]! - x0[t]!) ** 2;
  len = Math.sqrt(len);
  const f = Math.min(eps, len) / (len + TINY);
  for (let t = 0; t < n; t++) {
    const c = x0[t]! + (v[t]! - x0[t]!) * f;
    out[t] = c < lo ? lo : c > hi ? hi : c;
  }
}

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** The reference's starting point: on the ε-sphere (l∞: a scaled uniform vector; l2: Gaussian), then clipped. */
function startingPoint(
  x0: Float32Array,
  eps: number,
  norm: ApgdNorm,
  rng: () => number,
  bounds: [number, number],
  out: Float32Array,
): void {
  const n = x0.length;
  const u = new Float64Array(n);
  let scale = 0;
  for (let t = 0; t < n; t++) {
    u[t] = norm === 'linf' ? 2 * rng() - 1 : gaussian(rng);
    scale = norm === 'linf' ? Math.max(scale, Math.abs(u[t]!)) : scale + u[t]! * u[t]!;
  }
  const f = eps / ((norm === 'linf' ? scale : Math.sqrt(scale)) + TINY);
  for (let t = 0; t < n; t++) out[t] = Math.min(bounds[1], Math.max(bounds[0], x0[t]! + u[t]! * f));
}

/** The objective APGD ascends, per row, with its input gradient and the logits of the same pass. */
function lossGradient(
  ctx: BatchContext,
  x: Float32Array,
  labels: Int32Array,
  targets: Int32Array | null,
  loss: ApgdLoss,
): { grad: Float32Array; logits: Float32Array; value: Float32Array } {
  const m = labels.length;
  const [grad, logits, value] = tidyReadAll(() => {
    const xt = tf.tensor4d(x, [m, ...ctx.shape]);
    const y = tf.tensor1d(labels, 'int32');
    const t = targets ? tf.tensor1d(targets, 'int32') : null;
    let z: tf.Tensor2D | undefined;
    let v: tf.Tensor1D | undefined;
    const g = tf.grad((inp: tf.Tensor) => {
      const out = ctx.model.apply(inp, { training: false }) as tf.Tensor2D;
      const o =
        loss === 'ce'
          ? t
            ? attackObjective(out, t, 'ce', true)
            : attackObjective(out, y, 'ce', false)
          : loss === 'dlr'
            ? dlrLoss(out, y)
            : dlrTargetedLoss(out, y, t!);
      z = tf.keep(out);
      v = tf.keep(o);
      return tf.sum<tf.Scalar>(o);
    })(xt);
    return [g, z!, v!];
  });
  return { grad: grad!, logits: logits!, value: value! };
}

interface ApgdRunSpec {
  norm: ApgdNorm;
  loss: ApgdLoss;
  steps: number;
  rho: number;
  /** Rows of the batch, their radii, and the classes of the loss (labels; DLR-T or targeted-CE targets). */
  rows: number[];
  radius: Float32Array;
  labels: Int32Array;
  lossTargets: Int32Array | null;
}

/**
 * One APGD run (one restart) on `rows`. Returns for each row its first adversarial iterate, or
 * else the point of highest loss, and whether it is adversarial.
 */
function apgdRun(ctx: BatchContext, spec: ApgdRunSpec): { adv: Float32Array; success: Uint8Array } {
  const { norm, steps, rows } = spec;
  const m = rows.length;
  const size = ctx.size;
  const x0 = gatherRows(ctx.xData, rows, size);
  const x = new Float32Array(m * size);
  for (let r = 0; r < m; r++)
    startingPoint(x0.subarray(r * size, (r + 1) * size), spec.radius[r]!, norm, ctx.rng, ctx.bounds, x.subarray(r * size, (r + 1) * size));
  const xPrev = Float32Array.from(x);
  const xBest = Float32Array.from(x);
  const grad = new Float32Array(m * size);
  const gradBest = new Float32Array(m * size);
  const history = new Float64Array(m * (steps + 1));
  const lossBest = new Float64Array(m);
  const lossBestLastCheck = new Float64Array(m);
  const reducedLastCheck = new Uint8Array(m).fill(1);
  const eta = Float64Array.from(spec.radius, (r) => 2 * r);
  const adv = new Float32Array(m * size);
  const success = new Uint8Array(m);
  let active = Array.from({ length: m }, (_, r) => r);

  // Loss and gradient at the current points of `active`; confirmed adversarial rows leave the run.
  const evaluate = (it: number) => {
    const pass = lossGradient(
      ctx,
      gatherRows(x, active, size),
      Int32Array.from(active, (r) => spec.labels[r]!),
      spec.lossTargets ? Int32Array.from(active, (r) => spec.lossTargets![r]!) : null,
      spec.loss,
    );
    const k = ctx.numClasses;
    const pred = argmaxRows(pass.logits, k);
    const candidates = active.filter((r, i) => isAdversarial(pred[i]!, ctx.labels[rows[r]!]!, ctx.targets?.[rows[r]!]));
    const confirmed = new Set<number>();
    if (candidates.length > 0) {
      const again = predictRows(ctx, x, candidates);
      candidates.forEach((r, i) => {
        if (isAdversarial(again[i]!, ctx.labels[rows[r]!]!, ctx.targets?.[rows[r]!])) confirmed.add(r);
      });
    }
    active.forEach((r, i) => {
      const o = r * size;
      grad.set(pass.grad.subarray(i * size, (i + 1) * size), o);
      const value = pass.value[i]!;
      history[r * (steps + 1) + it] = value;
      if (it === 0) {
        lossBest[r] = value;
        lossBestLastCheck[r] = value;
        gradBest.set(grad.subarray(o, o + size), o);
      } else if (value > lossBest[r]!) {
        lossBest[r] = value;
        xBest.set(x.subarray(o, o + size), o);
        gradBest.set(grad.subarray(o, o + size), o);
      }
      if (confirmed.has(r)) {
        success[r] = 1;
        adv.set(x.subarray(o, o + size), o);
      }
    });
    active = active.filter((r) => !confirmed.has(r));
  };

  evaluate(0);
  let window = Math.max(Math.floor(0.22 * steps), 1);
  const minWindow = Math.max(Math.floor(0.06 * steps), 1);
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  let counter = 0;
  const z = new Float64Array(size);
  const w = new Float64Array(size);
  for (let i = 0; i < steps && active.length > 0; i++) {
    ctx.note?.(`iteration ${i + 1}/${steps}`);
    const a = i > 0 ? MOMENTUM : 1;
    for (const r of active) {
      const o = r * size;
      const eps = spec.radius[r]!;
      const xr = x.subarray(o, o + size);
      const x0r = x0.subarray(o, o + size);
      const g = grad.subarray(o, o + size);
      let gl = 0;
      if (norm === 'l2') {
        for (let t = 0; t < size; t++) gl += g[t]! * g[t]!;
        gl = Math.sqrt(gl) + TINY;
      }
      for (let t = 0; t < size; t++) {
        // Sign by comparison: a confident model's gradients are often below float32's epsilon.
        const d = norm === 'linf' ? (g[t]! > 0 ? 1 : g[t]! < 0 ? -1 : 0) : g[t]! / gl;
        w[t] = xr[t]! + eta[r]! * d;
      }
      projectBallBox(w, x0r, eps, norm, ctx.bounds, z);
      for (let t = 0; t < size; t++) w[t] = xr[t]! + a * (z[t]! - xr[t]!) + (1 - a) * (xr[t]! - xPrev[o + t]!);
      xPrev.set(xr, o);
      projectBallBox(w, x0r, eps, norm, ctx.bounds, xr);
    }
    evaluate(i + 1);
    if (++counter === window) {
      for (const r of active) {
        const reduce = halveStepSize({
          losses: history.subarray(r * (steps + 1), r * (steps + 1) + i + 2),
          window,
          rho: spec.rho,
          reducedLastCheck: reducedLastCheck[r] === 1,
          bestLastCheck: lossBestLastCheck[r]!,
          best: lossBest[r]!,
        });
        reducedLastCheck[r] = reduce ? 1 : 0;
        lossBestLastCheck[r] = lossBest[r]!;
        if (reduce) {
          eta[r] = eta[r]! / 2;
          const o = r * size;
          x.set(xBest.subarray(o, o + size), o);
          grad.set(gradBest.subarray(o, o + size), o);
        }
      }
      window = Math.max(window - decrease, minWindow);
      counter = 0;
    }
  }
  for (let r = 0; r < m; r++) if (!success[r]) adv.set(xBest.subarray(r * size, (r + 1) * size), r * size);
  return { adv, success };
}

/** The clean logit ranking: the class with the `rank`-th largest logit (0 = the top) per row. */
function classAtRank(logits: Float32Array, k: number, rank: number): Int32Array {
  const n = logits.length / k;
  const out = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const order = Array.from({ length: k }, (_, j) => j).sort((p, q) => logits[s * k + q]! - logits[s * k + p]! || p - q);
    out[s] = order[rank]!;
  }
  return out;
}

/** APGD with restarts (and, for DLR-T without user targets, the cycle over target classes) on one batch. */
export function autoPgd(
  ctx: BatchContext,
  run: IterativeRun,
  norm: ApgdNorm,
  loss: ApgdLoss,
  opts: AttackOptions,
): { adv: Float32Array; success: Uint8Array } {
  const n = ctx.labels.length;
  const size = ctx.size;
  const k = ctx.numClasses;
  if (loss === 'dlr' && k < 3) throw new InputError(`the DLR loss needs at least 3 classes (the model has ${k})`);
  if (loss === 'dlr-targeted' && k < 4) throw new InputError(`the targeted DLR loss needs at least 4 classes (the model has ${k})`);
  const adv = Float32Array.from(ctx.xData);
  const success = new Uint8Array(n);
  const steps = run.steps;
  const restarts = Math.max(1, Math.floor(Number(opts.restarts ?? 1)));
  const rho = Number(opts.rho ?? APGD_DEFAULTS.rho);
  const robust = () => Array.from({ length: n }, (_, s) => s).filter((s) => !success[s] && run.radius[s]! > 0);
  const once = (lossTargets: Int32Array | null, label: string) => {
    for (let restart = 0; restart < restarts; restart++) {
      const rows = robust();
      if (rows.length === 0 || steps < 1) return;
      const sub: BatchContext = {
        ...ctx,
        note: (d) => ctx.note?.(`${label}${restarts > 1 ? `restart ${restart + 1}/${restarts}, ` : ''}${d}`),
      };
      const r = apgdRun(sub, {
        norm,
        loss: ctx.targets && loss === 'dlr' ? 'dlr-targeted' : loss,
        steps,
        rho,
        rows,
        radius: Float32Array.from(rows, (s) => run.radius[s]!),
        labels: Int32Array.from(rows, (s) => ctx.labels[s]!),
        lossTargets: lossTargets ? Int32Array.from(rows, (s) => lossTargets[s]!) : null,
      });
      rows.forEach((s, i) => {
        // Broken samples keep their adversarial; the others the point of highest loss of the last run.
        adv.set(r.adv.subarray(i * size, (i + 1) * size), s * size);
        if (r.success[i]) success[s] = 1;
      });
    }
  };
  if (ctx.targets) once(ctx.targets, '');
  else if (loss === 'dlr-targeted') {
    const clean = logitsOf(ctx.model, ctx.x);
    const classes = Math.min(Math.floor(Number(opts.targetClasses ?? APGD_T_DEFAULTS.targetClasses)), k - 1);
    for (let c = 1; c <= classes; c++) once(classAtRank(clean, k, c), `target ${c}/${classes}, `);
  } else once(null, '');
  return { adv, success };
}

/** An APGD attack in the registry's iterative shape. */
function make(loss: ApgdLoss, norm: ApgdNorm): IterativeAttack {
  const short = loss === 'ce' ? 'ce' : loss === 'dlr' ? 'dlr' : 't';
  const lossName = loss === 'ce' ? 'cross-entropy' : loss === 'dlr' ? 'DLR' : 'targeted DLR over the top-9 other classes';
  return {
    name: `apgd-${short}${norm === 'l2' ? '-l2' : ''}`,
    title: `APGD (${NORM_LABEL[norm]}, ${lossName})`,
    reference:
      'Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks" (AutoAttack); reference code fra31/auto-attack',
    norm,
    kind: 'iterative',
    defaults: loss === 'dlr-targeted' ? { ...APGD_T_DEFAULTS } : { ...APGD_DEFAULTS },
    budgetUnit: () => `ε = ${NORM_LABEL[norm]} norm of the perturbation`,
    radius: (budget) => budget,
    clipByDefault: true,
    fixedRun: (radius, opts) => ({
      radius,
      stepsize: radius.map((r) => 2 * r),
      steps: Number(opts.steps),
      randomStart: true,
      returnEarly: true,
    }),
    // Foolbox 2-style grow-and-bisect search on ε (attacks/search.ts), `searchSteps` iterations per try.
    searchRun: (opts, size) => ({
      radius: Number(opts.searchEpsilon) * foolbox2Unit(norm, size),
      stepRatio: 2,
      steps: Number(opts.searchSteps),
      randomStart: true,
    }),
    iterate: (ctx, run, opts) => autoPgd(ctx, run, norm, loss, opts),
  };
}

export const apgdCe = make('ce', 'linf');
export const apgdCeL2 = make('ce', 'l2');
export const apgdDlr = make('dlr', 'linf');
export const apgdDlrL2 = make('dlr', 'l2');
export const apgdT = make('dlr-targeted', 'linf');
export const apgdTL2 = make('dlr-targeted', 'l2');
