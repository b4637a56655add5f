import type { BatchContext, IterativeAttack, IterativeRun } from './attack';
import type { AttackOptions } from '../../runs/evals';
import { gatherRows, isAdversarial } from './context';
import { argmaxRows, logitsOf } from '../models/predict';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Square Attack, l∞ (Andriushchenko, Croce, Flammarion, Hein 2020, "Square Attack: a
 * query-efficient black-box adversarial attack via random search"): a score-based attack that never
 * looks at a gradient, so gradient masking (vanishing, shattered or saturated gradients) cannot
 * hide adversarials from it. That is why the reproduction's sanity checks use it.
 *
 * Random search on the logit margin m = z_y − max_{j≠y} z_j (targeted: max_{j≠t} z_j − z_t; the
 * input is adversarial once m < 0): start from vertical stripes of ±ε per column and channel, then
 * per query re-draw one random square window of the perturbation (side √(p·H·W), each channel ±ε)
 * and keep the change only if the margin fell. p follows the authors' piecewise-constant schedule,
 * halving at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000 queries, stretched to
 * the query budget (`rescaleSchedule`, the reference's resc_schedule) or not (AutoAttack runs
 * 5,000 queries from p = 0.8 on the unstretched schedule). A sample stops at its first
 * adversarial. A budget's query count is `queries` (one model call per query).
 */
export const SQUARE_DEFAULTS = { queries: 1000, pInit: 0.3, rescaleSchedule: true, searchEpsilon: 0.3, searchQueries: 300 } as const;

/** AutoAttack's Square settings (autoattack.py: 5,000 queries, p_init 0.8, resc_schedule off). */
export const AUTOATTACK_SQUARE = { queries: 5000, pInit: 0.8, rescaleSchedule: false } as const;

/**
 * Fraction of pixels a window covers at query `it` of `total` (the authors' p_selection); with
 * `rescale` the 10,000-query schedule is stretched to `total`.
 */
export function squareFraction(pInit: number, it: number, total: number, rescale = true): number {
  const i = rescale ? Math.floor((it / total) * 10000) : it;
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const c of cuts) if (i > c) p /= 2;
  return p;
}

/** Per-sample margins (negative = adversarial) of logits [m, K] for the rows' classes. */
export function margins(logits: Float32Array, k: number, classes: Int32Array, targeted: boolean): Float64Array {
  const m = classes.length;
  const out = new Float64Array(m);
  for (let s = 0; s < m; s++) {
    const c = classes[s]!;
    let other = -Infinity;
    for (let j = 0; j < k; j++) if (j !== c) other = Math.max(other, logits[s * k + j]!);
    const zc = logits[s * k + c]!;
    out[s] = targeted ? other - zc : zc - other;
  }
  return out;
}

/**
 * The random search both Square attacks share (l∞ here, l2 in squareL2.ts): the best point and
 * logit margin per sample so far, and the margin query. `start` scores the initial perturbations
 * in `best`; `offer` keeps each sample's candidate where it lowers the margin or is adversarial.
 * Both return the samples still to attack (not yet adversarial).
 */
export function squareSearch(ctx: BatchContext) {
  const size = ctx.size;
  const targeted = Boolean(ctx.targets);
  const classes = ctx.targets ?? ctx.labels;
  const best = Float32Array.from(ctx.xData);
  const success = new Uint8Array(ctx.labels.length);
  const bestMargin = new Float64Array(ctx.labels.length).fill(Infinity);

  // Logits of rows of a flat batch, their margins and adversarial flags (argmax, as everywhere).
  const query = (data: Float32Array, rows: number[]) => {
    const logits = tf.tidy(() => logitsOf(ctx.model, tf.tensor4d(gatherRows(data, rows, size), [rows.length, ...ctx.shape])));
    const cls = Int32Array.from(rows, (s) => classes[s]!);
    const pred = argmaxRows(logits, ctx.numClasses);
    return {
      margin: margins(logits, ctx.numClasses, cls, targeted),
      adversarial: rows.map((s, i) => isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])),
    };
  };
  const start = (active: number[]): number[] => {
    const r = query(best, active);
    active.forEach((s, i) => {
      bestMargin[s] = r.margin[i]!;
      if (r.adversarial[i]) success[s] = 1;
    });
    return active.filter((s) => !success[s]);
  };
  const offer = (cand: Float32Array, active: number[]): number[] => {
    const r = query(cand, active);
    active.forEach((s, i) => {
      if (r.margin[i]! < bestMargin[s]! || r.adversarial[i]) {
        bestMargin[s] = r.margin[i]!;
        best.set(cand.subarray(s * size, (s + 1) * size), s * size);
        if (r.adversarial[i]) success[s] = 1;
      }
    });
    return active.filter((s) => !success[s]);
  };
  return { best, success, start, offer };
}

