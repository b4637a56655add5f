import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type { TradesDefence } from '../../runs/types';
import { exactSign } from '../attacks/tensorOps';
import { gaussian } from '../util/random';
import type { BatchDefence } from './defence';

/** Standard deviation of TRADES' random start around x (the reference code's 0.001·N(0, 1)). */
export const TRADES_START_STD = 0.001;

/** Per-row KL(softmax(zp) ‖ softmax(zq)) from logits, as log-softmax differences (finite in float32). */
export function klFromLogits(zp: tf.Tensor2D, zq: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(zp);
    return tf.sum<tf.Tensor1D>(tf.mul(tf.exp(lp), tf.sub(lp, tf.logSoftmax(zq))), 1);
  });
}

/** The random start x + 0.001·N(0, 1) of one training step (not clipped, as in the reference). */
export function tradesStart(x: tf.Tensor4D, seed: number, step: number): tf.Tensor4D {
  const rng = seedrandom(`fim-trades:${seed}:${step}`);
  const noise = new Float32Array(x.size);
  for (let i = 0; i < noise.length; i++) noise[i] = TRADES_START_STD * gaussian(rng);
  return tf.tidy(() => tf.add<tf.Tensor4D>(x, tf.tensor4d(noise, x.shape)));
}

/**
 * TRADES' inner maximisation (Zhang et al. 2019, yaodongyu/TRADES `trades_loss`): starting at
 * x + 0.001·N(0, 1), `steps` signed-gradient steps of `stepSize` on KL(p(x) ‖ p(x′)) with p(x)
 * held fixed, each projected onto the l∞ ball of radius ε around x and onto [0, 1]. The model runs
 * in inference mode, as in the reference's model.eval() and the engine's PGD adversarial training.
 * The start depends only on (seed, global step), so --resume replays it.
 */
export function tradesExamples(model: tfl.LayersModel, x: tf.Tensor4D, d: TradesDefence, seed: number, step: number): tf.Tensor4D {
  const z0 = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor2D);
  const lo = tf.tidy(() => tf.maximum(tf.sub(x, d.epsilon), 0));
  const hi = tf.tidy(() => tf.minimum(tf.add(x, d.epsilon), 1));
  let xa = tradesStart(x, seed, step);
  const kl = (t: tf.Tensor) => tf.sum<tf.Scalar>(klFromLogits(z0, model.apply(t, { training: false }) as tf.Tensor2D));
  for (let k = 0; k < d.steps; k++) {
    const next = tf.tidy(() => {
      const g = tf.grad(kl)(xa);
      return tf.minimum<tf.Tensor4D>(tf.maximum(tf.add(xa, tf.mul(exactSign(g), d.stepSize)), lo), hi);
    });
    xa.dispose();
    xa = next;
  }
  tf.dispose([z0, lo, hi]);
  return xa;
}

/**
 * The TRADES defence: CE(z(x), y) + β · mean KL(p(x) ‖ p(x′)). As in the reference, both logits come
 * from training-mode passes and the gradient flows through p(x) as well as p(x′).
 */
export function tradesDefence(model: tfl.LayersModel, d: TradesDefence): BatchDefence {
  return {
    prepare(x, _y, ctx) {
      const xa = tradesExamples(model, x, d, ctx.seed, ctx.step);
      return {
        penalty: (logits) =>
          tf.tidy(() => {
            const za = model.apply(xa, { training: true }) as tf.Tensor2D;
            return tf.mul<tf.Scalar>(tf.mean(klFromLogits(logits, za)), d.weight);
          }),
        dispose: () => xa.dispose(),
      };
    },
  };
}
