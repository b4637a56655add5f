import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { RunConfig } from '../../runs/types';
import { adversarialBatch, validateAdversarialTraining } from './adversarial';
import { CROP_PAD, randomCropFlip } from './augment';

/**
 * A per-batch transform applied to training inputs before the step (augmentation, adversarial
 * examples). Runs inside the step's tidy scope.
 */
export type BatchTransform = (x: tf.Tensor4D, y: tf.Tensor1D, ctx: { epoch: number; step: number; seed: number }) => tf.Tensor4D;

/** The transform a run's config asks for, or null: augmentation first, then adversarial examples of the augmented batch. */
export function makeBatchTransform(config: RunConfig, model: tfl.LayersModel): BatchTransform | null {
  const parts: BatchTransform[] = [];
  const aug = config.augmentation ?? 'none';
  if (aug === 'crop' || aug === 'crop-flip') {
    parts.push((x, _y, ctx) => randomCropFlip(x, { pad: CROP_PAD, flip: aug === 'crop-flip', seed: ctx.seed, step: ctx.step }));
  } else if (aug !== 'none') {
    throw new Error(`unknown augmentation "${aug as string}" in the run's config (expected none, crop or crop-flip)`);
  }
  const at = config.adversarialTraining;
  if (at) {
    validateAdversarialTraining(at);
    parts.push((x, y, ctx) => adversarialBatch(model, x, y, at, ctx.seed, ctx.step));
  }
  if (parts.length === 0) return null;
  return (x, y, ctx) => parts.reduce((acc, f) => f(acc, y, ctx), x);
}
