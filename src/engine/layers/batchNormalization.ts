import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type { BatchNormalization as StockBatchNormalization } from '@tensorflow/tfjs-layers/dist/layers/normalization';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { BATCH_NORM_TRAIN, batchNormTrain } from '../backend/kernels/BatchNormTrain';

/** tfjs-layers' own class, taken from its serialization registry (importing its module path would load a second copy). */
const Stock = tf.serialization.SerializationMap.getMap().classNameMap[
  'BatchNormalization'
]![0] as unknown as typeof StockBatchNormalization;

/** Private fields of the stock layer that training mode reads. */
interface Internals {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}

/**
 * Keras's BatchNormalization with a faster training mode: where the backend has the project's
 * fused batch-norm kernel (BatchNormTrain.ts) and the layer normalises the last axis, a training
 * call is one forward kernel and one closed-form gradient kernel instead of tfjs's moments +
 * FusedBatchNorm graph. Results, gradients and moving statistics match the stock layer (within
 * float32 rounding); every other case (inference, other axes, other backends) is the stock code.
 *
 * Registered (register.ts) under the Keras class name, so built-in definitions and users' model.json files get
 * it, and saved models name the stock class.
 */
export class FastBatchNormalization extends Stock {
  static override className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const self = this as unknown as Internals;
    const rank = input?.rank ?? 0;
    const axis = self.axis >= 0 ? self.axis : self.axis + rank;
    const fast =
      kwargs['training'] === true &&
      input !== undefined &&
      (!Array.isArray(inputs) || inputs.length === 1) &&
      rank >= 2 &&
      input.size > 0 &&
      axis === rank - 1 &&
      input.dtype === 'float32' &&
      tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;
    if (!fast) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const channels = input.shape[rank - 1]!;
      const gamma = (self.gamma ? self.gamma.read() : tf.ones([channels])) as tf.Tensor1D;
      const beta = (self.beta ? self.beta.read() : tf.zeros([channels])) as tf.Tensor1D;
      const [y, mean, variance] = batchNormTrain(input, gamma, beta, self.epsilon);
      // The stock layer's moving-average update, operation for operation.
      const update = (v: Internals['movingMean'], value: tf.Tensor) =>
        tf.tidy(() => {
          const orig = v.read();
          v.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - self.momentum)));
        });
      update(self.movingMean, mean);
      update(self.movingVariance, variance);
      return y;
    });
  }
}

export { Stock as StockBatchNormalization };
