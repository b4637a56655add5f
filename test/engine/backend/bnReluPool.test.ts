import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  bnReluPool,
  bnReluPoolRouteGrad,
  bnReluPoolTrain,
  bnReluPoolWasmConfigs,
  type PoolSpec,
} from '../../../src/engine/backend/kernels/BnReluPool';
import { forEachNativeLevel, maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * The fused batch norm + ReLU + max pooling ops (BnReluPool.ts, native/src/block.cc) against the
 * same computation written with tfjs's elementwise ops, pooling and their gradients on the cpu
 * backend: outputs, batch statistics, the moving-statistics update and every gradient, in
 * training and inference mode, at every native level and in the portable kernels. Ties (equal
 * values in a window) and overlapping or padded windows included.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 3e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} on ${backend}`);
}

interface Case {
  name: string;
  shape: [number, number, number, number];
  pool: PoolSpec;
  /** Values on a coarse grid: many windows hold equal values, which the tie rule must settle. */
  ties?: boolean;
}

const cases: Case[] = [
  { name: 'conv block 2×2/2', shape: [4, 8, 8, 5], pool: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } },
  { name: 'ties 2×2/2', shape: [3, 6, 6, 4], pool: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' }, ties: true },
  { name: 'odd size, 2×2/2 drops a row', shape: [2, 7, 5, 3], pool: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } },
  { name: 'overlapping 3×3/2 same', shape: [2, 7, 6, 6], pool: { filterSize: [3, 3], strides: [2, 2], pad: 'same' }, ties: true },
  { name: 'no pooling (1×1)', shape: [2, 5, 5, 17], pool: { filterSize: [1, 1], strides: [1, 1], pad: 'valid' } },
];

const EPS = 1e-3;
const MOMENTUM = 0.9;

function inputs(c: Case) {
  const n = c.shape.reduce((a, b) => a * b, 1);
  const C = c.shape[3];
  const xs = c.ties ? randomArray(n, 91, -3, 4).map(Math.floor) : randomArray(n, 91, -2, 3);
  return {
    xs,
    gs: randomArray(C, 92, 0.5, 1.5),
    bs: randomArray(C, 93, -0.3, 0.3),
    mm: randomArray(C, 94, -0.5, 0.5),
    mv: randomArray(C, 95, 0.5, 2),
    C,
  };
}

/** The reference: batch norm from elementwise ops, tfjs's relu and maxPool. */
function composedTrain(c: Case, x: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const mean = tf.mean(x, [0, 1, 2]);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), [0, 1, 2]);
  const bn = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), g), b);
  return [tf.maxPool(tf.relu(bn) as tf.Tensor4D, c.pool.filterSize, c.pool.strides, c.pool.pad), mean, variance];
}

function composedInference(c: Case, x: tf.Tensor4D, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, sc: tf.Tensor): tf.Tensor {
  const bn = tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, EPS))), sc), off);
  return tf.maxPool(tf.relu(bn) as tf.Tensor4D, c.pool.filterSize, c.pool.strides, c.pool.pad);
}

/** Outputs and the gradients of a loss that weighs y (and the batch statistics) with fixed random weights. */
function trainRun(c: Case, fused: boolean): Float32Array[] {
  const { xs, gs, bs, mm, mv, C } = inputs(c);
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, c.shape);
    const ws = randomArray(tf.maxPool(tf.zeros<tf.Rank.R4>(c.shape), c.pool.filterSize, c.pool.strides, c.pool.pad).size, 96);
    const wm = tf.tensor1d(randomArray(C, 97));
    const run = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      if (!fused) return composedTrain(c, xx as tf.Tensor4D, g, b);
      const [y, mean, variance] = bnReluPoolTrain(xx as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, tf.tensor1d(mm), tf.tensor1d(mv), {
        ...c.pool,
        epsilon: EPS,
        momentum: MOMENTUM,
      });
      return [y, mean, variance];
    };
    const loss = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const [y, mean, variance] = run(xx, g, b);
      return tf.addN([tf.sum(tf.mul(y, tf.tensor(ws, y.shape))), tf.sum(tf.mul(mean, wm)), tf.sum(tf.mul(variance, wm))]) as tf.Scalar;
    };
    const args = [x, tf.tensor1d(gs), tf.tensor1d(bs)];
    const outs = run(args[0]!, args[1]!, args[2]!);
    const grads = tf.grads(loss)(args);
    return [...outs, ...grads].map((t) => t.dataSync().slice() as Float32Array);
  });
}

function inferenceRun(c: Case, fused: boolean): Float32Array[] {
  const { xs, gs, bs, mm, mv } = inputs(c);
  return tf.tidy(() => {
    const ws = randomArray(tf.maxPool(tf.zeros<tf.Rank.R4>(c.shape), c.pool.filterSize, c.pool.strides, c.pool.pad).size, 98);
    const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, off: tf.Tensor, sc: tf.Tensor) =>
      fused
        ? bnReluPool(x as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, off as tf.Tensor1D, sc as tf.Tensor1D, {
            ...c.pool,
            epsilon: EPS,
          })[0]
        : composedInference(c, x as tf.Tensor4D, m, v, off, sc);
    const args = [tf.tensor4d(xs, c.shape), tf.tensor1d(mm), tf.tensor1d(mv), tf.tensor1d(bs), tf.tensor1d(gs)];
    const y = f(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum<tf.Scalar>(tf.mul(f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!), tf.tensor(ws, y.shape))))(
      args,
    );
    return [y, ...grads].map((t) => t.dataSync().slice() as Float32Array);
  });
}

/** Runs f with the portable kernels registered in place of the native ones (wasm only). */
function withPortable<T>(f: () => T): T {
  const configs = bnReluPoolWasmConfigs(null);
  const saved = configs.map((c) => tf.getKernel(c.kernelName, 'wasm'));
  const swap = (list: tf.KernelConfig[]) => {
    for (const k of list) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
  };
  swap(configs);
  try {
    return f();
  } finally {
    swap(saved);
  }
}

const TRAIN_NAMES = ['y', 'batch mean', 'batch variance', 'dx', 'dgamma', 'dbeta'];
const INFERENCE_NAMES = ['y', 'dx', 'dmean', 'dvariance', 'doffset', 'dscale'];

for (const c of cases) {
  test(`training block (batch norm + ReLU + max pool) and its gradients match the composed ops: ${c.name}`, async (t) => {
    if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
    const ref = await onCpu(() => trainRun(c, false));
    const runs = [
      ...forEachNativeLevel(() => trainRun(c, true)),
      { level: 'portable kernels', result: withPortable(() => trainRun(c, true)) },
    ];
    for (const { level, result } of runs) result.forEach((o, i) => close(o, ref[i]!, `${TRAIN_NAMES[i]} (${level})`));
  });

  test(`inference block and its gradients (input and parameters) match the composed ops: ${c.name}`, async (t) => {
    if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
    const ref = await onCpu(() => inferenceRun(c, false));
    const runs = [
      ...forEachNativeLevel(() => inferenceRun(c, true)),
      { level: 'portable kernels', result: withPortable(() => inferenceRun(c, true)) },
    ];
    for (const { level, result } of runs) result.forEach((o, i) => close(o, ref[i]!, `${INFERENCE_NAMES[i]} (${level})`));
  });
}

test('the training op returns the moving statistics updated as the Keras layer updates them', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  const c = cases[0]!;
  const { xs, gs, bs, mm, mv } = inputs(c);
  tf.tidy(() => {
    const [, mean, variance, newMean, newVariance] = bnReluPoolTrain(
      tf.tensor4d(xs, c.shape),
      tf.tensor1d(gs),
      tf.tensor1d(bs),
      tf.tensor1d(mm),
      tf.tensor1d(mv),
      {
        ...c.pool,
        epsilon: EPS,
        momentum: MOMENTUM,
      },
    );
    // The layer's update, op by op: moving − (moving − batch)·(1 − momentum).
    const expect = (moving: Float32Array, batch: tf.Tensor) =>
      tf.sub(tf.tensor1d(moving), tf.mul(tf.sub(tf.tensor1d(moving), batch), 1 - MOMENTUM)).dataSync();
    assert.deepEqual(Array.from(newMean.dataSync()), Array.from(expect(mm, mean)));
    assert.deepEqual(Array.from(newVariance.dataSync()), Array.from(expect(mv, variance)));
  });
});

test('a NaN in the block input gives NaN in its window’s output (the loss shows it)', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  const shape: [number, number, number, number] = [1, 4, 4, 2];
  const xs = randomArray(32, 99);
  xs[0] = NaN; // pixel (0, 0), channel 0
  for (const { level, result } of forEachNativeLevel(() =>
    tf.tidy(() =>
      bnReluPool(tf.tensor4d(xs, shape), tf.zeros([2]), tf.ones([2]), tf.zeros([2]), tf.ones([2]), {
        filterSize: [2, 2],
        strides: [2, 2],
        pad: 'valid',
        epsilon: EPS,
      })[0]
        .dataSync()
        .slice(),
    ),
  )) {
    assert.ok(Number.isNaN(result[0]!), `window (0, 0) channel 0 is NaN (${level})`);
    assert.ok(Array.from(result.slice(1)).every(Number.isFinite), `the other outputs are finite (${level})`);
  }
});

test('the inference routes give, for a batch tiled k times, each copy the gradient of its sample', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  for (const c of [cases[1]!, cases[3]!]) {
    const { xs, gs, bs, mm, mv } = inputs(c);
    const k = 3;
    const B = c.shape[0];
    for (const { level, result } of forEachNativeLevel(() =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs, c.shape);
        const [m, v, off, sc] = [mm, mv, bs, gs].map((a) => tf.tensor1d(a));
        const [y, routes] = bnReluPool(x, m!, v!, off!, sc!, { ...c.pool, epsilon: EPS });
        const dys = randomArray(k * y.size, 77);
        // Copy j of the tiled batch gets its own upstream gradient; its input gradient must be
        // what the backward pass of the untiled op gives for that gradient.
        const tiled = bnReluPoolRouteGrad(routes, v!, sc!, tf.tensor(dys, [k * B, ...y.shape.slice(1)]), {
          ...c.pool,
          epsilon: EPS,
          scaled: true,
          inputShape: [k * B, c.shape[1], c.shape[2], c.shape[3]],
        }).dataSync();
        const copies = Array.from({ length: k }, (_, j) =>
          tf
            .grad((xx: tf.Tensor) =>
              tf.sum(
                tf.mul(
                  bnReluPool(xx as tf.Tensor4D, m!, v!, off!, sc!, { ...c.pool, epsilon: EPS })[0],
                  tf.tensor(dys.slice(j * y.size, (j + 1) * y.size), y.shape),
                ),
              ),
            )(x)
            .dataSync(),
        );
        return { tiled: tiled.slice(), copies: copies.map((a) => a.slice()) };
      }),
    )) {
      const n = xs.length;
      result.copies.forEach((g, j) => close(result.tiled.subarray(j * n, (j + 1) * n), g, `${c.name} copy ${j} (${level})`, 0));
    }
  }
});

test('the training gradient’s column sums (the conv bias gradient) are what Sum computes from its data', (t) => {
  if (backend !== 'wasm') return t.skip(`the fused ops are wasm kernels; this run uses ${backend}`);
  // At least 8 channels: the Sum kernel leaves fewer columns to the stock kernel.
  const c: Case = { name: '12 channels', shape: [4, 8, 8, 12], pool: { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } };
  const { xs, gs, bs, mm, mv } = inputs(c);
  const meanWeights = Array.from(randomArray(12, 4, -1, 1));
  const run = () =>
    tf.tidy(() => {
      const w = tf.tensor(randomArray(4 * 4 * 4 * 12, 3), [4, 4, 4, 12]);
      // Through the batch mean as well: then Σ dx per channel is that weight (Σ over the batch of
      // the batch norm's input gradient is the mean's upstream gradient), not rounding noise.
      const f = (x: tf.Tensor) => {
        const [y, mean] = bnReluPoolTrain(x as tf.Tensor4D, tf.tensor1d(gs), tf.tensor1d(bs), tf.tensor1d(mm), tf.tensor1d(mv), {
          ...c.pool,
          epsilon: EPS,
          momentum: MOMENTUM,
        });
        return tf.add(tf.sum(tf.mul(y, w)), tf.sum(tf.mul(mean, tf.tensor1d(meanWeights))));
      };
      const dx = tf.grad(f)(tf.tensor4d(xs, c.shape));
      // The first sum reads the remembered sums; the copy has new data, summed by the kernel.
      return [tf.sum(dx, [0, 1, 2]).dataSync().slice(), tf.sum(tf.add(dx, 0), [0, 1, 2]).dataSync().slice()];
    });
  for (const { level, result } of [...forEachNativeLevel(run), { level: 'portable kernels', result: withPortable(run) }]) {
    const [remembered, computed] = result;
    close(remembered!, meanWeights, `Σ dx = the mean's upstream gradient (${level})`, 1e-5);
    close(computed!, meanWeights, `Σ of a copy of dx (${level})`, 1e-5);
  }
});
