import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { symmetricEigen, topEigenpair } from '../../../src/engine/fim/eigen';
import { randomArray } from '../../helpers';

/** A random orthogonal matrix (product of Householder reflections), row-major n×n. */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let r = 0; r < n; r++) {
    const v = Float64Array.from(randomArray(n, seed + r));
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) v[i]! /= norm;
    // Q ← Q (I − 2vvᵀ)
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[i * n + k]! * v[k]!;
      for (let k = 0; k < n; k++) q[i * n + k]! -= 2 * dot * v[k]!;
    }
  }
  return q;
}

/** Q diag(d) Qᵀ. */
function withSpectrum(d: number[], seed: number): Float64Array {
  const n = d.length;
  const q = randomOrthogonal(n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += q[i * n + k]! * d[k]! * q[j * n + k]!;
  return a;
}

test('2×2 matrix with known eigenpairs', () => {
  // [[2, 1], [1, 2]] has eigenvalues 3 (1,1)/√2 and 1 (1,−1)/√2.
  const e = symmetricEigen([2, 1, 1, 2], 2);
  assert.ok(Math.abs(e.values[0]! - 3) < 1e-14 && Math.abs(e.values[1]! - 1) < 1e-14);
  assert.ok(Math.abs(Math.abs(e.vectors[0]!) - Math.SQRT1_2) < 1e-14 && Math.abs(e.vectors[0]! - e.vectors[1]!) < 1e-14);
});

test('diagonal matrices are sorted descending, including negative entries', () => {
  const e = symmetricEigen([1, 0, 0, 0, -4, 0, 0, 0, 7], 3);
  assert.deepEqual(Array.from(e.values), [7, 1, -4]);
});

for (const n of [3, 10, 43]) {
  test(`random ${n}×${n} matrices: spectrum recovered, A v = λ v, eigenvectors orthonormal`, () => {
    const spectrum = Array.from(randomArray(n, 100 + n, 0, 10))
      .map(Number)
      .sort((a, b) => b - a);
    const a = withSpectrum(spectrum, n);
    const e = symmetricEigen(a, n);
    for (let i = 0; i < n; i++)
      assert.ok(Math.abs(e.values[i]! - spectrum[i]!) < 1e-10 * spectrum[0]!, `λ${i}: ${e.values[i]} vs ${spectrum[i]}`);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k]! * e.vectors[r * n + k]!;
        assert.ok(Math.abs(av - e.values[r]! * e.vectors[r * n + i]!) < 1e-10 * spectrum[0]!);
      }
      for (let s = 0; s < n; s++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += e.vectors[r * n + k]! * e.vectors[s * n + k]!;
        assert.ok(Math.abs(dot - (r === s ? 1 : 0)) < 1e-12);
      }
    }
  });
}

test('a repeated top eigenvalue and a rank-deficient PSD matrix (like a Gram matrix)', () => {
  const a = withSpectrum([5, 5, 1, 0, 0], 9);
  const top = topEigenpair(a, 5);
  assert.ok(Math.abs(top.value - 5) < 1e-12);
  const e = symmetricEigen(a, 5);
  assert.ok(Math.abs(e.values[3]!) < 1e-12 && Math.abs(e.values[4]!) < 1e-12);
});

test('the zero matrix and wrong sizes', () => {
  assert.deepEqual(Array.from(symmetricEigen([0, 0, 0, 0], 2).values), [0, 0]);
  assert.throws(() => symmetricEigen([1, 2, 3], 2), RangeError);
});
