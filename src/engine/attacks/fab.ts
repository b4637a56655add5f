import * as tf from '@tensorflow/tfjs-core';
import type { AttackOptions } from '../../runs/evals';
import type { BatchContext, MinimizationAttack } from './attack';
import { boxHyperplaneStep } from './boxHyperplane';
import { gatherRows, isAdversarial, predictRows } from './context';
import { NORM_LABEL } from './iterative';
import { logitsOf } from '../models/predict';
import { tidyReadAll } from '../util/read';

/**
 * Targeted FAB, the Fast Adaptive Boundary attack (Croce & Hein 2020, "Minimally distorted
 * adversarial examples with a fast adaptive boundary attack"), l∞ and l2, as AutoAttack runs it
 * (fra31/auto-attack, fab_base.py, targeted, one restart): a minimum-norm attack. For each of the 9
 * classes t with the largest clean logits after the predicted one, starting at the input x₀:
 *  - linearise the boundary between the label y and t at the iterate x: the hyperplane
 *    f(x) + ∇f(x)·(z − x) = 0 with f = z_t − z_y;
 *  - project both x and x₀ onto it inside the box [0, 1] (boxHyperplane.ts): steps d and d₀;
 *  - move to the convex combination (1 − α)(x + η·d) + α(x₀ + η·d₀), clipped to the box, with
 *    α = min(‖d‖/(‖d‖ + ‖d₀‖), α_max) (the bias towards the input) and η the extrapolation;
 *  - when the new iterate is misclassified, keep it if it is the closest so far and take the
 *    backward step x ← x₀ + β·(x − x₀) towards the input.
 * The result per sample is the closest adversarial over all target classes. `stopAtNorm` > 0
 * skips the remaining classes of a sample once it has one within that norm: AutoAttack's cascade
 * at a budget ε needs no more (its FAB-T leaves the samples broken within ε), the robustness curve
 * needs all. Decisions use the plain inference pass, as the reference's `_get_predicted_label`.
 */
export const FAB_T_DEFAULTS = { steps: 100, targetClasses: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9, stopAtNorm: 0 } as const;

type FabNorm = 'linf' | 'l2';

function norm(v: ArrayLike<number>, p: FabNorm): number {
  let acc = 0;
  for (let i = 0; i < v.length; i++) acc = p === 'linf' ? Math.max(acc, Math.abs(v[i]!)) : acc + v[i]! * v[i]!;
  return p === 'linf' ? acc : Math.sqrt(acc);
}

/** f = z_t − z_y and ∇_x f per row, one backward pass. */
function boundaryGradient(
  ctx: BatchContext,
  x: Float32Array,
  labels: Int32Array,
  targets: Int32Array,
): { f: Float32Array; grad: Float32Array } {
  const m = labels.length;
  const [grad, f] = tidyReadAll(() => {
    const k = ctx.numClasses;
    const sel = tf.sub(
      tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), k), 'float32'),
      tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), k), 'float32'),
    );
    let value: tf.Tensor | undefined;
    const g = tf.grad((inp: tf.Tensor) => {
      const z = ctx.model.apply(inp, { training: false }) as tf.Tensor2D;
      const d = tf.sum(tf.mul(z, sel), 1);
      value = tf.keep(d);
      return tf.sum<tf.Scalar>(d);
    })(tf.tensor4d(x, [m, ...ctx.shape]));
    return [g, value!];
  });
  return { f: f!, grad: grad! };
}

/**
 * One targeted FAB run on `rows` towards `targets` (one per row): the closest adversarial found and
 * its norm (Infinity: none). A row with an adversarial within `stopAt` (> 0) stops early.
 */
