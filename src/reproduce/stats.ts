import seedrandom from 'seedrandom';
import { mean } from '../shared/stats';

/**
 * Statistics the reproduction report needs beyond util/stats.ts: a paired comparison of two
 * attacks on the same samples (exact sign test, as McNemar's test for small counts) and seeded
 * bootstrap intervals for means and ratios of means.
 */

/** log C(m, i) via lgamma-free summation (m is at most a few thousand here). */
function logChoose(m: number, i: number): number {
  let s = 0;
  for (let t = 1; t <= i; t++) s += Math.log(m - i + t) - Math.log(t);
  return s;
}

/** Two-sided exact binomial p-value of k successes in m trials with p = 1/2. */
export function signTestP(k: number, m: number): number {
  if (m === 0) return 1;
  const lo = Math.min(k, m - k);
  let tail = 0;
  for (let i = 0; i <= lo; i++) tail += Math.exp(logChoose(m, i) - m * Math.LN2);
  return Math.min(1, 2 * tail);
}

export interface PairedComparison {
  /** Samples only attack A fooled, only attack B fooled; fooling ratios of each. */
  onlyA: number;
  onlyB: number;
  ratioA: number;
  ratioB: number;
  n: number;
  /** Sign-test p-value for "A and B fool equally often" on the discordant samples. */
  p: number;
}

/** Compares two per-sample success vectors over the same samples. */
export function paired(a: ArrayLike<number>, b: ArrayLike<number>): PairedComparison {
  if (a.length !== b.length) throw new RangeError(`paired comparison of ${a.length} and ${b.length} samples`);
  let onlyA = 0;
  let onlyB = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0;
    const y = b[i] ? 1 : 0;
    sa += x;
    sb += y;
    if (x && !y) onlyA++;
    if (y && !x) onlyB++;
  }
  const n = a.length;
  return { onlyA, onlyB, ratioA: n ? sa / n : NaN, ratioB: n ? sb / n : NaN, n, p: signTestP(onlyA, onlyA + onlyB) };
}

/** Whether A fools more often than B by at least `minDiff`, significantly at level `alpha`. */
export function clearlyStronger(c: PairedComparison, minDiff: number, alpha = 0.05): boolean {
  return c.ratioA - c.ratioB >= minDiff && c.onlyA > c.onlyB && c.p < alpha;
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function resampleMean(xs: ArrayLike<number>, rng: () => number): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rng() * xs.length)]!;
  return s / xs.length;
}

/** 95% percentile-bootstrap interval of the mean (seeded, so a report is reproducible). */
export function bootstrapMeanCi(xs: ArrayLike<number>, seed = 'fim-bootstrap', rounds = 2000): [number, number] {
  if (xs.length === 0) return [NaN, NaN];
  if (xs.length === 1) return [xs[0]!, xs[0]!];
  const rng = seedrandom(seed);
  const out = new Float64Array(rounds);
  for (let r = 0; r < rounds; r++) out[r] = resampleMean(xs, rng);
  out.sort();
  return [percentile(out, 0.025), percentile(out, 0.975)];
}

/** 95% percentile-bootstrap interval of mean(b) / mean(a), resampling both independently. */
export function bootstrapRatioCi(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  seed = 'fim-bootstrap-ratio',
  rounds = 2000,
): [number, number] {
  if (a.length === 0 || b.length === 0) return [NaN, NaN];
  const rng = seedrandom(seed);
  const out = new Float64Array(rounds);
  for (let r = 0; r < rounds; r++) out[r] = resampleMean(b, rng) / resampleMean(a, rng);
  out.sort();
  return [percentile(out, 0.025), percentile(out, 0.975)];
}

/** Sample standard deviation (null for fewer than two values). */
export function sampleSd(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, v) => a + (v - m) * (v - m), 0) / (xs.length - 1));
}
