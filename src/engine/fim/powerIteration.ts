import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import { softmax64 } from './inputFim';
import { tidyRead } from '../util/read';

/**
 * Optional fast path for many classes: power iteration on G_x with one backward pass per
 * iteration instead of K. Each product uses the secant identity
 *   G_x d = Zᵀ (diag p − p pᵀ) Z d ≈ Z(x + ξd)ᵀ (p(x + ξd) − p(x)) / ξ,
 * the same finite-difference trick as virtual adversarial training (Miyato et al. 2018) and the
 * third-party OSSA code. It is approximate (ξ, the iteration count, a small eigengap, ReLU kinks
 * within ξ) — the exact Gram route in inputFim.ts is the reference it is tested against.
 */
export interface PowerIterationOptions {
  iterations?: number;
  /** l2 length of the finite-difference step. */
  xi?: number;
  seed?: number;
}

export const POWER_DEFAULTS = { iterations: 30, xi: 1e-3, seed: 0 } as const;

export function powerIterationTopEigen(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  opts: PowerIterationOptions = {},
): { lambdaMax: Float64Array; eigenvectors: Float32Array } {
  const iterations = opts.iterations ?? POWER_DEFAULTS.iterations;
  const xi = opts.xi ?? POWER_DEFAULTS.xi;
  const [b, h, w, c] = x.shape;
  const n = h * w * c;
  const logitsOf = (t: tf.Tensor4D) => tidyRead(() => model.apply(t, { training: false }) as tf.Tensor2D);
  const z0 = logitsOf(x);
  const k = z0.length / b;
  const p0 = new Float64Array(b * k);
  for (let s = 0; s < b; s++) p0.set(softmax64(z0, s * k, k), s * k);
  const rng = seedrandom(`power:${opts.seed ?? POWER_DEFAULTS.seed}`);
  const d = new Float32Array(b * n);
  for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  normalizeRows(d, b, n);
  const lambdaMax = new Float64Array(b);
  for (let it = 0; it < iterations; it++) {
    const xe = tf.tidy(() => tf.add<tf.Tensor4D>(x, tf.mul(tf.tensor4d(d, [b, h, w, c]), xi)));
    const z1 = logitsOf(xe);
    const wts = new Float32Array(b * k);
    for (let s = 0; s < b; s++) {
      const p1 = softmax64(z1, s * k, k);
      for (let i = 0; i < k; i++) wts[s * k + i] = (p1[i]! - p0[s * k + i]!) / xi;
    }
    const u = tidyRead(() => {
      const wt = tf.tensor2d(wts, [b, k]);
      return tf.grad((t: tf.Tensor) => tf.sum<tf.Scalar>(tf.mul(model.apply(t, { training: false }) as tf.Tensor, wt)))(xe);
    });
    xe.dispose();
    for (let s = 0; s < b; s++) {
      let dot = 0;
      for (let t = 0; t < n; t++) dot += d[s * n + t]! * u[s * n + t]!;
      lambdaMax[s] = dot;
    }
    d.set(u);
    normalizeRows(d, b, n);
  }
  return { lambdaMax, eigenvectors: d };
}

function normalizeRows(a: Float32Array, rows: number, n: number): void {
  for (let s = 0; s < rows; s++) {
    let norm = 0;
    for (let t = 0; t < n; t++) norm += a[s * n + t]! * a[s * n + t]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let t = 0; t < n; t++) a[s * n + t]! /= norm;
  }
}
