import type { AttackOptions } from '../../runs/evals';
import type { BatchContext, IterativeAttack, IterativeRun } from './attack';
import { foolbox2Unit } from './iterative';
import { squareFraction, squareSearch } from './square';

/**
 * Square Attack, l2 (Andriushchenko, Croce, Flammarion, Hein 2020, §3.2; reference code
 * fra31/auto-attack, square.py): gradient-free random search on the logit margin, like the l∞
 * version, with the l2 paper's perturbation shapes.
 *  - Start: a 5×5 grid of tiles of side ⌊H/5⌋, each holding the "η" pattern (two rectangles of
 *    opposite sign whose entries fall off as 1/(k+1)² in concentric rings, randomly transposed) with
 *    a random sign per channel; the whole perturbation scaled to ‖δ‖₂ = ε, then clipped to [0, 1].
 *  - Each query picks two random windows of side s (odd, ≥ 3, s² ≈ p·H·W with p on the Square
 *    schedule): the second window's perturbation is removed and its l2 mass, with whatever mass ε
 *    leaves unused, is put into the first window as a fresh η pattern (random sign per channel)
 *    added to the window's old direction; the result is rescaled to ‖δ‖₂ = ε and clipped. The
 *    change is kept only if the margin falls (or the input becomes adversarial).
 * Windows and signs are drawn per sample (the reference draws the window position once per batch).
 */
export const SQUARE_L2_DEFAULTS = { queries: 5000, pInit: 0.8, rescaleSchedule: true, searchEpsilon: 0.3, searchQueries: 300 } as const;

const TINY = 1e-12;

/** The reference's eta_rectangles(x, y): concentric rings of weight 1/(k+1)², unit l2 norm; row-major [x, y]. */
export function etaRectangles(x: number, y: number): Float64Array {
  const d = new Float64Array(x * y);
  const xc = Math.floor(x / 2) + 1;
  const yc = Math.floor(y / 2) + 1;
  let c0 = xc - 1;
  let c1 = yc - 1;
  for (let k = 0; k < Math.max(xc, yc); k++) {
    for (let i = Math.max(c0, 0); i < Math.min(c0 + 2 * k + 1, x); i++)
      for (let j = Math.max(c1, 0); j < Math.min(c1 + 2 * k + 1, y); j++) d[i * y + j]! += 1 / (k + 1) ** 2;
    c0--;
    c1--;
  }
  return unit(d);
}

function unit(d: Float64Array): Float64Array {
  let n = 0;
  for (const v of d) n += v * v;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < d.length; i++) d[i]! /= n;
  return d;
}

/** The reference's eta(s): an s×s pattern, top ⌊s/2⌋ rows positive, the rest negative, unit l2 norm; transposed when `transpose`. */
export function etaPattern(s: number, transpose: boolean): Float64Array {
  const top = etaRectangles(Math.floor(s / 2), s);
  const bottom = etaRectangles(s - Math.floor(s / 2), s);
  const d = new Float64Array(s * s);
  d.set(top, 0);
  for (let i = 0; i < bottom.length; i++) d[top.length + i] = -bottom[i]!;
  unit(d);
  if (!transpose) return d;
  const t = new Float64Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = d[i * s + j]!;
  return t;
}

