import * as tf from '@tensorflow/tfjs-core';
import type { MinimizationAttack } from './attack';
import { isAdversarial } from './context';
import { argmaxRows, logitsOf } from '../models/predict';
import { tidyReadAll } from '../util/read';

/**
 * Carlini–Wagner l2 (Carlini & Wagner 2017), as Foolbox 2.4's CarliniWagnerL2Attack: optimise
 * w in tanh space, x = (tanh(w)+1)/2 mapped to the pixel range, minimising
 *   ‖x − x₀‖₂² + c · max(z_y − max_{j≠y} z_j + κ, 0)
 * with Adam (lr 5e-3, β = 0.9/0.999, ε 1e-7) for up to 1,000 iterations, aborting when the loss
 * has not fallen by 0.01% over a tenth of them; c starts at 1e-2, grows ×10 until an adversarial
 * is found, then is bisected, for 5 binary-search steps. The result is the closest adversarial
 * iterate seen (Foolbox keeps the best one). All per sample, batched over the active samples.
 */
const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-7;

export const cw: MinimizationAttack = {
  name: 'cw',
  title: 'Carlini–Wagner l2',
  reference: 'Carlini & Wagner 2017, "Towards evaluating the robustness of neural networks"',
  norm: 'l2',
  kind: 'minimization',
  defaults: { binarySteps: 5, steps: 1000, learningRate: 5e-3, initialConst: 1e-2, confidence: 0, abortEarly: true },
  budgetUnit: () => 'ε = l2 norm of the perturbation',
  radius: (budget) => budget,
  clipByDefault: true,
  minimize(ctx, opts) {
    const n = ctx.labels.length;
    const size = ctx.size;
    const k = ctx.numClasses;
    const [lo, hi] = ctx.bounds;
    const mid = (lo + hi) / 2;
    const half = (hi - lo) / 2;
    const steps = Number(opts.steps);
    const lr = Number(opts.learningRate);
    const kappa = Number(opts.confidence);
    const checkEvery = Math.max(1, Math.floor(steps / 10));
    const targeted = Boolean(ctx.targets);
    const cls = ctx.targets ?? ctx.labels;
    const w0 = Float32Array.from(ctx.xData, (v) => Math.atanh(((v - mid) / half) * 0.999999));
    // The input the optimisation starts from (x₀ after the tanh round trip).
    const x0 = Float32Array.from(w0, (w) => Math.tanh(w) * half + mid);
    const constant = new Float64Array(n).fill(Number(opts.initialConst));
    const lower = new Float64Array(n);
    const upper = new Float64Array(n).fill(Infinity);
    const bestDist = new Float64Array(n).fill(Infinity);
    const adv = Float32Array.from(ctx.xData);
    const found = new Uint8Array(n);
    const pert = new Float32Array(n * size);
    const m = new Float32Array(n * size);
    const v = new Float32Array(n * size);
    for (let b = 0; b < Number(opts.binarySteps); b++) {
      pert.fill(0);
      m.fill(0);
      v.fill(0);
      const foundNow = new Uint8Array(n);
      const prevLoss = new Float64Array(n).fill(Infinity);
      let active = Array.from({ length: n }, (_, s) => s);
      for (let it = 0; it < steps && active.length > 0; it++) {
        if (it % 50 === 0)
          ctx.note?.(`binary step ${b + 1}/${opts.binarySteps}, iteration ${it}/${steps}, ${active.length} samples optimising`);
        const na = active.length;
        const xa = new Float32Array(na * size);
        active.forEach((s, i) => {
          for (let t = 0; t < size; t++) xa[i * size + t] = Math.tanh(w0[s * size + t]! + pert[s * size + t]!) * half + mid;
        });
        const consts = Float32Array.from(active, (s) => constant[s]!);
        const [grad, logits] = tidyReadAll(() => {
          const xt = tf.tensor4d(xa, [na, ...ctx.shape]);
          const oh = tf.cast(
            tf.oneHot(
              tf.tensor1d(
                Array.from(active, (s) => cls[s]!),
                'int32',
              ),
              k,
            ),
            'float32',
          );
          let z: tf.Tensor2D | undefined;
          const g = tf.grad((t: tf.Tensor) => {
            const out = ctx.model.apply(t, { training: false }) as tf.Tensor2D;
            z = tf.keep(out);
            const zc = tf.sum(tf.mul(out, oh), 1);
            const other = tf.max(tf.sub(out, tf.mul(oh, 1e9)), 1);
            const margin = targeted ? tf.sub(other, zc) : tf.sub(zc, other);
            return tf.sum<tf.Scalar>(tf.mul(tf.relu(tf.add(margin, kappa)), tf.tensor1d(consts)));
          })(xt);
          return [g, z!];
        }) as [Float32Array, Float32Array];
        const pred = tf.tidy(() => argmaxRows(logitsOf(ctx.model, tf.tensor4d(xa, [na, ...ctx.shape])), k));
        const t1 = 1 - BETA1 ** (it + 1);
        const t2 = 1 - BETA2 ** (it + 1);
        const still: number[] = [];
        active.forEach((s, i) => {
          const o = s * size;
          const oi = i * size;
          const c = cls[s]!;
          let other = -Infinity;
          for (let j = 0; j < k; j++) if (j !== c) other = Math.max(other, logits[i * k + j]!);
          const margin = targeted ? other - logits[i * k + c]! : logits[i * k + c]! - other;
          let dist2 = 0;
          let distOrig2 = 0;
          for (let t = 0; t < size; t++) {
            const d = xa[oi + t]! - x0[o + t]!;
            dist2 += d * d;
            const e = xa[oi + t]! - ctx.xData[o + t]!;
            distOrig2 += e * e;
          }
          const loss = dist2 + constant[s]! * Math.max(0, margin + kappa);
          if (isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])) {
            foundNow[s] = 1;
            if (distOrig2 < bestDist[s]!) {
              bestDist[s] = distOrig2;
              found[s] = 1;
              adv.set(xa.subarray(oi, oi + size), o);
            }
          }
          for (let t = 0; t < size; t++) {
            const th = (xa[oi + t]! - mid) / half;
            const gx = 2 * (xa[oi + t]! - x0[o + t]!) + grad[oi + t]!;
            const gp = gx * (1 - th * th) * half;
            m[o + t] = BETA1 * m[o + t]! + (1 - BETA1) * gp;
            v[o + t] = BETA2 * v[o + t]! + (1 - BETA2) * gp * gp;
            pert[o + t]! -= (lr * (m[o + t]! / t1)) / (Math.sqrt(v[o + t]! / t2) + ADAM_EPS);
          }
          if (opts.abortEarly !== false && it % checkEvery === 0) {
            if (!(loss <= 0.9999 * prevLoss[s]!)) return;
            prevLoss[s] = loss;
          }
          still.push(s);
        });
        active = still;
      }
      for (let s = 0; s < n; s++) {
        if (foundNow[s]) upper[s] = constant[s]!;
        else lower[s] = constant[s]!;
        constant[s] = upper[s] === Infinity ? constant[s]! * 10 : (lower[s]! + upper[s]!) / 2;
      }
    }
    return { adv, found };
  },
};