function fabRun(
  ctx: BatchContext,
  rows: number[],
  targets: Int32Array,
  p: FabNorm,
  opts: { steps: number; alphaMax: number; eta: number; beta: number; stopAt: number },
): { adv: Float32Array; dist: Float64Array } {
  const m = rows.length;
  const size = ctx.size;
  const x0 = gatherRows(ctx.xData, rows, size);
  const x = Float32Array.from(x0);
  const adv = Float32Array.from(x0);
  const dist = new Float64Array(m).fill(Infinity);
  const d = new Float64Array(size);
  const d0 = new Float64Array(size);
  const delta = new Float64Array(size);
  const [lo, hi] = ctx.bounds;
  let active = Array.from({ length: m }, (_, r) => r);
  for (let it = 0; it < opts.steps && active.length > 0; it++) {
    ctx.note?.(`iteration ${it + 1}/${opts.steps}`);
    const { f, grad } = boundaryGradient(
      ctx,
      gatherRows(x, active, size),
      Int32Array.from(active, (r) => ctx.labels[rows[r]!]!),
      Int32Array.from(active, (r) => targets[r]!),
    );
    active.forEach((r, i) => {
      const o = r * size;
      const xr = x.subarray(o, o + size);
      const x0r = x0.subarray(o, o + size);
      const w = grad.subarray(i * size, (i + 1) * size);
      // The linearised boundary w·z = w·x − f(x).
      let b = -f[i]!;
      for (let t = 0; t < size; t++) b += w[t]! * xr[t]!;
      boxHyperplaneStep(xr, w, b, p, ctx.bounds, d);
      boxHyperplaneStep(x0r, w, b, p, ctx.bounds, d0);
      const a1 = Math.max(norm(d, p), 1e-8);
      const a2 = Math.max(norm(d0, p), 1e-8);
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), opts.alphaMax);
      for (let t = 0; t < size; t++) {
        const v = (xr[t]! + opts.eta * d[t]!) * (1 - alpha) + (x0r[t]! + opts.eta * d0[t]!) * alpha;
        xr[t] = v < lo ? lo : v > hi ? hi : v;
      }
    });
    const pred = predictRows(ctx, x, active);
    active.forEach((r, i) => {
      const s = rows[r]!;
      if (!isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])) return;
      const o = r * size;
      for (let t = 0; t < size; t++) delta[t] = x[o + t]! - x0[o + t]!;
      const n = norm(delta, p);
      if (n < dist[r]!) {
        dist[r] = n;
        adv.set(x.subarray(o, o + size), o);
      }
      for (let t = 0; t < size; t++) x[o + t] = x0[o + t]! + delta[t]! * opts.beta;
    });
    if (opts.stopAt > 0) active = active.filter((r) => !(dist[r]! <= opts.stopAt));
  }
  return { adv, dist };
}

/** The class with the `rank`-th largest clean logit per row (0 = the top). */
function rankedClass(logits: Float32Array, k: number, rank: number): Int32Array {
  const n = logits.length / k;
  return Int32Array.from({ length: n }, (_, s) => {
    const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => logits[s * k + b]! - logits[s * k + a]! || a - b);
    return order[rank]!;
  });
}

export function fabTargeted(ctx: BatchContext, opts: AttackOptions, p: FabNorm): { adv: Float32Array; found: Uint8Array } {
  const n = ctx.labels.length;
  const size = ctx.size;
  const k = ctx.numClasses;
  const stopAt = Number(opts.stopAtNorm ?? 0);
  const settings = { steps: Number(opts.steps), alphaMax: Number(opts.alphaMax), eta: Number(opts.eta), beta: Number(opts.beta), stopAt };
  const best = Float32Array.from(ctx.xData);
  const bestDist = new Float64Array(n).fill(Infinity);
  const classes = ctx.targets ? 1 : Math.min(Math.floor(Number(opts.targetClasses)), k - 1);
  const clean = ctx.targets ? null : logitsOf(ctx.model, ctx.x);
  for (let c = 1; c <= classes; c++) {
    const targets = ctx.targets ?? rankedClass(clean!, k, c);
    const rows = Array.from({ length: n }, (_, s) => s).filter((s) => !(stopAt > 0 && bestDist[s]! <= stopAt));
    if (rows.length === 0) break;
    const r = fabRun(
      { ...ctx, note: (d) => ctx.note?.(`${classes > 1 ? `target ${c}/${classes}, ` : ''}${d}`) },
      rows,
      Int32Array.from(rows, (s) => targets[s]!),
      p,
      settings,
    );
    rows.forEach((s, i) => {
      if (r.dist[i]! < bestDist[s]!) {
        bestDist[s] = r.dist[i]!;
        best.set(r.adv.subarray(i * size, (i + 1) * size), s * size);
      }
    });
  }
  return { adv: best, found: Uint8Array.from(bestDist, (v) => (v < Infinity ? 1 : 0)) };
}

function make(p: FabNorm): MinimizationAttack {
  return {
    name: `fab-t${p === 'l2' ? '-l2' : ''}`,
    title: `FAB-T (${NORM_LABEL[p]}, targeted minimum-norm attack over the top-9 other classes)`,
    reference:
      'Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary attack"; as run by AutoAttack (fra31/auto-attack)',
    norm: p,
    kind: 'minimization',
    defaults: { ...FAB_T_DEFAULTS },
    budgetUnit: () => `ε = ${NORM_LABEL[p]} norm of the perturbation (FAB minimises it; a budget keeps adversarials within ε)`,
    radius: (budget) => budget,
    clipByDefault: true,
    minimize: (ctx, opts) => fabTargeted(ctx, opts, p),
  };
}

export const fabT = make('linf');
export const fabTL2 = make('l2');
