/**
 * The smallest step onto a hyperplane inside a box, in l∞ or l2: the projection at the heart of
 * FAB (Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary
 * attack", §3.1). Given a point x in the box [lo, hi]^N and the hyperplane {z : w·z = b}, find
 *
 *   d* = argmin ‖d‖_p  subject to  w·(x + d) = b,  lo ≤ x + d ≤ hi.
 *
 * Write c = b − w·x and flip signs so that c > 0. Moving coordinate i towards sign(w_i) raises w·d
 * at rate |w_i|, by at most its room to the box, cap_i (hi − x_i or x_i − lo). Then:
 *  - l∞: d_i = sign(w_i)·min(r, cap_i), and the smallest r whose gain Σ |w_i|·min(r, cap_i)
 *    reaches c is found on the sorted caps;
 *  - l2 (KKT): d_i = sign(w_i)·min(λ|w_i|, cap_i), and λ solves Σ |w_i|·min(λ|w_i|, cap_i) = c on
 *    the sorted breakpoints cap_i/|w_i|.
 * The gain is piecewise linear and non-decreasing, so each is one sort and one scan. When even
 * the whole box cannot reach the hyperplane, the answer is the box corner that gets closest
 * (every coordinate at its cap), as in the reference implementation. For l2, coordinates with
 * |w_i| ≤ 1e-8 stay put, as there.
 */
export type HyperplaneNorm = 'linf' | 'l2';

const L2_ZERO = 1e-8;

/** Work arrays, reused across calls (FAB calls this twice per sample and iteration). */
let work: { at: Int32Array; aw: Float64Array; cap: Float64Array; rate: Float64Array; bp: Float64Array; sorted: Float64Array } | null = null;
function scratch(n: number) {
  if (!work || work.at.length < n)
    work = {
      at: new Int32Array(n),
      aw: new Float64Array(n),
      cap: new Float64Array(n),
      rate: new Float64Array(n),
      bp: new Float64Array(n),
      sorted: new Float64Array(n),
    };
  return work;
}

/**
 * Writes d* into `out` (length N) for point x, hyperplane w·z = b and box [lo, hi]; returns
 * whether the hyperplane was reached (false: the closest corner was returned instead).
 */
export function boxHyperplaneStep(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: number,
  norm: HyperplaneNorm,
  bounds: [number, number],
  out: Float64Array | Float32Array,
): boolean {
  const n = x.length;
  const [lo, hi] = bounds;
  let c = b;
  for (let i = 0; i < n; i++) c -= w[i]! * x[i]!;
  out.fill(0);
  if (c === 0) return true;
  const flip = c < 0 ? -1 : 1;
  c *= flip;
  // Per moving coordinate (packed): its index, direction, |w_i|, its room to the box and its rate
  // u_i (1 for l∞, |w_i| for l2: d_i = t·u_i until capped); its breakpoint is cap_i/u_i.
  const { at, aw, cap, rate, bp, sorted: sortBuf } = scratch(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]! * flip;
    if (wi === 0 || (norm === 'l2' && Math.abs(wi) <= L2_ZERO)) continue;
    const a = Math.abs(wi);
    at[m] = wi > 0 ? i + 1 : -(i + 1);
    aw[m] = a;
    rate[m] = norm === 'linf' ? 1 : a;
    cap[m] = Math.max(0, wi > 0 ? hi - x[i]! : x[i]! - lo);
    bp[m] = cap[m]! / rate[m]!;
    m++;
  }
  const gain = (t: number) => {
    let g = 0;
    for (let j = 0; j < m; j++) g += aw[j]! * Math.min(t * rate[j]!, cap[j]!);
    return g;
  };
  // The gain is piecewise linear between breakpoints: find the first breakpoint where it reaches c
  // (binary search over the sorted breakpoints), then solve the linear piece below it.
  sortBuf.set(bp.subarray(0, m));
  const sorted = sortBuf.subarray(0, m).sort();
  const reached = m > 0 && gain(sorted[m - 1]!) >= c;
  let t = Infinity;
  if (reached) {
    let a = 0;
    let b = m - 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (gain(sorted[mid]!) >= c) b = mid;
      else a = mid + 1;
    }
    const below = a > 0 ? sorted[a - 1]! : 0;
    let capped = 0;
    let slope = 0;
    for (let j = 0; j < m; j++) {
      if (bp[j]! <= below) capped += aw[j]! * cap[j]!;
      else slope += aw[j]! * rate[j]!;
    }
    t = slope > 0 ? (c - capped) / slope : below;
  }
  for (let j = 0; j < m; j++) {
    const i = Math.abs(at[j]!) - 1;
    out[i] = (at[j]! > 0 ? 1 : -1) * Math.min(t * rate[j]!, cap[j]!);
  }
  return reached;
}