export function squareL2(ctx: BatchContext, run: IterativeRun, opts: AttackOptions): { adv: Float32Array; success: Uint8Array } {
  const n = ctx.labels.length;
  const size = ctx.size;
  const [h, w, c] = ctx.shape;
  const [lo, hi] = ctx.bounds;
  const pInit = Number(opts.pInit ?? SQUARE_L2_DEFAULTS.pInit);
  const rescale = opts.rescaleSchedule !== false;
  const queries = run.steps;
  const sign = () => (ctx.rng() < 0.5 ? -1 : 1);
  const at = (y: number, x: number, ch: number) => (y * w + x) * c + ch;
  const { best, success, start, offer } = squareSearch(ctx);
  // x + ε·δ/‖δ‖₂, clipped, into `out` at sample s.
  const place = (s: number, delta: Float64Array, eps: number, out: Float32Array) => {
    let len = 0;
    for (const v of delta) len += v * v;
    const f = eps / (Math.sqrt(len) + TINY);
    const o = s * size;
    for (let t = 0; t < size; t++) {
      const v = ctx.xData[o + t]! + delta[t]! * f;
      out[o + t] = v < lo ? lo : v > hi ? hi : v;
    }
  };

  let active = Array.from({ length: n }, (_, s) => s).filter((s) => run.radius[s]! > 0);
  if (active.length === 0 || queries < 1) return { adv: best, success };
  const tile = Math.max(Math.floor(h / 5), 1);
  const offset = Math.floor((h - tile * 5) / 2);
  for (const s of active) {
    const delta = new Float64Array(size);
    for (let ty = 0, vh = offset; ty < Math.floor(h / tile); ty++, vh += tile) {
      for (let tx = 0, vw = offset; tx < Math.floor(w / tile); tx++, vw += tile) {
        const eta = etaPattern(tile, ctx.rng() > 0.5);
        for (let ch = 0; ch < c; ch++) {
          const sg = sign();
          for (let i = 0; i < tile; i++)
            for (let j = 0; j < tile; j++) if (vh + i < h && vw + j < w) delta[at(vh + i, vw + j, ch)]! += eta[i * tile + j]! * sg;
        }
      }
    }
    place(s, delta, run.radius[s]!, best);
  }
  active = start(active);

  const cand = new Float32Array(n * size);
  const delta = new Float64Array(size);
  for (let it = 0; it < queries && active.length > 0; it++) {
    const p = squareFraction(pInit, it, queries, rescale);
    let side = Math.max(Math.round(Math.sqrt((p * size) / c)), 3);
    if (side % 2 === 0) side++;
    side = Math.min(side, Math.min(h, w));
    for (const s of active) {
      const eps = run.radius[s]!;
      const o = s * size;
      let imageNorm = 0;
      for (let t = 0; t < size; t++) {
        delta[t] = best[o + t]! - ctx.xData[o + t]!;
        imageNorm += delta[t]! * delta[t]!;
      }
      const vh = Math.floor(ctx.rng() * (h - side));
      const vw = Math.floor(ctx.rng() * (w - side));
      const vh2 = Math.floor(ctx.rng() * (h - side));
      const vw2 = Math.floor(ctx.rng() * (w - side));
      const inFirst = (y: number, x: number) => y >= vh && y < vh + side && x >= vw && x < vw + side;
      const inSecond = (y: number, x: number) => y >= vh2 && y < vh2 + side && x >= vw2 && x < vw2 + side;
      const eta = etaPattern(side, ctx.rng() > 0.5);
      const fresh = new Float64Array(side * side * c);
      for (let ch = 0; ch < c; ch++) {
        let first = 0;
        let both = 0;
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const v = delta[at(y, x, ch)]!;
            if (inFirst(y, x)) first += v * v;
            if (inFirst(y, x) || inSecond(y, x)) both += v * v;
          }
        first = Math.sqrt(first);
        const sg = sign();
        let len = 0;
        for (let i = 0; i < side; i++)
          for (let j = 0; j < side; j++) {
            const v = eta[i * side + j]! * sg + delta[at(vh + i, vw + j, ch)]! / (TINY + first);
            fresh[(i * side + j) * c + ch] = v;
            len += v * v;
          }
        const mass = Math.sqrt(Math.max(eps * eps - imageNorm, 0) / c + both);
        const f = mass / (TINY + Math.sqrt(len));
        for (let i = 0; i < side * side; i++) fresh[i * c + ch]! *= f;
      }
      for (let y = vh2; y < vh2 + side; y++) for (let x = vw2; x < vw2 + side; x++) for (let ch = 0; ch < c; ch++) delta[at(y, x, ch)] = 0;
      for (let i = 0; i < side; i++)
        for (let j = 0; j < side; j++) for (let ch = 0; ch < c; ch++) delta[at(vh + i, vw + j, ch)] = fresh[(i * side + j) * c + ch]!;
      place(s, delta, eps, cand);
    }
    active = offer(cand, active);
  }
  return { adv: best, success };
}

export const squareL2Attack: IterativeAttack = {
  name: 'square-l2',
  title: 'Square Attack (l2, gradient-free random search)',
  reference:
    'Andriushchenko, Croce, Flammarion, Hein 2020, "Square Attack: a query-efficient black-box adversarial attack via random search"',
  norm: 'l2',
  kind: 'iterative',
  defaults: { ...SQUARE_L2_DEFAULTS },
  budgetUnit: () => 'ε = l2 norm of the perturbation (pixels in [0, 1])',
  radius: (budget) => budget,
  clipByDefault: true,
  fixedRun: (radius, opts) => ({ radius, stepsize: radius, steps: Number(opts.queries), randomStart: true, returnEarly: true }),
  // Foolbox 2-style binary search on ε (attacks/search.ts), searchEpsilon in its RMS unit.
  searchRun: (opts, size) => ({
    radius: Number(opts.searchEpsilon) * foolbox2Unit('l2', size),
    stepRatio: 1,
    steps: Number(opts.searchQueries),
    randomStart: true,
  }),
  iterate: (ctx, run, opts) => squareL2(ctx, run, opts),
};
