import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BN_RELU_POOL_TRAIN, BN_RELU_POOL_TRAIN_GRAD } from '../../../src/engine/backend/kernels/BnReluPool';
import { KernelProfiler } from '../../../src/engine/backend/profile';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { fusedPlan, FusedSequential } from '../../../src/engine/layers/sequential';
import { maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The Sequential class that runs BatchNormalization → ReLU → MaxPooling2D as one fused op: the
 * same logits, loss gradients, input gradients and moving statistics as the layers run one by one
 * (the cpu backend, where the fused op is not registered, runs exactly that), and the plan fuses
 * exactly the blocks it should.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 5e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} on ${backend}`);
}

async function convnet(seed: number): Promise<tfl.LayersModel> {
  const def = await resolveDefinition('convnet', { inputShape: [28, 28, 1], numClasses: 10 });
  return (await buildModel(def, { imageShape: [28, 28, 1], numClasses: 10, seed })).model;
}

/** Logits, loss gradients of every trainable weight, and the moving statistics after one training call. */
function trainingStep(model: tfl.LayersModel, xs: Float32Array, n: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, [n, 28, 28, 1]);
    const w = tf.tensor2d(randomArray(n * 10, 7), [n, 10]);
    const vars = model.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
    let logits: tf.Tensor | null = null;
    const { grads } = tf.variableGrads(() => {
      logits = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
      return tf.sum<tf.Scalar>(tf.mul(logits, w));
    }, vars);
    const moving = model.weights.filter((v) => /moving/.test(v.name)).map((v) => v.read());
    return [logits!, ...vars.map((v) => grads[v.name]!), ...moving].map((t) => t.dataSync().slice() as Float32Array);
  });
}

/** Inference logits and the input gradient of a weighted sum of them (what FIM and the attacks compute). */
function inference(model: tfl.LayersModel, xs: Float32Array, n: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, [n, 28, 28, 1]);
    const w = tf.tensor2d(randomArray(n * 10, 8), [n, 10]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(model.apply(t, { training: false }) as tf.Tensor, w));
    return [model.apply(x, { training: false }) as tf.Tensor, tf.grad(f)(x)].map((t) => t.dataSync().slice() as Float32Array);
  });
}

test('the built-in ConvNet is a FusedSequential whose plan fuses its two conv-block tails', async () => {
  const model = await convnet(1);
  assert.ok(model instanceof FusedSequential);
  const plan = fusedPlan(model.layers as never);
  assert.deepEqual(
    plan.map((s) => ('bn' in s ? `block(${s.layers.map((l) => l.getClassName()).join('+')})` : s.layer.getClassName())),
    ['Conv2D', 'block(BatchNormalization+ReLU+MaxPooling2D)', 'Conv2D', 'block(BatchNormalization+ReLU+MaxPooling2D)', 'Flatten', 'Dense'],
  );
  model.dispose();
});

test('training: logits, every weight gradient and the moving statistics equal the layers run one by one', async (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  const n = 2;
  const xs = randomArray(n * 784, 3, 0, 1);
  // Two models with the same initial weights: one steps on wasm (fused), one on cpu (layer by layer).
  const fused = await convnet(5);
  const plain = await convnet(5);
  const profiler = new KernelProfiler();
  profiler.start();
  const ours = trainingStep(fused, xs, n);
  const ran = profiler.stop().kernels.map((k) => `${k.kernel}/${k.phase}`);
  assert.ok(ran.includes(`${BN_RELU_POOL_TRAIN}/forward`) && ran.includes(`${BN_RELU_POOL_TRAIN_GRAD}/backward`), ran.join(', '));
  assert.ok(!ran.some((k) => k.startsWith('MaxPool') || k.startsWith('Relu')), 'no unfused pooling or ReLU ran');
  const ref = await onCpu(() => trainingStep(plain, xs, n));
  const names = [
    'logits',
    ...fused.trainableWeights.map((v) => `d ${v.name}`),
    ...fused.weights.filter((v) => /moving/.test(v.name)).map((v) => v.name),
  ];
  assert.equal(ours.length, names.length);
  ours.forEach((o, i) => close(o, ref[i]!, names[i]!));
  fused.dispose();
  plain.dispose();
});

test('inference: logits and the input gradient equal the layers run one by one', async (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  const n = 5;
  const xs = randomArray(n * 784, 4, 0, 1);
  const model = await convnet(6);
  // Moving statistics away from their initial 0 and 1, so that inference differs from training.
  tf.tidy(() => {
    model.apply(tf.tensor4d(randomArray(8 * 784, 9, 0, 1), [8, 28, 28, 1]), { training: true });
  });
  const ours = inference(model, xs, n);
  const ref = await onCpu(() => inference(model, xs, n));
  close(ours[0]!, ref[0]!, 'logits');
  close(ours[1]!, ref[1]!, 'input gradient');
  model.dispose();
});

test('a BatchNormalization not followed by ReLU, or a ReLU with a ceiling, is left to its layers', () => {
  const fake = (cls: string, extra: Record<string, unknown> = {}) => ({ getClassName: () => cls, apply: () => null, ...extra }) as never;
  const plan = fusedPlan([
    fake('BatchNormalization'),
    fake('MaxPooling2D'),
    fake('BatchNormalization'),
    fake('ReLU', { maxValue: 6 }),
    fake('BatchNormalization'),
    fake('ReLU', { maxValue: null }),
    fake('Dense'),
  ]);
  assert.deepEqual(
    plan.map((s) => ('bn' in s ? 'block' : (s.layer as unknown as { getClassName(): string }).getClassName())),
    ['BatchNormalization', 'MaxPooling2D', 'BatchNormalization', 'ReLU', 'block', 'Dense'],
  );
  const block = plan[4] as { pool: unknown };
  assert.deepEqual(block.pool, { filterSize: [1, 1], strides: [1, 1], pad: 'valid' }, 'a block without pooling pools 1×1');
});
