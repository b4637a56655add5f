import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FastBatchNormalization, StockBatchNormalization } from '../../../src/engine/layers/batchNormalization';
import { LazyGradConv2D, StockConv2D } from '../../../src/engine/layers/conv2d';
import { maxAbs, maxAbsDiff, randomArray, useEngineBackend } from '../../helpers';
import { registerProjectLayers } from '../../../src/engine/layers/register';

/**
 * The project's layer classes must be drop-in replacements: same outputs, gradients and moving
 * statistics as tfjs-layers' own classes (run here on the same backend), built from model.json
 * under the Keras class names, and saved under those names.
 */
before(async () => {
  await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 2e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

type AnyLayer = tfl.layers.Layer;
const read = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync().slice() as Float32Array);

/** Output, input gradient and weight gradients of `layer` under a fixed weighted-sum loss. */
function probe(layer: AnyLayer, x: tf.Tensor, training: boolean): Float32Array[] {
  return tf.tidy(() => {
    const y = layer.apply(x, { training }) as tf.Tensor;
    const w = tf.tensor(randomArray(y.size, 5), y.shape);
    const vars = layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
    const f = () => tf.sum<tf.Scalar>(tf.mul(layer.apply(x, { training }) as tf.Tensor, w));
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t, { training }) as tf.Tensor, w)))(x);
    const { grads } = tf.variableGrads(f, vars);
    return read([y, dx, ...vars.map((v) => grads[v.name]!)]);
  });
}

const bnConfigs = [
  { axis: -1, momentum: 0.9, epsilon: 1e-5 },
  { axis: -1, momentum: 0.5, epsilon: 1e-3 },
  { axis: 1, momentum: 0.9, epsilon: 1e-3 }, // not the last axis: the stock code path
];

for (const cfg of bnConfigs) {
  test(`BatchNormalization ${JSON.stringify(cfg)} matches tfjs-layers' class: outputs, gradients, moving statistics`, async () => {
    const shape = [5, 6, 4, 7];
    const x = tf.tensor4d(randomArray(5 * 6 * 4 * 7, 1, -1, 3), shape as [number, number, number, number]);
    const ours = new FastBatchNormalization(cfg) as unknown as AnyLayer;
    const stock = new StockBatchNormalization(cfg) as unknown as AnyLayer;
    ours.build(shape);
    stock.build(shape);
    // Non-trivial weights, identical in both.
    const weights = ours.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 10 + i, 0.5, 1.5), w.shape));
    ours.setWeights(weights);
    stock.setWeights(weights);
    if (tf.getBackend() === 'wasm' && cfg.axis === -1) {
      const prof = await tf.profile(() => tf.dispose(ours.apply(x, { training: true }) as tf.Tensor));
      tf.dispose(stock.apply(x, { training: true }) as tf.Tensor); // keep the moving statistics in step
      assert.ok(prof.kernelNames.includes('FimBatchNormTrain'), `training mode ran ${prof.kernelNames.join(', ')}, not the fused kernel`);
    }
    for (const training of [true, false, true]) {
      const a = probe(ours, x, training);
      const b = probe(stock, x, training);
      a.forEach((v, i) => close(v, b[i]!, `training=${training} output ${i}`));
    }
    // The probes ran training calls; the moving statistics must have moved identically.
    const mo = read(ours.getWeights());
    const ms = read(stock.getWeights());
    mo.forEach((v, i) => close(v, ms[i]!, `weight ${ours.weights[i]!.name}`));
    assert.ok(maxAbsDiff(mo[mo.length - 2]!, read([weights[weights.length - 2]!])[0]!) > 0, 'moving mean was updated');
    tf.dispose([x, ...weights]);
  });
}

// tfjs-layers' own class fails in training mode without β or γ (it reads them unconditionally);
// ours treats them as 0 and 1, which must equal the stock layer with β = 0 or γ = 1.
for (const missing of ['center', 'scale'] as const) {
  test(`BatchNormalization with ${missing}: false equals the stock layer with ${missing === 'center' ? 'β = 0' : 'γ = 1'}`, () => {
    const shape = [4, 3, 3, 5];
    const x = tf.tensor4d(randomArray(4 * 3 * 3 * 5, 3, -1, 2), shape as [number, number, number, number]);
    const ours = new FastBatchNormalization({ [missing]: false }) as unknown as AnyLayer;
    const stock = new StockBatchNormalization({}) as unknown as AnyLayer;
    ours.build(shape);
    stock.build(shape);
    const w = randomArray(5, 9, 0.5, 1.5);
    // stock weights: gamma, beta, movingMean, movingVariance
    stock.setWeights([
      tf.tensor1d(missing === 'scale' ? new Float32Array(5).fill(1) : w),
      tf.tensor1d(missing === 'center' ? new Float32Array(5) : w),
      tf.zeros([5]),
      tf.ones([5]),
    ]);
    ours.setWeights([tf.tensor1d(w), tf.zeros([5]), tf.ones([5])]);
    const a = probe(ours, x, true);
    const b = probe(stock, x, true);
    close(a[0]!, b[0]!, 'output');
    close(a[1]!, b[1]!, 'input gradient');
    tf.dispose(x);
  });
}

for (const activation of ['linear', 'relu', 'tanh'] as const) {
  for (const strides of [1, 2]) {
    test(`Conv2D (${activation}, stride ${strides}) matches tfjs-layers' class: outputs and all gradients`, () => {
      const cfg = { filters: 6, kernelSize: 3, strides, padding: strides === 1 ? 'same' : 'valid', activation } as const;
      const shape = [3, 9, 8, 4];
      const x = tf.tensor4d(randomArray(3 * 9 * 8 * 4, 2), shape as [number, number, number, number]);
      const ours = new LazyGradConv2D(cfg) as unknown as AnyLayer;
      const stock = new StockConv2D(cfg) as unknown as AnyLayer;
      ours.build(shape);
      stock.build(shape);
      const weights = ours.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 20 + i), w.shape));
      ours.setWeights(weights);
      stock.setWeights(weights);
      const a = probe(ours, x, true);
      const b = probe(stock, x, true);
      a.forEach((v, i) => close(v, b[i]!, `output ${i}`));
      tf.dispose([x, ...weights]);
    });
  }
}

test('model.json layers deserialise to the project classes and serialise under the Keras names', async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same' }),
      tfl.layers.batchNormalization({}),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const json = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string }[] } };
  registerProjectLayers();
  const loaded = await tfl.models.modelFromJSON({ modelTopology: json });
  assert.ok(loaded.layers[0] instanceof LazyGradConv2D);
  assert.ok(loaded.layers[1] instanceof FastBatchNormalization);
  const saved = loaded.toJSON(null, false) as unknown as { config: { layers: { class_name: string }[] } };
  assert.deepEqual(
    saved.config.layers.map((l) => l.class_name),
    json.config.layers.map((l) => l.class_name),
  );
  model.dispose();
  loaded.dispose();
});
