/** A standard normal sample from a uniform generator (Box–Muller). */
export function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** `rows` random unit vectors of length `n` (uniform on the sphere), row-major. */
export function unitRows(rows: number, n: number, rng: () => number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let len = 0;
    const o = r * n;
    for (let t = 0; t < n; t++) {
      const g = gaussian(rng);
      out[o + t] = g;
      len += g * g;
    }
    const inv = len > 0 ? 1 / Math.sqrt(len) : 0;
    for (let t = 0; t < n; t++) out[o + t]! *= inv;
  }
  return out;
}
