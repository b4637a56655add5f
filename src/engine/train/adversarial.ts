import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type { AdversarialTrainingConfig } from '../../runs/types';
import type { IterativeRun } from '../attacks/attack';
import { makeContext } from '../attacks/context';
import { getAttack, resolveOptions } from '../attacks/registry';

/**
 * PGD adversarial training (Madry et al. 2018): each training batch is replaced — all of it, or a
 * seeded `ratio` of its samples — by l∞ PGD examples made against the current weights, starting
 * from a uniform random point in the ε-ball and taking `steps` signed-gradient steps of `stepSize`
 * on the cross-entropy, each projected back onto the ball and the pixel range [0, 1]. The PGD is
 * the engine's own attack (attacks/pgd.ts), run on the model in inference mode, as it is evaluated.
 * The random start and the replaced samples depend only on (seed, global step), so --resume
 * replays them.
 */
export function validateAdversarialTraining(at: AdversarialTrainingConfig): void {
  const bad = (m: string) => {
    throw new RangeError(`adversarial training: ${m}`);
  };
  if (!(at.epsilon > 0 && at.epsilon <= 1)) bad(`ε (l∞ radius in pixel units) must be in (0, 1], got ${at.epsilon}`);
  if (!Number.isInteger(at.steps) || at.steps < 1) bad(`steps must be a positive integer, got ${at.steps}`);
  if (!(at.stepSize > 0 && Number.isFinite(at.stepSize))) bad(`step size must be > 0, got ${at.stepSize}`);
  if (!(at.ratio > 0 && at.ratio <= 1)) bad(`ratio must be in (0, 1], got ${at.ratio}`);
}

/** Which samples of an n-sample batch are replaced: round(ratio·n) of them (at least one), chosen by (seed, step). */
export function adversarialRows(n: number, ratio: number, seed: number, step: number): Int32Array {
  const m = Math.min(n, Math.max(1, Math.round(ratio * n)));
  if (m === n) return Int32Array.from({ length: n }, (_, i) => i);
  const rng = seedrandom(`fim-pgd-at-rows:${seed}:${step}`);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Int32Array.from(order.slice(0, m).sort((a, b) => a - b));
}

/** PGD examples for the rows of a batch; x is [n, H, W, C] in [0, 1]. */
export function pgdExamples(
  model: tfl.LayersModel,
  x: Float32Array,
  shape: [number, number, number],
  labels: Int32Array,
  at: AdversarialTrainingConfig,
  seed: string,
): Float32Array {
  const attack = getAttack('pgd');
  if (attack.kind !== 'iterative') throw new Error('the pgd attack is expected to be iterative');
  const n = labels.length;
  const run: IterativeRun = {
    radius: new Float32Array(n).fill(at.epsilon),
    stepsize: new Float32Array(n).fill(at.stepSize),
    steps: at.steps,
    randomStart: true,
    returnEarly: false,
  };
  const ctx = makeContext(model, x, shape, labels, undefined, seed);
  try {
    return attack.iterate(ctx, run, resolveOptions(attack, { loss: 'ce' })).adv;
  } finally {
    ctx.x.dispose();
  }
}

/** The batch with its chosen rows replaced by PGD examples. Reads the batch back from the device. */
export function adversarialBatch(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  at: AdversarialTrainingConfig,
  seed: number,
  step: number,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const size = h * w * c;
  const rows = adversarialRows(n, at.ratio, seed, step);
  const xData = Float32Array.from(x.dataSync() as Float32Array);
  const yData = y.dataSync() as Int32Array;
  const sub = new Float32Array(rows.length * size);
  const subLabels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    sub.set(xData.subarray(r * size, (r + 1) * size), i * size);
    subLabels[i] = yData[r]!;
  });
  const adv = pgdExamples(model, sub, [h, w, c], subLabels, at, `fim-pgd-at:${seed}:${step}`);
  rows.forEach((r, i) => xData.set(adv.subarray(i * size, (i + 1) * size), r * size));
  return tf.tensor4d(xData, x.shape);
}
