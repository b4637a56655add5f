import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { randomArray, useEngineBackend } from '../../helpers';
import { engineModel, fixture, images, MNIST_IMAGE } from './helpers';

/**
 * Gradients through imported graphs against central finite differences of the same model:
 * input gradients in inference mode (what FIM statistics and attacks use) for every PyTorch
 * fixture, and weight gradients in training mode (fine-tuning, BatchNorm on batch statistics).
 * Directional derivatives along random directions; float32 with h = 1e-2, so 2 % tolerance.
 */
before(async () => {
  await useEngineBackend();
});

const N = 2;
const K = 10;

function objective(model: tfl.LayersModel, c: tf.Tensor, training: boolean) {
  return (x: tf.Tensor) => tf.sum(tf.mul(model.apply(x, { training }) as tf.Tensor, c));
}

function close(analytic: number, numeric: number, scale: number, what: string): void {
  const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-2 * scale, 1e-6);
  assert.ok(err <= 2e-2, `${what}: analytic ${analytic} vs finite difference ${numeric}`);
}

for (const name of ['convnet_op13', 'resnet_bn_norm_op17', 'depthwise_op14', 'avgpool_view_op11', 'nhwc_input_op13']) {
  test(`${name}: input gradients equal finite differences`, async () => {
    const { model } = await engineModel(fixture(`${name}.onnx`));
    try {
      const xs = images(N, 17);
      const c = tf.tensor2d(randomArray(N * K, 5), [N, K]);
      const f = objective(model, c, false);
      const x = tf.tensor4d(xs, [N, ...MNIST_IMAGE]);
      const g = tf.tidy(() => tf.grad(f)(x).dataSync() as Float32Array).slice();
      let gnorm = 0;
      for (const v of g) gnorm += v * v;
      for (let d = 0; d < 3; d++) {
        const v = randomArray(xs.length, 100 + d);
        const h = 1e-2;
        const at = (s: number) =>
          tf.tidy(
            () =>
              f(
                tf.tensor4d(
                  xs.map((xi, i) => xi + s * h * v[i]!),
                  x.shape,
                ),
              ).dataSync()[0]!,
          );
        const numeric = (at(1) - at(-1)) / (2 * h);
        let analytic = 0;
        for (let i = 0; i < g.length; i++) analytic += g[i]! * v[i]!;
        close(analytic, numeric, Math.sqrt((gnorm * xs.length) / 3), `${name} direction ${d}`);
      }
      x.dispose();
      c.dispose();
    } finally {
      model.dispose();
    }
  });
}

for (const name of ['resnet_bn_norm_op13', 'depthwise_op11']) {
  test(`${name}: weight gradients in training mode equal finite differences`, async () => {
    const { model } = await engineModel(fixture(`${name}.onnx`));
    try {
      const x = tf.tensor4d(images(4, 3), [4, ...MNIST_IMAGE]);
      const c = tf.tensor2d(randomArray(4 * K, 6), [4, K]);
      const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
      assert.ok(vars.length > 4, 'the imported model has trainable weights');
      const loss = () => objective(model, c, true)(x) as tf.Scalar;
      const { grads } = tf.variableGrads(loss, vars);
      for (const v of [vars[0]!, vars[Math.floor(vars.length / 2)]!, vars[vars.length - 2]!]) {
        const g = grads[v.name]!.dataSync();
        const base = v.dataSync().slice();
        const dir = randomArray(base.length, 7);
        const h = 1e-2;
        const at = (s: number) => {
          v.assign(
            tf.tensor(
              base.map((b, i) => b + s * h * dir[i]!),
              v.shape,
            ),
          );
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(1) - at(-1)) / (2 * h);
        v.assign(tf.tensor(base, v.shape));
        let analytic = 0;
        for (let i = 0; i < g.length; i++) analytic += g[i]! * dir[i]!;
        close(analytic, numeric, 1, `${name} ${v.name}`);
      }
      tf.dispose(grads);
      x.dispose();
      c.dispose();
    } finally {
      model.dispose();
    }
  });
}
