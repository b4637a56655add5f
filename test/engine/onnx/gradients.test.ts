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
 * Directional derivatives along the gradient (float32 rounding of the logits swamps the small
 * derivative along a random direction), 2 % tolerance.
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
      // Directions with a large derivative (float32 rounding of the logits swamps the small
      // derivative along a random direction): the gradient itself, and the gradient plus noise.
      let gnorm = 0;
      for (const v of g) gnorm += v * v;
      gnorm = Math.sqrt(gnorm);
      const noise = randomArray(xs.length, 100);
      const dirs = [
        Float32Array.from(g, (v) => v / gnorm),
        Float32Array.from(g, (v, i) => v / gnorm + (0.5 * noise[i]!) / Math.sqrt(xs.length)),
      ];
      dirs.forEach((v, d) => {
        const h = 0.05;
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
        close(analytic, numeric, gnorm, `${name} direction ${d}`);
      });
      x.dispose();
      c.dispose();
    } finally {
      model.dispose();
    }
  });
}

// Training mode for the BatchNorm models (batch statistics); the depthwise net has Dropout, which
// is random in training, so its weight gradients are checked in inference mode.
for (const [name, training] of [
  ['resnet_bn_norm_op13', true],
  ['convnet_op13', true],
  ['depthwise_op11', false],
] as const) {
  test(`${name}: weight gradients (${training ? 'training' : 'inference'} mode) equal finite differences`, async () => {
    const { model } = await engineModel(fixture(`${name}.onnx`));
    try {
      const x = tf.tensor4d(images(4, 3), [4, ...MNIST_IMAGE]);
      const c = tf.tensor2d(randomArray(4 * K, 6), [4, K]);
      const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
      assert.ok(vars.length > 4, 'the imported model has trainable weights');
      const loss = () => objective(model, c, training)(x) as tf.Scalar;
      const { grads } = tf.variableGrads(loss, vars);
      // Weights right before a training-mode BatchNorm can have a gradient of nearly zero (the
      // normalisation cancels their scale); check first, middle and last of those that have one.
      const norm = (v: tf.Variable) => Math.sqrt(Array.from(grads[v.name]!.dataSync() as Float32Array).reduce((a, b) => a + b * b, 0));
      const live = vars.filter((v) => norm(v) > 1e-3);
      assert.ok(live.length >= 3, 'weights with a gradient');
      for (const v of [live[0]!, live[Math.floor(live.length / 2)]!, live[live.length - 1]!]) {
        const g = grads[v.name]!.dataSync();
        const gn = norm(v);
        const base = v.dataSync().slice();
        const h = 1e-2;
        const at = (s: number) => {
          v.assign(
            tf.tensor(
              base.map((b, i) => b + (s * h * g[i]!) / gn),
              v.shape,
            ),
          );
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(1) - at(-1)) / (2 * h);
        v.assign(tf.tensor(base, v.shape));
        close(gn, numeric, gn, `${name} ${v.name}`);
      }
      tf.dispose(grads);
      x.dispose();
      c.dispose();
    } finally {
      model.dispose();
    }
  });
}
