import * as tf from '@tensorflow/tfjs-core';
import type { BatchContext, OneStepPlan } from './attack';
import type { AttackOptions } from '../../runs/evals';
import { addScaled, normalizeDirection, objectiveGradient, type AttackLoss } from './tensorOps';
import { argmaxRows } from '../models/predict';
import { tidyRead } from '../util/read';

/**
 * The shared core of FGSM, FGM and OTCM: one input gradient of the attack loss at the clean input,
 * normalised in the attack's norm (sign for l∞, g/‖g‖₂ for l2), then scaled to each radius.
 * `target` picks the class the loss is taken against: the true label (untargeted ascent), the
 * user's targets, or the least-likely class (OTCM, Kurakin et al. 2017).
 */
export type TargetMode = 'label' | 'least-likely';

/**
 * Options of the one-step attacks' minimum-distance search (search.ts): the number of grid values
 * and the largest radius in the natural norm (0 = Foolbox 2's: 1 for l∞, √N for l2).
 */
export const ONE_STEP_SEARCH = { searchSteps: 1000, searchMax: 0 } as const;

export function gradientPlan(ctx: BatchContext, opts: AttackOptions, norm: 'linf' | 'l2', target: TargetMode): OneStepPlan {
  const loss = (opts.loss ?? 'ce') as AttackLoss;
  let classes: Int32Array = ctx.labels;
  let targeted = false;
  if (ctx.targets) {
    classes = ctx.targets;
    targeted = true;
  } else if (target === 'least-likely') {
    const z = tidyRead(() => ctx.model.apply(ctx.x, { training: false }) as tf.Tensor);
    const neg = Float32Array.from(z, (v) => -v);
    classes = argmaxRows(neg, ctx.numClasses);
    targeted = true;
  }
  const direction = tf.tidy(() => {
    const { grad, objective, logits } = objectiveGradient(ctx.model, ctx.x, tf.tensor1d(classes, 'int32'), loss, targeted);
    tf.dispose([objective, logits]);
    return normalizeDirection(grad, norm);
  });
  return {
    at: (radius, rows) =>
      rows
        ? tf.tidy(() => {
            const idx = tf.tensor1d(rows, 'int32');
            return addScaled(tf.gather<tf.Tensor4D>(ctx.x, idx), tf.gather<tf.Tensor4D>(direction, idx), radius);
          })
        : addScaled(ctx.x, direction, radius),
    dispose: () => direction.dispose(),
  };
}
