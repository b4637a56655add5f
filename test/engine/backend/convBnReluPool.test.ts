import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { PoolSpec } from '../../../src/engine/backend/kernels/BnReluPool';
import { convBnReluPool } from '../../../src/engine/backend/kernels/ConvBnReluPool';
import { forEachNativeLevel, maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The fused convolution + inference batch norm + ReLU + max pooling (ConvBnReluPool.ts,
 * native/src/conv.cc) against tfjs's conv2d, the batch-norm formula, relu and maxPool with their
 * gradients on the cpu backend: output and the gradients of every input, at every native level.
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

interface Case {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: number;
  pad: 'same' | 'valid';
  pool: PoolSpec;
}

const p2: PoolSpec = { filterSize: [2, 2], strides: [2, 2], pad: 'valid' };
const cases: Case[] = [
  { name: 'ConvNet conv1 block', x: [2, 12, 12, 1], f: [3, 3, 1, 32], stride: 1, pad: 'same', pool: p2 },
  { name: 'ConvNet conv2 block', x: [2, 6, 6, 32], f: [3, 3, 32, 64], stride: 1, pad: 'same', pool: p2 },
  { name: 'odd output: pooling drops a row and a column', x: [2, 7, 9, 3], f: [3, 3, 3, 19], stride: 1, pad: 'same', pool: p2 },
  {
    name: 'strided valid conv, 3×3/3 pooling',
    x: [1, 13, 13, 2],
    f: [3, 3, 2, 5],
    stride: 2,
    pad: 'valid',
    pool: { filterSize: [3, 3], strides: [3, 3], pad: 'valid' },
  },
  {
    name: 'no pooling (1×1), narrow output',
    x: [2, 5, 5, 4],
    f: [3, 3, 4, 3],
    stride: 1,
    pad: 'same',
    pool: { filterSize: [1, 1], strides: [1, 1], pad: 'valid' },
  },
];

const EPS = 1e-3;

function run(c: Case, fusedOp: boolean): Float32Array[] {
  const C = c.f[3];
  const xs = randomArray(
    c.x.reduce((a, b) => a * b, 1),
    1,
    0,
    1,
  );
  const fs = randomArray(
    c.f.reduce((a, b) => a * b, 1),
    2,
  );
  const [bias, mean, variance, offset, scale] = [
    randomArray(C, 3, -0.2, 0.2),
    randomArray(C, 4, -0.3, 0.3),
    randomArray(C, 5, 0.3, 2),
    randomArray(C, 6, -0.2, 0.2),
    randomArray(C, 7, 0.5, 1.5),
  ];
  return tf.tidy(() => {
    const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, sc: tf.Tensor) => {
      if (fusedOp)
        return convBnReluPool(
          x as tf.Tensor4D,
          w as tf.Tensor4D,
          b as tf.Tensor1D,
          { mean: m as tf.Tensor1D, variance: v as tf.Tensor1D, offset: off as tf.Tensor1D, scale: sc as tf.Tensor1D },
          {
            strides: [c.stride, c.stride],
            pad: c.pad,
            pool: c.pool,
            epsilon: EPS,
          },
        )[0];
      const conv = tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), b);
      const bn = tf.add(tf.mul(tf.mul(tf.sub(conv, m), tf.rsqrt(tf.add(v, EPS))), sc), off);
      return tf.maxPool(tf.relu(bn) as tf.Tensor4D, c.pool.filterSize, c.pool.strides, c.pool.pad);
    };
    const args = [tf.tensor4d(xs, c.x), tf.tensor4d(fs, c.f), ...[bias, mean, variance, offset, scale].map((a) => tf.tensor1d(a))];
    const call = (a: tf.Tensor[]) => f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!);
    const y = call(args);
    const ws = tf.tensor(randomArray(y.size, 8), y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum<tf.Scalar>(tf.mul(call(a), ws)))(args);
    return [y, ...grads].map((t) => t.dataSync().slice() as Float32Array);
  });
}

const NAMES = ['y', 'dx', 'dfilter', 'dbias', 'dmean', 'dvariance', 'doffset', 'dscale'];

for (const c of cases) {
  test(`fused conv + batch norm + ReLU + max pool (inference) and its gradients match the composed ops: ${c.name}`, async (t) => {
    if (backend !== 'wasm') return t.skip(`the fused op is a wasm kernel; this run uses ${backend}`);
    const ref = await onCpu(() => run(c, false));
    for (const { level, result } of forEachNativeLevel(() => run(c, true)))
      result.forEach((o, i) => close(o, ref[i]!, `${NAMES[i]} (${level})`));
  });
}
