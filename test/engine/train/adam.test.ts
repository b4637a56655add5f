import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, adamUpdateWasmConfig } from '../../../src/engine/backend/kernels/AdamUpdate';
import { Adam } from '../../../src/engine/train/adam';
import { forEachNativeLevel, onCpu, randomArray, useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/** PyTorch's Adam for one scalar parameter, in float64. */
function referenceAdam(grads: number[], lr: number, theta0: number): number {
  let m = 0;
  let v = 0;
  let theta = theta0;
  grads.forEach((g, i) => {
    const t = i + 1;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    theta -= (lr / (1 - 0.9 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8));
  });
  return theta;
}

test('Adam matches the PyTorch update rule', () => {
  const grads = [0.5, -0.2, 0.1, 0.3, -0.7];
  const x = tf.variable(tf.scalar(1));
  const opt = new Adam(0.01);
  for (const g of grads) opt.applyGradients([x], [tf.scalar(g)]);
  assert.ok(Math.abs(x.dataSync()[0]! - referenceAdam(grads, 0.01, 1)) < 1e-6);
});

test('restoring a saved state continues exactly like an uninterrupted optimiser', () => {
  const grads = [0.5, -0.2, 0.1, 0.3, -0.7, 0.05];
  const a = tf.variable(tf.tensor1d([1, 2]));
  const optA = new Adam(0.01);
  for (const g of grads) optA.applyGradients([a], [tf.tensor1d([g, -g])]);

  const b = tf.variable(tf.tensor1d([1, 2]));
  const optB = new Adam(0.01);
  for (const g of grads.slice(0, 3)) optB.applyGradients([b], [tf.tensor1d([g, -g])]);
  const saved = optB.getState();
  const copy = { step: saved.step, m: saved.m.map((t) => t.clone()), v: saved.v.map((t) => t.clone()) };
  const optC = new Adam(0.01);
  optC.setState(copy);
  for (const g of grads.slice(3)) optC.applyGradients([b], [tf.tensor1d([g, -g])]);
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
});

test('the fused update kernel gives the op chain’s weights and moments bit for bit (every native level and the portable kernel)', async (t) => {
  if (tf.getBackend() !== 'wasm') return t.skip('the fused update is a wasm kernel');
  const n = 4099; // not a multiple of any vector width
  const run = () =>
    tf.tidy(() => {
      const x = tf.variable(tf.tensor1d(randomArray(n, 1, -2, 2)));
      const opt = new Adam(1e-3);
      for (let s = 0; s < 5; s++) {
        const g = randomArray(n, 10 + s, -1, 1).map((v, i) => (i % 97 === 0 ? 0 : i % 89 === 0 ? v * 1e-6 : i % 83 === 0 ? v * 1e4 : v));
        opt.applyGradients([x], [tf.tensor1d(g)]);
      }
      const s = opt.getState();
      const out = [x, ...s.m, ...s.v].map((v) => Array.from(v.dataSync()));
      opt.dispose();
      x.dispose();
      return out;
    });
  // The cpu backend has no fused kernel: it runs the op chain, each op rounded to float32.
  const chain = await onCpu(run);
  for (const { level, result } of forEachNativeLevel(run)) assert.deepEqual(result, chain, `native ${level}`);
  const portable = adamUpdateWasmConfig(null);
  const native = tf.getKernel(ADAM_UPDATE, 'wasm');
  tf.unregisterKernel(ADAM_UPDATE, 'wasm');
  tf.registerKernel(portable);
  try {
    assert.deepEqual(run(), chain, 'portable kernel');
  } finally {
    tf.unregisterKernel(ADAM_UPDATE, 'wasm');
    tf.registerKernel(native);
  }
});
