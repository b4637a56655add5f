import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { RunConfig } from '../../runs/types';

/**
 * A per-batch transform applied to training inputs before the step (augmentation, adversarial
 * examples). Runs inside the step's tidy scope.
 */
export type BatchTransform = (x: tf.Tensor4D, y: tf.Tensor1D, ctx: { epoch: number; step: number; seed: number }) => tf.Tensor4D;

/** The transform a run's config asks for, or null. */
export function makeBatchTransform(config: RunConfig, _model: tfl.LayersModel): BatchTransform | null {
  if (config.augmentation && config.augmentation !== 'none') {
    throw new Error(`augmentation "${config.augmentation}" is not implemented yet`);
  }
  if (config.adversarialTraining) throw new Error('adversarial training is not implemented yet');
  return null;
}
