/**
 * A small MNIST classifier trained inside the tests (conv 8×3×3 → ReLU → max-pool → dense), fast
 * enough on wasm to train in seconds and accurate enough (~90%) that attacks have something to
 * break. The engine's trainer is not involved: these tests are about the attacks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchLabels, batchPixels, range } from '../../../src/engine/data/dataset';
import { loadDataset } from '../../../src/engine/data/registry';

export interface TrainedMnist {
  model: tfl.LayersModel;
  /** Correctly classified test samples: flat pixels and labels. */
  x: Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
  accuracy: number;
}

export function smallMnistModel(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 8,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

export async function trainSmallMnist(
  opts: { trainSamples?: number; epochs?: number; testSamples?: number; seed?: number } = {},
): Promise<TrainedMnist> {
  const data = await loadDataset('mnist');
  const model = smallMnistModel(opts.seed ?? 1);
  const optimizer = tf.train.adam(2e-3);
  const bs = 64;
  const nTrain = opts.trainSamples ?? 3000;
  for (let ep = 0; ep < (opts.epochs ?? 2); ep++) {
    for (let s = 0; s + bs <= nTrain; s += bs) {
      const idx = range(s, s + bs);
      tf.tidy(() => {
        const x = tf.tensor4d(batchPixels(data.train, idx), [bs, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(batchLabels(data.train, idx), 'int32'), 10);
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(y, model.apply(x, { training: true }) as tf.Tensor));
      });
    }
  }
  const nTest = opts.testSamples ?? 60;
  const idx = range(0, nTest);
  const x = batchPixels(data.test, idx);
  const labels = batchLabels(data.test, idx);
  const pred = tf.tidy(() => tf.argMax(model.apply(tf.tensor4d(x, [nTest, 28, 28, 1])) as tf.Tensor, 1).dataSync());
  const correct = Array.from(idx).filter((i) => pred[i] === labels[i]);
  const xc = new Float32Array(correct.length * 784);
  correct.forEach((i, j) => xc.set(x.subarray(i * 784, (i + 1) * 784), j * 784));
  return { model, x: xc, labels: Int32Array.from(correct, (i) => labels[i]!), shape: [28, 28, 1], accuracy: correct.length / nTest };
}
