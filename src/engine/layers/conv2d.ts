import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type { Conv2D as StockConv2DType } from '@tensorflow/tfjs-layers/dist/layers/convolutional';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { conv2dWithBias, type ConvEpilogue } from '../backend/kernels/FusedConv2DGrad';

const Stock = tf.serialization.SerializationMap.getMap().classNameMap['Conv2D']![0] as unknown as typeof StockConv2DType;

interface Internals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number[];
  activation: { getClassName(): string; apply(t: tf.Tensor): tf.Tensor };
}

/**
 * Keras's Conv2D computing each gradient only when needed (see FusedConv2DGrad.ts). Same forward
 * op as the stock layer (the backend's FusedConv2D); dilated, channels-first and other unusual
 * configurations are the stock code. Registered (register.ts) under the Keras class name.
 */
export class LazyGradConv2D extends Stock {
  static override className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const self = this as unknown as Internals;
    const ok =
      x !== undefined &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      self.dataFormat === 'channelsLast' &&
      (self.padding === 'same' || self.padding === 'valid') &&
      self.dilationRate.every((d) => d === 1) &&
      self.strides.length === 2;
    if (!ok) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const act = self.activation.getClassName();
      const fused: ConvEpilogue | null = act === 'linear' || act === 'relu' ? act : null;
      const y = conv2dWithBias(
        x as tf.Tensor4D,
        self.kernel.read() as tf.Tensor4D,
        (self.bias?.read() ?? null) as tf.Tensor1D | null,
        [self.strides[0]!, self.strides[1]!],
        self.padding as 'same' | 'valid',
        fused ?? 'linear',
      );
      return fused ? y : self.activation.apply(y);
    });
  }
}

export { Stock as StockConv2D };
