import * as tf from '@tensorflow/tfjs-core';
import { logitGradients } from '../fim/jacobian';
import type { MinimizationAttack } from './attack';
import { finishMinimization, gatherRows, predictRows } from './context';
import { tidyRead } from '../util/read';

/**
 * DeepFool in l2 (Moosavi-Dezfooli, Fawzi, Frossard 2016), as Foolbox 2.4's DeepFoolL2Attack,
 * which the paper's Table 1 used: up to 100 steps; candidate classes are the 10 classes with the
 * highest clean logits; each step linearises the (cross-entropy, i.e. logit) differences
 * f_k = z_k − z_y, moves to the nearest linearised boundary, |f_k|/(‖∇f_k‖+1e-8)² · ∇f_k, with a
 * 1.05 overshoot per step, and clips to the pixel range. Untargeted only.
 */
export const deepfool: MinimizationAttack = {
  name: 'deepfool',
  title: 'DeepFool (l2)',
  reference: 'Moosavi-Dezfooli, Fawzi, Frossard 2016, "DeepFool: a simple and accurate method to fool deep neural networks"',
  norm: 'l2',
  kind: 'minimization',
  defaults: { steps: 100, candidates: 10, overshoot: 1.05 },
  budgetUnit: () => 'ε = l2 norm of the perturbation',
  radius: (budget) => budget,
  clipByDefault: true,
  minimize(ctx, opts) {
    if (ctx.targets) throw new RangeError('DeepFool is untargeted; run it without targets');
    const n = ctx.labels.length;
    const size = ctx.size;
    const k = ctx.numClasses;
    const steps = Number(opts.steps);
    const overshoot = Number(opts.overshoot);
    const nCand = Math.max(1, Math.min(Number(opts.candidates), k) - 1);
    // Candidates: the top classes of the clean logits after the first (Foolbox's labels[1:]).
    const clean = tidyRead(() => ctx.model.apply(ctx.x, { training: false }) as tf.Tensor);
    const cand: number[][] = [];
    for (let s = 0; s < n; s++) {
      const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => clean[s * k + b]! - clean[s * k + a]!);
      cand.push(order.slice(1, 1 + nCand).filter((c) => c !== ctx.labels[s]));
    }
    const cur = Float32Array.from(ctx.xData);
    const found = new Uint8Array(n);
    let active = Array.from({ length: n }, (_, s) => s);
    for (let step = 0; step < steps && active.length > 0; step++) {
      ctx.note?.(`step ${step + 1}, ${active.length} samples not yet adversarial`);
      const per = nCand + 1;
      const classes = new Int32Array(active.length * per);
      active.forEach((s, i) => {
        classes[i * per] = ctx.labels[s]!;
        for (let c = 0; c < nCand; c++) classes[i * per + 1 + c] = cand[s]![c] ?? ctx.labels[s]!;
      });
      const xt = tf.tensor4d(gatherRows(cur, active, size), [active.length, ...ctx.shape]);
      const g = logitGradients(ctx.model, xt, classes, per);
      xt.dispose();
      const pred = predictRows(ctx, cur, active);
      const still: number[] = [];
      active.forEach((s, i) => {
        const y = ctx.labels[s]!;
        if (pred[i] !== y) {
          found[s] = 1;
          return;
        }
        still.push(s);
        const zy = g.logits[i * k + y]!;
        const gy = i * per * size;
        let best = Infinity;
        let bestF = 0;
        let bestDir: Float64Array | null = null;
        let bestNorm = 0;
        for (let c = 0; c < nCand; c++) {
          const cls = cand[s]![c];
          if (cls === undefined) continue;
          const f = g.logits[i * k + cls]! - zy;
          if (!(f < 0)) continue;
          const gc = (i * per + 1 + c) * size;
          const dir = new Float64Array(size);
          let nrm = 0;
          for (let t = 0; t < size; t++) {
            dir[t] = g.gradients[gc + t]! - g.gradients[gy + t]!;
            nrm += dir[t]! * dir[t]!;
          }
          nrm = Math.sqrt(nrm);
          const dist = Math.abs(f) / (nrm + 1e-8);
          if (dist < best) {
            best = dist;
            bestF = f;
            bestDir = dir;
            bestNorm = nrm;
          }
        }
        if (!bestDir) return;
        const scale = (overshoot * Math.abs(bestF)) / (bestNorm + 1e-8) ** 2;
        const o = s * size;
        for (let t = 0; t < size; t++) cur[o + t] = Math.min(ctx.bounds[1], Math.max(ctx.bounds[0], cur[o + t]! + scale * bestDir[t]!));
      });
      active = still;
    }
    return finishMinimization(ctx, cur, active, found);
  },
};
