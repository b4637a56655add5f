import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { inputVjp } from '../../../src/engine/layers/inputVjp';
import { FusedSequential } from '../../../src/engine/layers/sequential';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { randomArray, useEngineBackend } from '../../helpers';

/**
 * The one-forward input gradient of several cotangents (layers/inputVjp.ts) against tf.grad of the
 * model on the batch tiled as many times: the same backward kernels run on the same values, so the
 * gradients must be equal bit for bit.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

/** Row r of dz (R = k·B rows) belongs to sample r mod B. */
function tiledGrad(model: tfl.LayersModel, x: tf.Tensor4D, dz: tf.Tensor2D): Float32Array {
  return tf.tidy(() => {
    const k = dz.shape[0] / x.shape[0];
    const tiled = tf.tile(x, [k, 1, 1, 1]);
    return tf
      .grad((t: tf.Tensor) => tf.sum<tf.Scalar>(tf.mul(model.apply(t, { training: false }) as tf.Tensor, dz)))(tiled)
      .dataSync()
      .slice() as Float32Array;
  });
}

function vjpGrad(model: tfl.LayersModel, x: tf.Tensor4D, dz: tf.Tensor2D): { grad: Float32Array; logits: Float32Array } | null {
  let out: { grad: Float32Array; logits: Float32Array } | null = null;
  tf.tidy(() => {
    const v = inputVjp(model, x);
    if (v) out = { grad: v.backward(dz).dataSync().slice() as Float32Array, logits: v.output.dataSync().slice() as Float32Array };
  });
  return out;
}

function modelWith(layers: tfl.layers.Layer[]): tfl.LayersModel {
  return new FusedSequential({ layers });
}

test('the MNIST ConvNet: one forward pass, the gradients of 10 tiled cotangents equal tf.grad on the tiled batch', async (t) => {
  if (backend !== 'wasm') return t.skip(`the fused blocks are wasm kernels; this run uses ${backend}`);
  const def = await resolveDefinition('convnet', { inputShape: [28, 28, 1], numClasses: 10 });
  const { model } = await buildModel(def, { imageShape: [28, 28, 1], numClasses: 10, seed: 2 });
  // Moving statistics away from 0 and 1.
  tf.tidy(() => {
    model.apply(tf.tensor4d(randomArray(16 * 784, 3, 0, 1), [16, 28, 28, 1]), { training: true });
  });
  const B = 3;
  const x = tf.tensor4d(randomArray(B * 784, 4, 0, 1), [B, 28, 28, 1]);
  const dz = tf.tensor2d(randomArray(10 * B * 10, 5), [10 * B, 10]);
  const ours = vjpGrad(model, x, dz);
  assert.ok(ours, 'the ConvNet qualifies');
  assert.deepEqual(Array.from(ours.grad), Array.from(tiledGrad(model, x, dz)));
  const logits = tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).dataSync());
  assert.deepEqual(Array.from(ours.logits), Array.from(logits));
  tf.dispose([x, dz]);
  model.dispose();
});

test('convolutions and dense layers with ReLU activations, dropout and strides: equal to tf.grad on the tiled batch', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused blocks are wasm kernels; this run uses ${backend}`);
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = modelWith([
    tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(1) }),
    tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(2) }),
    tfl.layers.batchNormalization({}),
    tfl.layers.reLU(),
    tfl.layers.flatten(),
    tfl.layers.dropout({ rate: 0.5 }),
    tfl.layers.dense({ units: 7, activation: 'relu', kernelInitializer: init(3), biasInitializer: 'ones' }),
    tfl.layers.dense({ units: 4, kernelInitializer: init(4) }),
  ]);
  const B = 2;
  const x = tf.tensor4d(randomArray(B * 162, 6), [B, 9, 9, 2]);
  const dz = tf.tensor2d(randomArray(3 * B * 4, 7), [3 * B, 4]);
  const ours = vjpGrad(model, x, dz);
  assert.ok(ours, 'the model qualifies');
  assert.deepEqual(Array.from(ours.grad), Array.from(tiledGrad(model, x, dz)));
  tf.dispose([x, dz]);
  model.dispose();
});

test('a model with another layer or activation, or tfjs-layers’ own Sequential, is left to tf.grad (null)', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused blocks are wasm kernels; this run uses ${backend}`);
  const x = tf.zeros<tf.Rank.R4>([1, 4, 4, 1]);
  const layers = () => [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 3, activation: 'tanh' })];
  const tanh = modelWith(layers());
  assert.equal(inputVjp(tanh, x), null);
  const avg = modelWith([
    tfl.layers.averagePooling2d({ inputShape: [4, 4, 1], poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 2 }),
  ]);
  assert.equal(inputVjp(avg, x), null);
  const stock = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 3 })] });
  assert.equal(inputVjp(stock, x), null);
  tf.dispose([x]);
  [tanh, avg, stock].forEach((m) => m.dispose());
});
