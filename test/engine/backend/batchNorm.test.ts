import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrain, batchNormTrainGradRows, batchNormTrainRows } from '../../../src/engine/backend/kernels/BatchNormTrain';
import { forEachNativeLevel, maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The fused training batch norm (forward + closed-form gradient) and the replacement gradient of
 * FusedBatchNorm are checked against the textbook formula written with elementwise tfjs ops,
 * whose gradients are tfjs's own, on the cpu backend.
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

const EPS = 1e-3;
const shape: [number, number, number, number] = [6, 5, 4, 19];
const C = shape[3];
const xs = randomArray(6 * 5 * 4 * 19, 31, -2, 3);
const gs = randomArray(C, 32, 0.5, 1.5);
const bs = randomArray(C, 33);
const ws = randomArray(xs.length, 34); // weights of the test loss on y
const wm = randomArray(C, 35); // … on the batch mean
const wv = randomArray(C, 36); // … on the batch variance

/** mean, biased variance and y from elementwise ops only (reference). */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const mean = tf.mean(x, [0, 1, 2]);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), [0, 1, 2]);
  const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), gamma), beta);
  return [y, mean, variance];
}

/** A loss that uses all three outputs, so the mean and variance gradients are exercised too. */
function loss([y, mean, variance]: tf.Tensor[]): tf.Scalar {
  return tf.addN([
    tf.sum(tf.mul(y!, tf.tensor(ws, shape))),
    tf.sum(tf.mul(mean!, tf.tensor1d(wm))),
    tf.sum(tf.mul(variance!, tf.tensor1d(wv))),
  ]) as tf.Scalar;
}

function outputsAndGrads(f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    const args = [tf.tensor4d(xs, shape), tf.tensor1d(gs), tf.tensor1d(bs)];
    const outs = f(args[0]!, args[1]!, args[2]!);
    const grads = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => loss(f(x, g, b)))(args);
    return [...outs, ...grads].map((t) => t.dataSync().slice() as Float32Array);
  });
}

const NAMES = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];

test('fused training batch norm: outputs and gradients match the elementwise formula on cpu', async () => {
  const ref = await onCpu(() => outputsAndGrads(reference));
  for (const { level, result } of forEachNativeLevel(() =>
    outputsAndGrads((x, g, b) => batchNormTrain(x, g as tf.Tensor1D, b as tf.Tensor1D, EPS)),
  ))
    result.forEach((o, i) => close(o, ref[i]!, `batchNormTrain ${NAMES[i]} (${level})`));
});

test('portable batch-norm kernels (no addon) match the elementwise formula', async () => {
  const ref = await onCpu(() => outputsAndGrads(reference));
  const N = xs.length / C;
  const y = new Float32Array(xs.length);
  const mean = new Float32Array(C);
  const variance = new Float32Array(C);
  batchNormTrainRows(N, C, xs, gs, bs, EPS, y, mean, variance);
  const dx = new Float32Array(xs.length);
  const dg = new Float32Array(C);
  const db = new Float32Array(C);
  batchNormTrainGradRows(N, C, xs, ws, gs, mean, variance, wm, wv, EPS, dx, dg, db);
  [y, mean, variance, dx, dg, db].forEach((o, i) => close(o, ref[i]!, `portable ${NAMES[i]}`));
});

test('fused training batch norm leaks no tensors and its gradient disposes what it does not return', () => {
  const x = tf.tensor4d(xs, shape);
  const g = tf.tensor1d(gs);
  const b = tf.tensor1d(bs);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => {
      // Only dx is asked for: dgamma and dbeta must not outlive the backward pass.
      tf.grad((t: tf.Tensor) => tf.sum(batchNormTrain(t, g, b, EPS)[0]))(x);
    });
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, g, b]);
});

test('FusedBatchNorm gradient (inference mode) matches the elementwise formula for every input', async () => {
  const means = randomArray(C, 41);
  const vars = randomArray(C, 42, 0.2, 2);
  const run = (fused: boolean) =>
    tf.tidy(() => {
      const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, sc: tf.Tensor) =>
        tf.sum(
          tf.mul(
            fused
              ? tf.batchNorm4d(x as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, off as tf.Tensor1D, sc as tf.Tensor1D, EPS)
              : tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, EPS))), sc), off),
            tf.tensor(ws, shape),
          ),
        );
      const grads = tf.grads(f)([tf.tensor4d(xs, shape), tf.tensor1d(means), tf.tensor1d(vars), tf.tensor1d(bs), tf.tensor1d(gs)]);
      return grads.map((t) => t.dataSync().slice() as Float32Array);
    });
  const ref = await onCpu(() => run(false));
  for (const { level, result } of forEachNativeLevel(() => run(true)))
    ['x', 'mean', 'variance', 'offset', 'scale'].forEach((n, i) => close(result[i]!, ref[i]!, `FusedBatchNorm d${n} (${level})`));
});
