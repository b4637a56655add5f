import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { topEigenpair } from './eigen';
import { DEFAULT_MAX_ROWS, logitJacobian, type LogitGradients } from './jacobian';

/**
 * The input Fisher information G_x = Jᵀ diag(1/p) J = Σ_i p_i g_i g_iᵀ (J = ∂p/∂x, g_i = ∇_x log p_i),
 * exactly, without ever forming the N×N matrix (docs/design.md §1):
 *
 *   M = diag(p)^{-1/2} J has rows m_i = √p_i · g_i, so G_x = MᵀM, whose non-zero eigenvalues are
 *   those of the K×K Gram matrix A = M Mᵀ. If A u = λ u then v = Mᵀu / ‖Mᵀu‖ is G_x's unit
 *   eigenvector for λ.
 *
 * With the logit Jacobian Z = ∂z/∂x (K×N) and temperature T (p = softmax(z/T)):
 *   g_i = (Z_i − Σ_j p_j Z_j)/T, i.e. M = D^{1/2}(I − 1pᵀ) Z / T with D = diag(p), so
 *   A = D^{1/2}(I − 1pᵀ) (Z Zᵀ) (I − p1ᵀ) D^{1/2} / T².
 * Everything after the backward pass is float64, so a confident baseline's tiny p_i do not
 * underflow; and temperature-scaled statistics reuse the same Z Zᵀ.
 */
export interface InputFimEigen {
  /** Per-sample λmax(G_x). */
  lambdaMax: Float64Array;
  /** [B, N] unit top eigenvectors (the sign is arbitrary; OSSA chooses it). */
  eigenvectors: Float32Array;
  /** [B, K] probabilities (float64, from the logits). */
  probs: Float64Array;
  /** [B, K] logits. */
  logits: Float32Array;
}

export interface InputFimOptions {
  /** Softmax temperature T (statistics of softmax(z/T)); 1 = the model as is. */
  temperature?: number;
  /** Tiled rows per backward pass (memory bound). */
  maxRows?: number;
}

/** Float64 softmax of one logit row divided by T. */
export function softmax64(z: ArrayLike<number>, offset: number, k: number, temperature = 1): Float64Array {
  const p = new Float64Array(k);
  let max = -Infinity;
  for (let i = 0; i < k; i++) max = Math.max(max, z[offset + i]! / temperature);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    p[i] = Math.exp(z[offset + i]! / temperature - max);
    sum += p[i]!;
  }
  for (let i = 0; i < k; i++) p[i]! /= sum;
  return p;
}

/** Z Zᵀ (K×K, float64) for sample s of a Jacobian batch. */
export function logitGram(jac: LogitGradients, s: number): Float64Array {
  const { numClasses: k, inputSize: n, gradients } = jac;
  const base = s * k * n;
  const c = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      let acc = 0;
      const oi = base + i * n;
      const oj = base + j * n;
      for (let t = 0; t < n; t++) acc += gradients[oi + t]! * gradients[oj + t]!;
      c[i * k + j] = acc;
      c[j * k + i] = acc;
    }
  }
  return c;
}

/** A = D^{1/2}(I − 1pᵀ) C (I − p1ᵀ) D^{1/2} / T², the Gram matrix M Mᵀ. */
export function fisherGram(c: Float64Array, p: Float64Array, temperature = 1): Float64Array {
  const k = p.length;
  // B = (I − 1pᵀ) C (I − p1ᵀ): b_ij = c_ij − r_i − r_j + q with r = C p, q = pᵀ C p.
  const r = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let acc = 0;
    for (let j = 0; j < k; j++) acc += c[i * k + j]! * p[j]!;
    r[i] = acc;
  }
  let q = 0;
  for (let i = 0; i < k; i++) q += p[i]! * r[i]!;
  const a = new Float64Array(k * k);
  const t2 = temperature * temperature;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) a[i * k + j] = (Math.sqrt(p[i]! * p[j]!) * (c[i * k + j]! - r[i]! - r[j]! + q)) / t2;
  }
  return a;
}

/** Top eigenpair of G_x for sample s from its logit Jacobian; the eigenvector is written to `out` (N). */
export function topEigenFromJacobian(
  jac: LogitGradients,
  s: number,
  temperature = 1,
  out?: Float32Array,
  gram?: Float64Array,
): { lambda: number; probs: Float64Array } {
  const { numClasses: k, inputSize: n, gradients } = jac;
  const p = softmax64(jac.logits, s * k, k, temperature);
  const a = fisherGram(gram ?? logitGram(jac, s), p, temperature);
  const { value, vector: u } = topEigenpair(a, k);
  const lambda = Math.max(0, value);
  if (out) {
    // v ∝ Mᵀu = Zᵀ (a − p Σa) / T with a_i = √p_i u_i; T only scales, and v is normalised.
    const coef = new Float64Array(k);
    let sumA = 0;
    for (let i = 0; i < k; i++) {
      coef[i] = Math.sqrt(p[i]!) * u[i]!;
      sumA += coef[i]!;
    }
    for (let i = 0; i < k; i++) coef[i]! -= p[i]! * sumA;
    const v = new Float64Array(n);
    const base = s * k * n;
    for (let i = 0; i < k; i++) {
      const ci = coef[i]!;
      if (ci === 0) continue;
      const o = base + i * n;
      for (let t = 0; t < n; t++) v[t]! += ci * gradients[o + t]!;
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += v[t]! * v[t]!;
    norm = Math.sqrt(norm);
    for (let t = 0; t < n; t++) out[t] = norm > 0 ? v[t]! / norm : 0;
  }
  return { lambda, probs: p };
}

/**
 * Exact λmax(G_x), unit eigenvectors and probabilities for a batch: one batched Jacobian
 * (K backward rows per sample) plus a K×K eigensolve per sample. The hot path of inspection
 * and OSSA.
 */
export function inputFimTopEigen(model: tfl.LayersModel, x: tf.Tensor4D, opts: InputFimOptions = {}): InputFimEigen {
  const jac = logitJacobian(model, x, opts.maxRows ?? DEFAULT_MAX_ROWS);
  return eigenFromJacobian(jac, opts.temperature ?? 1);
}

export function eigenFromJacobian(jac: LogitGradients, temperature = 1): InputFimEigen {
  const { batch: b, numClasses: k, inputSize: n } = jac;
  const lambdaMax = new Float64Array(b);
  const eigenvectors = new Float32Array(b * n);
  const probs = new Float64Array(b * k);
  for (let s = 0; s < b; s++) {
    const r = topEigenFromJacobian(jac, s, temperature, eigenvectors.subarray(s * n, (s + 1) * n));
    lambdaMax[s] = r.lambda;
    probs.set(r.probs, s * k);
  }
  return { lambdaMax, eigenvectors, probs, logits: jac.logits };
}

/**
 * Second-order KL budget: the l2 radius r at which ½ r² λmax(G_x) reaches τ, i.e.
 * r = sqrt(2τ/λmax). Small r = a fragile sample.
 */
export function klBudget(lambdaMax: number, tau: number): number {
  return lambdaMax > 0 ? Math.sqrt((2 * tau) / lambdaMax) : Infinity;
}
