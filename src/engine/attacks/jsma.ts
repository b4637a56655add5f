import * as tf from '@tensorflow/tfjs-core';
import { softmax64 } from '../fim/inputFim';
import { logitJacobian } from '../fim/jacobian';
import type { BatchContext, MinimizationAttack } from './attack';
import { fgm } from './fgm';
import { finishMinimization, gatherRows, isAdversarial, predictRows } from './context';
import { oneStepSearch } from './search';
import { objectiveGradient } from './tensorOps';
import { argmaxRows, logitsOf } from '../models/predict';
import { tidyRead } from '../util/read';

/**
 * Jacobian-based saliency map attack (Papernot et al. 2016) as Foolbox 2.4's SaliencyMapAttack
 * with its defaults (fast=True, θ = 0.1, ≤ 7 changes per pixel, ≤ 2,000 iterations), which the
 * paper's Table 1 used. Untargeted runs pick the target class first with Foolbox's
 * GradientAttack (FGM's minimum search): the class its adversarial lands in, or a random other
 * class when it fails. Each iteration takes the gradient α of the cross-entropy to the target;
 * the fast saliency map is −α, so the pixel with the largest α moves by −sign(α)·θ; pixels that
 * reach the range bounds or were changed 7 times leave the search domain. Success is still
 * "misclassified" (Foolbox's criterion) unless the user gave targets.
 * With the fast map only pixels whose α is positive are ever decreased, so on images with many
 * pixels at 0 the search can run out of useful pixels and stop unsuccessful (as in Foolbox 2);
 * `fast: false` uses the full map with β = Σ_l (∇CE_l − α) over all classes (K gradients per
 * iteration instead of 1).
 */
/** α = ∇_x CE(target) per row of `xa`. */
function targetGradient(ctx: BatchContext, xa: Float32Array, targets: Int32Array): Float32Array {
  return tidyRead(() => {
    // The targeted objective is −CE(target); its gradient, negated.
    const r = objectiveGradient(ctx.model, tf.tensor4d(xa, [targets.length, ...ctx.shape]), tf.tensor1d(targets, 'int32'), 'ce', true);
    return tf.neg(r.grad);
  });
}

/**
 * The non-fast saliency map's terms: α = ∇CE(target) and Σ_l ∇CE_l over all classes l, from the
 * logit Jacobian Z: ∇CE_l = −Z_l + pᵀZ, so Σ_l ∇CE_l = −Σ_l Z_l + K·pᵀZ.
 */
function fullSaliencyTerms(ctx: BatchContext, xa: Float32Array, targets: Int32Array): { grad: Float32Array; betaSum: Float32Array } {
  const m = targets.length;
  const k = ctx.numClasses;
  const size = ctx.size;
  const xt = tf.tensor4d(xa, [m, ...ctx.shape]);
  const jac = logitJacobian(ctx.model, xt);
  xt.dispose();
  const grad = new Float32Array(m * size);
  const betaSum = new Float32Array(m * size);
  for (let i = 0; i < m; i++) {
    const p = softmax64(jac.logits, i * k, k);
    const base = i * k * size;
    for (let t = 0; t < size; t++) {
      let pz = 0;
      let sumZ = 0;
      for (let l = 0; l < k; l++) {
        const z = jac.gradients[base + l * size + t]!;
        pz += p[l]! * z;
        sumZ += z;
      }
      grad[i * size + t] = -jac.gradients[base + targets[i]! * size + t]! + pz;
      betaSum[i * size + t] = -sumZ + k * pz;
    }
  }
  return { grad, betaSum };
}

export const jsma: MinimizationAttack = {
  name: 'jsma',
  title: 'JSMA (saliency map attack, l0)',
  reference: 'Papernot, McDaniel, Jha, Fredrikson, Celik, Swami 2016, "The limitations of deep learning in adversarial settings"',
  norm: 'l0',
  kind: 'minimization',
  defaults: { steps: 2000, theta: 0.1, maxPerturbationsPerPixel: 7, fast: true },
  budgetUnit: () => 'ε = l0: number of changed input elements',
  radius: (budget) => budget,
  clipByDefault: true,
  minimize(ctx, opts) {
    const n = ctx.labels.length;
    const size = ctx.size;
    const k = ctx.numClasses;
    const [lo, hi] = ctx.bounds;
    const theta = Number(opts.theta) * (hi - lo);
    const maxPer = Number(opts.maxPerturbationsPerPixel);
    let targets = ctx.targets;
    if (!targets) {
      const g = oneStepSearch(fgm, ctx, { loss: 'ce' });
      const pred = tf.tidy(() => argmaxRows(logitsOf(ctx.model, tf.tensor4d(g.adv, ctx.x.shape)), k));
      targets = new Int32Array(n);
      for (let s = 0; s < n; s++) {
        if (g.found[s]) targets[s] = pred[s]!;
        else {
          const r = Math.floor(ctx.rng() * (k - 1));
          targets[s] = r >= ctx.labels[s]! ? r + 1 : r;
        }
      }
    }
    const cur = Float32Array.from(ctx.xData);
    const mask = new Uint8Array(n * size).fill(1);
    const counts = new Uint8Array(n * size);
    const found = new Uint8Array(n);
    let active = Array.from({ length: n }, (_, s) => s);
    for (let it = 0; it < Number(opts.steps) && active.length > 0; it++) {
      if (it % 20 === 0) ctx.note?.(`iteration ${it}/${opts.steps}, ${active.length} samples not yet adversarial`);
      const xa = gatherRows(cur, active, size);
      const pred = predictRows(ctx, cur, active);
      const fast = opts.fast !== false;
      const { grad, betaSum } = fast
        ? {
            grad: targetGradient(
              ctx,
              xa,
              Int32Array.from(active, (s) => targets[s]!),
            ),
            betaSum: null,
          }
        : fullSaliencyTerms(
            ctx,
            xa,
            Int32Array.from(active, (s) => targets[s]!),
          );
      const still: number[] = [];
      active.forEach((s, i) => {
        if (isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])) {
          found[s] = 1;
          return;
        }
        // argmin of the saliency map |α||β|·sign(αβ) with α, β masked; first index on ties (numpy).
        let idx = 0;
        let best = Infinity;
        for (let t = 0; t < size; t++) {
          const on = mask[s * size + t]!;
          const a = on ? grad[i * size + t]! : 0;
          const b = betaSum ? (on ? betaSum[i * size + t]! : 0) - k * a : -1;
          const sal = a * b;
          if (sal < best) {
            best = sal;
            idx = t;
          }
        }
        const alpha = mask[s * size + idx] ? grad[i * size + idx]! : 0;
        // A zero step changes nothing, so every later iteration would repeat it: stop here.
        if (alpha === 0) return;
        const o = s * size + idx;
        const v = cur[o]! - Math.sign(alpha) * theta;
        counts[o]!++;
        if (v <= lo || v >= hi || counts[o]! >= maxPer) mask[o] = 0;
        cur[o] = Math.min(hi, Math.max(lo, v));
        still.push(s);
      });
      active = still;
    }
    return finishMinimization(ctx, cur, active, found);
  },
};
