/**
 * Symmetric eigensolver for the small K×K Gram matrices of the input FIM (K = number of classes).
 * Cyclic Jacobi rotations in float64: unconditionally convergent, accurate to a few ulps of the
 * largest eigenvalue, and fast enough for K ≤ ~100 — a LAPACK binding would be overkill here.
 */
export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Row-major K×K; row r is the unit eigenvector of values[r]. */
  vectors: Float64Array;
}

const MAX_SWEEPS = 100;

/** Eigen-decomposition of the symmetric n×n row-major matrix `a` (only symmetry is assumed). */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} entries, got ${a.length}`);
  const m = Float64Array.from(a);
  // Symmetrise so round-off in the caller's Gram matrix cannot bias the rotations.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (m[i * n + j]! + m[j * n + i]!);
      m[i * n + j] = s;
      m[j * n + i] = s;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(m[i]!));
  if (scale > 0 && Number.isFinite(scale)) {
    for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      let off = 0;
      for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
      if (Math.sqrt(off) <= 1e-15 * scale) break;
      for (let p = 0; p < n; p++) {
        for (let q = p + 1; q < n; q++) {
          const apq = m[p * n + q]!;
          if (Math.abs(apq) <= 1e-300) continue;
          const app = m[p * n + p]!;
          const aqq = m[q * n + q]!;
          // Rotation angle that zeroes a_pq (Golub & Van Loan, Algorithm 8.4.1).
          const tau = (aqq - app) / (2 * apq);
          const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
          const c = 1 / Math.sqrt(1 + t * t);
          const s = t * c;
          for (let k = 0; k < n; k++) {
            const akp = m[k * n + p]!;
            const akq = m[k * n + q]!;
            m[k * n + p] = c * akp - s * akq;
            m[k * n + q] = s * akp + c * akq;
          }
          for (let k = 0; k < n; k++) {
            const apk = m[p * n + k]!;
            const aqk = m[q * n + k]!;
            m[p * n + k] = c * apk - s * aqk;
            m[q * n + k] = s * apk + c * aqk;
          }
          for (let k = 0; k < n; k++) {
            const vkp = v[k * n + p]!;
            const vkq = v[k * n + q]!;
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
          }
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j]! - m[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, r) => {
    values[r] = m[col * n + col]!;
    for (let k = 0; k < n; k++) vectors[r * n + k] = v[k * n + col]!;
  });
  return { values, vectors };
}

/** Largest eigenvalue and its unit eigenvector. */
export function topEigenpair(a: ArrayLike<number>, n: number): { value: number; vector: Float64Array } {
  const e = symmetricEigen(a, n);
  return { value: e.values[0]!, vector: e.vectors.slice(0, n) };
}
