import * as tf from '@tensorflow/tfjs-core';
import { inputFimTopEigen } from '../fim/inputFim';
import { powerIterationTopEigen } from '../fim/powerIteration';
import type { BatchContext, OneStepAttack, OneStepPlan } from './attack';
import type { AttackOptions } from '../../runs/evals';
import { ONE_STEP_SEARCH } from './oneStepGradient';
import { addScaled, clipToBounds, crossEntropyRows } from './tensorOps';
import { logitsOf } from '../models/predict';

/**
 * One-step spectral attack (Zhao et al. 2019; the defended paper §3.1): η = √ε · v with v the unit
 * top eigenvector of the input FIM G_x, maximising the second-order KL ½ηᵀG_xη under ‖η‖₂² = ε;
 * the sign of v is chosen so that the loss J(y, x+η) > J(y, x): both signs are evaluated and the
 * one with the larger cross-entropy (for targets: the smaller cross-entropy to the target) is kept.
 *
 * ε is the SQUARED l2 norm by default, as in the paper; `epsUnit: "l2"` makes it the l2 norm (the
 * convention of third-party OSSA code). The eigenvector is exact (K×K Gram reduction) unless
 * `method: "power"` asks for power iteration.
 */
function eigenvectors(ctx: BatchContext, opts: AttackOptions): Float32Array {
  if (opts.method === 'power') {
    return powerIterationTopEigen(ctx.model, ctx.x, { iterations: Number(opts.powerIterations), seed: Math.floor(ctx.rng() * 2 ** 31) })
      .eigenvectors;
  }
  return inputFimTopEigen(ctx.model, ctx.x).eigenvectors;
}

function plan(ctx: BatchContext, opts: AttackOptions): OneStepPlan {
  const v = tf.tensor4d(eigenvectors(ctx, opts), ctx.x.shape);
  const targeted = Boolean(ctx.targets);
  const classes = ctx.targets ?? ctx.labels;
  const clip = opts.clip === true;
  return {
    at(radius, rows) {
      const neg = Float32Array.from(radius, (r) => -r);
      const [x, dir] = rows
        ? tf.tidy(() => [tf.gather(ctx.x, tf.tensor1d(rows, 'int32')), tf.gather(v, tf.tensor1d(rows, 'int32'))] as tf.Tensor4D[])
        : [ctx.x, v];
      const plus = addScaled(x!, dir!, radius);
      const minus = addScaled(x!, dir!, neg);
      if (rows) tf.dispose([x!, dir!]);
      const cls = rows ? Int32Array.from(rows, (r) => classes[r]!) : classes;
      const score = (t: tf.Tensor4D) => {
        const e = clip ? clipToBounds(t, ctx.bounds) : t;
        const ce = crossEntropyRows(logitsOf(ctx.model, e), cls, ctx.numClasses);
        if (e !== t) e.dispose();
        return ce;
      };
      const cePlus = score(plus);
      const ceMinus = score(minus);
      const pick = new Float32Array(radius.length);
      for (let s = 0; s < radius.length; s++) {
        const plusBetter = targeted ? cePlus[s]! <= ceMinus[s]! : cePlus[s]! >= ceMinus[s]!;
        pick[s] = plusBetter ? 1 : 0;
      }
      const out = tf.tidy(() => {
        const m = tf.reshape(tf.tensor1d(pick), [radius.length, 1, 1, 1]);
        return tf.add<tf.Tensor4D>(tf.mul(plus, m), tf.mul(minus, tf.sub(1, m)));
      });
      tf.dispose([plus, minus]);
      return out;
    },
    dispose: () => v.dispose(),
  };
}

export const ossa: OneStepAttack = {
  name: 'ossa',
  title: 'OSSA (one-step spectral attack)',
  reference: 'Zhao, Dunn, Wang, Lu 2019, "The adversarial attack and detection under the Fisher information metric"; Shen et al. §3.1',
  norm: 'l2',
  kind: 'one-step',
  defaults: { epsUnit: 'squared-l2', method: 'exact', powerIterations: 30, ...ONE_STEP_SEARCH },
  budgetUnit: (opts) => (opts.epsUnit === 'l2' ? 'ε = l2 norm ‖η‖₂' : 'ε = squared l2 norm ‖η‖₂² (paper §3.1)'),
  radius: (budget, opts) => (opts.epsUnit === 'l2' ? budget : Math.sqrt(budget)),
  clipByDefault: false,
  prepare: plan,
};
