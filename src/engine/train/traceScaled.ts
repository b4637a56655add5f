import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type { TraceScaledDefence } from '../../runs/types';
import { directionalFisher } from '../fim/directionalFisher';
import { unitRows } from '../util/random';
import type { BatchDefence } from './defence';

/** Keeps the RMS finite for a batch whose logits are all equal (never the case once training starts). */
const RMS_FLOOR = 1e-6;

/**
 * Centred logits rescaled to RMS `scale`: z̃ = s·(z − z̄)/rms(z − z̄). z̃(c·z) = z̃(z) for every c > 0,
 * and softmax is shift-invariant, so p̃ = softmax(z̃) and everything built on it are unchanged
 * when the network multiplies its logits by any factor.
 */
export function normalisedLogits(z: tf.Tensor2D, scale: number): tf.Tensor2D {
  return tf.tidy(() => {
    const c = tf.sub(z, tf.mean(z, 1, true));
    const rms = tf.sqrt(tf.add(tf.mean(tf.square(c), 1, true), RMS_FLOOR * RMS_FLOOR));
    return tf.mul<tf.Tensor2D>(tf.div(c, rms), scale);
  });
}

/** The unit probe directions of one training step: row j·B + s is probe j of sample s. */
export function traceProbes(rows: number, n: number, seed: number, step: number): Float32Array {
  return unitRows(rows, n, seedrandom(`fim-trace-scaled:${seed}:${step}`));
}

/**
 * The trace-scaled defence: CE + w · tr G̃_x, where G̃_x is the input Fisher information of
 * p̃ = softmax(z̃), the softmax of the RMS-normalised logits (docs/defences.md).
 *
 * Why not the paper's tr G_s: Σ 1/p_i is minimised by flattening the softmax, which a network
 * does by shrinking its logits, changing no decision. tr G̃_x instead measures how fast the
 * normalised logits move with the input; it is the same under any rescaling of the logits, so only
 * a change of the decision geometry lowers it. And λmax(G̃_x) ≤ tr G̃_x ≤ (K−1)·λmax(G̃_x): unlike
 * the paper's bound, this one is tight within a factor K−1.
 *
 * Estimate: Hutchinson's, tr G = E[rᵀ G r] for random r with E[r rᵀ] = I. Here r = √N·u with u
 * uniform on the unit sphere, so each probe is N·uᵀ G̃_x u, computed by directionalFisher with the
 * normalisation applied to both forward passes. The probes depend only on (seed, global step), so
 * --resume replays them.
 */
export function traceScaledDefence(model: tfl.LayersModel, d: TraceScaledDefence): BatchDefence {
  return {
    prepare(x, _y, ctx) {
      const [b, hgt, wid, ch] = x.shape;
      const n = hgt * wid * ch;
      const u = tf.tensor4d(traceProbes(b * d.probes, n, ctx.seed, ctx.step), [b * d.probes, hgt, wid, ch]);
      const xs = d.probes === 1 ? x : tf.tile(x, [d.probes, 1, 1, 1]);
      return {
        penalty: () =>
          tf.tidy(() => {
            const q = directionalFisher(model, xs, u, d.fdStep, (z) => normalisedLogits(z, d.scale));
            return tf.mul<tf.Scalar>(tf.mean(q), d.weight * n);
          }),
        dispose: () => {
          u.dispose();
          if (xs !== x) xs.dispose();
        },
      };
    },
  };
}
