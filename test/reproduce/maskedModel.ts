/**
 * A deliberately gradient-masked model for the sanity-check tests: an honest classifier whose
 * logits are multiplied by 1,000 in a frozen layer. Its predictions are exactly the honest
 * model's, but its softmax saturates, so the cross-entropy gradient is exactly 0 on every
 * confidently classified input (float32 p_y = 1): FGSM and PGD on cross-entropy stall, while the
 * margin loss, transfer and gradient-free attacks see the same decision boundary as before.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export const SATURATION = 1000;

export function saturatedLogits(honest: tfl.LayersModel): tfl.LayersModel {
  const k = honest.outputs[0]!.shape[1] as number;
  const scale = tfl.layers.dense({ units: k, useBias: false, trainable: false, name: 'saturate' });
  const model = tfl.sequential({ layers: [honest, scale] });
  scale.setWeights([tf.mul(tf.eye(k), SATURATION)]);
  return model;
}