export function squareLinf(ctx: BatchContext, run: IterativeRun, opts: AttackOptions): { adv: Float32Array; success: Uint8Array } {
  const n = ctx.labels.length;
  const size = ctx.size;
  const [h, w, c] = ctx.shape;
  const [lo, hi] = ctx.bounds;
  const pInit = Number(opts.pInit ?? SQUARE_DEFAULTS.pInit);
  const rescale = opts.rescaleSchedule !== false;
  const queries = run.steps;
  const clip = (v: number) => (v < lo ? lo : v > hi ? hi : v);
  const sign = () => (ctx.rng() < 0.5 ? -1 : 1);
  const { best, success, start, offer } = squareSearch(ctx);

  let active = Array.from({ length: n }, (_, s) => s).filter((s) => run.radius[s]! > 0);
  if (active.length === 0 || queries < 1) return { adv: best, success };
  // Vertical stripes: one sign per (column, channel), the same down the column.
  for (const s of active) {
    const eps = run.radius[s]!;
    const o = s * size;
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        const d = eps * sign();
        for (let y = 0; y < h; y++) {
          const t = o + (y * w + x) * c + ch;
          best[t] = clip(ctx.xData[t]! + d);
        }
      }
    }
  }
  active = start(active);

  const cand = new Float32Array(n * size);
  for (let it = 1; it < queries && active.length > 0; it++) {
    const p = squareFraction(pInit, it, queries, rescale);
    const side = Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), Math.max(1, h - 1));
    for (const s of active) {
      const eps = run.radius[s]!;
      const o = s * size;
      cand.set(best.subarray(o, o + size), o);
      // A window whose new values equal the current ones would waste a query: re-draw (bounded).
      for (let attempt = 0; attempt < 10; attempt++) {
        const y0 = Math.floor(ctx.rng() * (h - side + 1));
        const x0 = Math.floor(ctx.rng() * (w - side + 1));
        let changed = false;
        for (let ch = 0; ch < c; ch++) {
          const d = eps * sign();
          for (let y = y0; y < y0 + side; y++) {
            for (let x = x0; x < x0 + side; x++) {
              const t = o + (y * w + x) * c + ch;
              const v = clip(ctx.xData[t]! + d);
              if (v !== best[t]) changed = true;
              cand[t] = v;
            }
          }
        }
        if (changed) break;
        cand.set(best.subarray(o, o + size), o);
      }
    }
    active = offer(cand, active);
  }
  return { adv: best, success };
}

export const square: IterativeAttack = {
  name: 'square',
  title: 'Square Attack (l∞, gradient-free random search)',
  reference:
    'Andriushchenko, Croce, Flammarion, Hein 2020, "Square Attack: a query-efficient black-box adversarial attack via random search"',
  norm: 'linf',
  kind: 'iterative',
  defaults: { ...SQUARE_DEFAULTS },
  budgetUnit: () => 'ε = l∞ norm of the perturbation (pixels in [0, 1])',
  radius: (budget) => budget,
  clipByDefault: true,
  fixedRun: (radius, opts) => ({ radius, stepsize: radius, steps: Number(opts.queries), randomStart: true, returnEarly: true }),
  // Foolbox 2-style binary search on ε (attacks/search.ts) with `searchQueries` queries per try.
  searchRun: (opts) => ({ radius: Number(opts.searchEpsilon), stepRatio: 1, steps: Number(opts.searchQueries), randomStart: true }),
  iterate: (ctx, run, opts) => squareLinf(ctx, run, opts),
};
