/** Small descriptive statistics used across evaluations (float64, NaN-free inputs expected). */

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

export function median(xs: ArrayLike<number>): number {
  return quantile(xs, 0.5);
}

export function quantile(xs: ArrayLike<number>, q: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  // Exact positions and equal neighbours need no interpolation (which would turn ∞ − ∞ into NaN).
  if (lo === hi || s[lo] === s[hi]) return s[lo]!;
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * Wilson score interval for a binomial proportion (k successes of n), 95% by default. Used for
 * fooling ratios: unlike the normal approximation it stays inside [0, 1] near 0% and 100%.
 */
export function wilsonInterval(k: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
