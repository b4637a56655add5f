import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { traceLoss, traceLossGradRows, traceLossRows, type TraceLossAttrs } from '../../../src/engine/backend/kernels/TraceLoss';
import { defendedLoss, LOG_INV_P_CAP } from '../../../src/engine/train/loss';
import { maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The fused defended loss (kernels/TraceLoss.ts): its value, metrics and gradient against the op
 * chain of train/loss.ts (with tfjs's own gradients, on cpu) and against central differences in
 * float64, with label smoothing, μ = 0 and log(1/p) capped.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 2e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} on ${backend}`);
}

const n = 7;
const K = 10;
const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % K);

/** The loss, [Σloss, ΣCE, Σtr G_s, Σλmax, correct] and ∂loss/∂logits from the op chain of train/loss.ts. */
function chain(z: Float32Array, a: TraceLossAttrs): Float32Array[] {
  return tf.tidy(() => {
    const logits = tf.tensor2d(z, [n, K]);
    const y = tf.tensor1d(labels, 'int32');
    const f = (t: tf.Tensor) => defendedLoss(t as tf.Tensor2D, y, { mu: a.mu, labelSmoothing: a.labelSmoothing }).loss;
    const { loss, ce } = defendedLoss(logits, y, { mu: a.mu, labelSmoothing: a.labelSmoothing });
    const logInvP = tf.minimum(tf.sub(tf.logSumExp(logits, 1, true), logits), LOG_INV_P_CAP);
    const metrics = tf.stack([
      tf.mul(loss, n),
      tf.mul(ce, n),
      tf.sum(tf.exp(logInvP)),
      tf.sum(tf.exp(tf.max(logInvP, 1))),
      tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')),
    ]);
    return [loss, metrics, tf.grad(f)(logits)].map((t) => t.dataSync().slice() as Float32Array);
  });
}

function fused(z: Float32Array, a: TraceLossAttrs): Float32Array[] {
  return tf.tidy(() => {
    const logits = tf.tensor2d(z, [n, K]);
    const y = tf.tensor1d(labels, 'int32');
    const [loss, metrics] = traceLoss(logits, y, a);
    const g = tf.grad((t: tf.Tensor) => traceLoss(t as tf.Tensor2D, y, a)[0])(logits);
    return [loss, metrics, g].map((t) => t.dataSync().slice() as Float32Array);
  });
}

const settings: TraceLossAttrs[] = [
  { mu: 0.022, labelSmoothing: 0, cap: LOG_INV_P_CAP },
  { mu: 0, labelSmoothing: 0, cap: LOG_INV_P_CAP },
  { mu: 0.5, labelSmoothing: 0.1, cap: LOG_INV_P_CAP },
];

for (const a of settings) {
  test(`fused loss, metrics and gradient equal the op chain: μ = ${a.mu}, label smoothing ${a.labelSmoothing}`, async (t) => {
    if (backend !== 'wasm') return t.skip(`the fused loss is a wasm kernel; this run uses ${backend}`);
    const z = randomArray(n * K, 31, -3, 3);
    const ref = await onCpu(() => chain(z, a));
    const ours = fused(z, a);
    ['loss', 'metrics', 'gradient'].forEach((name, i) => close(ours[i]!, ref[i]!, name));
  });
}

test('entries whose log(1/p) exceeds the cap count exp(cap) and get no gradient from the trace, like tf.minimum', async (t) => {
  if (backend !== 'wasm') return t.skip(`the fused loss is a wasm kernel; this run uses ${backend}`);
  const z = randomArray(n * K, 32, -1, 1);
  z[0] = 70; // row 0: every other class has log(1/p) ≈ 70 > 60
  z[K + 3] = 65;
  const a = { mu: 0.022, labelSmoothing: 0, cap: LOG_INV_P_CAP };
  const ref = await onCpu(() => chain(z, a));
  const ours = fused(z, a);
  ['loss', 'metrics', 'gradient'].forEach((name, i) => close(ours[i]!, ref[i]!, name, 1e-5));
});

test('the gradient equals central differences of the loss in float64', () => {
  const z = randomArray(n * K, 33, -2, 2);
  for (const a of settings) {
    const g = new Float32Array(n * K);
    traceLossGradRows(z, labels, K, a, 1, g);
    const zd = Float64Array.from(z);
    const loss = (v: Float64Array) => traceLossRows(Float32Array.from(v), labels, K, a).loss;
    for (const j of [0, 5, 13, 27, 44, 69]) {
      const h = 1e-2;
      const up = Float64Array.from(zd);
      const dn = Float64Array.from(zd);
      up[j]! += h;
      dn[j]! -= h;
      // The logits are rounded to float32 inside, so steps of 1e-2 (exact to ~1e-9) are used.
      const fd = (loss(up) - loss(dn)) / (2 * h);
      assert.ok(Math.abs(fd - g[j]!) < 1e-4 * Math.max(1, Math.abs(fd)), `μ ${a.mu} ls ${a.labelSmoothing} z[${j}]: ${g[j]} vs ${fd}`);
    }
  }
});
