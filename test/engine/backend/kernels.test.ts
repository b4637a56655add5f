import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterPortable } from '../../../src/engine/backend/kernels/Conv2DBackpropFilter';
import { conv2DBackpropInputPortable } from '../../../src/engine/backend/kernels/Conv2DBackpropInput';
import { requireStock } from '../../../src/engine/backend/kernels/register';
import { maxPoolGradPortable } from '../../../src/engine/backend/kernels/MaxPool';
import { sumLeadingPortable } from '../../../src/engine/backend/kernels/Sum';
import type { WasmBackendLike } from '../../../src/engine/backend/kernels/wasmHeap';
import { forEachNativeLevel, maxAbs, maxAbsDiff, onCpu, randomArray, useEngineBackend } from '../../helpers';

/**
 * Every kernel the project registers is checked against tfjs's pure-JS cpu backend on the same
 * inputs, over shapes that exercise padding, strides, odd sizes and the native kernels' edge paths
 * (column tails, narrow outputs, pointwise convolutions). The portable (no-addon) kernels are run
 * directly as well, so both paths are covered whichever one the backend uses.
 */
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} on ${backend}`);
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Runs f on the engine backend, at every native level this CPU runs, and on cpu, and compares every output. */
async function matchesCpu(what: string, f: () => tf.Tensor | tf.Tensor[], rel = 1e-5): Promise<void> {
  const read = () =>
    tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync().slice() as Float32Array);
    });
  const ref = await onCpu(read);
  for (const { level, result: ours } of forEachNativeLevel(read)) {
    assert.equal(ours.length, ref.length);
    ours.forEach((o, i) => close(o, ref[i]!, `${what} [output ${i}, ${level}]`, rel));
  }
}

/** Calls a portable kernel function directly on the wasm backend (skipped on other backends). */
function runPortable(f: (b: WasmBackendLike) => tf.TensorInfo | null): Float32Array {
  const info = f(tf.backend() as unknown as WasmBackendLike);
  assert.ok(info, 'portable kernel declined the case');
  const t = tf.engine().makeTensorFromTensorInfo(info);
  const data = t.dataSync().slice() as Float32Array;
  t.dispose();
  return data;
}

type Pad = 'same' | 'valid';
interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  stride: number | [number, number];
  pad: Pad;
  dilation?: number;
}

const convCases: ConvCase[] = [
  { x: [2, 28, 28, 1], f: [3, 3, 1, 32], stride: 1, pad: 'same' },
  { x: [2, 10, 10, 32], f: [3, 3, 32, 64], stride: 1, pad: 'same' },
  { x: [2, 9, 7, 5], f: [3, 2, 5, 6], stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 3], f: [5, 5, 3, 4], stride: 2, pad: 'same' },
  { x: [2, 32, 32, 3], f: [3, 3, 3, 16], stride: 1, pad: 'same' },
  { x: [2, 6, 6, 20], f: [1, 1, 20, 70], stride: 1, pad: 'valid' }, // pointwise, column tail
  { x: [2, 11, 10, 7], f: [3, 3, 7, 3], stride: [1, 2], pad: 'same' }, // narrow output
  { x: [1, 10, 10, 4], f: [3, 3, 4, 17], stride: 1, pad: 'same', dilation: 2 },
];

const caseName = (c: ConvCase) => `x[${c.x}] f[${c.f}] s${c.stride} ${c.pad}${c.dilation ? ` d${c.dilation}` : ''}`;

for (const c of convCases) {
  const name = caseName(c);
  const xs = randomArray(size(c.x), 1);
  const fs = randomArray(size(c.f), 3);
  const bs = randomArray(c.f[3], 4);
  const dil = c.dilation ?? 1;
  const outShape = () => tf.tidy(() => tf.conv2d(tf.zeros<tf.Rank.R4>(c.x), tf.zeros<tf.Rank.R4>(c.f), c.stride, c.pad, 'NHWC', dil).shape);

  test(`Conv2D and FusedConv2D (bias, relu, relu6) match the cpu backend: ${name}`, async () => {
    for (const activation of ['linear', 'relu', 'relu6'] as const) {
      await matchesCpu(`fused ${activation} ${name}`, () =>
        tf.fused.conv2d({
          x: tf.tensor4d(xs, c.x),
          filter: tf.tensor4d(fs, c.f),
          strides: c.stride,
          pad: c.pad,
          dilations: dil,
          bias: tf.tensor1d(bs),
          activation,
        }),
      );
    }
    await matchesCpu(`conv2d ${name}`, () => tf.conv2d(tf.tensor4d(xs, c.x), tf.tensor4d(fs, c.f), c.stride, c.pad, 'NHWC', dil));
  });

  if (dil !== 1) continue; // tfjs has no gradients for dilated convolutions
  test(`Conv2DBackpropInput and Conv2DBackpropFilter match the cpu backend: ${name}`, async () => {
    const dShape = outShape();
    const dys = randomArray(size(dShape), 2);
    const grads = () =>
      tf.tidy(() => {
        const g = tf.grads((x: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad), tf.tensor(dys, dShape))),
        );
        return g([tf.tensor4d(xs, c.x), tf.tensor4d(fs, c.f)]);
      });
    await matchesCpu(`grads ${name}`, grads);
    if (backend === 'wasm') {
      const [refDx, refDw] = await onCpu(() => tf.tidy(() => grads().map((g) => g.dataSync().slice())));
      const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' as const };
      const x = tf.tensor4d(xs, c.x);
      const dy = tf.tensor(dys, dShape);
      const filter = tf.tensor4d(fs, c.f);
      close(
        runPortable((b) => conv2DBackpropFilterPortable(b, { x, dy }, { ...attrs, filterShape: c.f }, requireStock('BatchMatMul', 'wasm'))),
        refDw!,
        `portable Conv2DBackpropFilter ${name}`,
      );
      const stride1 = c.stride === 1;
      const dx = conv2DBackpropInputPortable(
        tf.backend() as never,
        { dy, filter },
        { ...attrs, inputShape: c.x },
        requireStock('Conv2D', 'wasm'),
      );
      assert.equal(dx !== null, stride1, 'the portable input gradient covers exactly the stride-1 cases');
      if (dx)
        close(
          runPortable(() => dx),
          refDx!,
          `portable Conv2DBackpropInput ${name}`,
        );
      tf.dispose([x, dy, filter]);
    }
  });
}

const poolCases: { x: [number, number, number, number]; size: number; stride: number; pad: Pad }[] = [
  { x: [2, 28, 28, 32], size: 2, stride: 2, pad: 'valid' },
  { x: [2, 7, 9, 5], size: 3, stride: 2, pad: 'same' },
  { x: [1, 6, 6, 17], size: 3, stride: 1, pad: 'same' }, // overlapping windows accumulate
];

for (const c of poolCases) {
  const name = `x[${c.x}] k${c.size} s${c.stride} ${c.pad}`;
  // Values from {0, 1, 2}: most windows have tied maxima, which the tie rule must settle like tfjs's cpu backend.
  const xs = randomArray(size(c.x), 7, 0, 3).map(Math.floor);
  test(`MaxPool and MaxPoolGrad (with ties) match the cpu backend: ${name}`, async () => {
    await matchesCpu(`maxPool ${name}`, () => tf.maxPool(tf.tensor4d(xs, c.x), c.size, c.stride, c.pad));
    const yShape = tf.tidy(() => tf.maxPool(tf.zeros<tf.Rank.R4>(c.x), c.size, c.stride, c.pad).shape);
    const dys = randomArray(size(yShape), 8);
    const grad = () =>
      tf.tidy(() =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(x as tf.Tensor4D, c.size, c.stride, c.pad), tf.tensor(dys, yShape))))(
          tf.tensor4d(xs, c.x),
        ),
      );
    await matchesCpu(`maxPoolGrad ${name}`, grad);
    if (backend === 'wasm') {
      const ref = await onCpu(() => tf.tidy(() => grad().dataSync().slice()));
      const x = tf.tensor4d(xs, c.x);
      const dy = tf.tensor(dys, yShape);
      const y = tf.maxPool(x, c.size, c.stride, c.pad);
      close(
        runPortable((b) => maxPoolGradPortable(b, { dy, input: x, output: y }, { filterSize: c.size, strides: c.stride, pad: c.pad })),
        ref,
        `portable MaxPoolGrad ${name}`,
      );
      tf.dispose([x, dy, y]);
    }
  });
}

test('MaxPoolGrad sends a tied window’s gradient to its first element in row-major order', () => {
  // One 2×2 window per channel: channel 0 all equal, channel 1 tie between (0,1) and (1,0).
  const x = tf.tensor4d([5, 1, 5, 3, 5, 3, 5, 2], [1, 2, 2, 2]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')))(x);
  assert.deepEqual(Array.from(g.dataSync()), [1, 0, 0, 1, 0, 0, 0, 0]);
  tf.dispose([x, g]);
});

test('Sum over leading axes (conv bias gradients) matches the cpu backend; other axes still work', async () => {
  const shape = [3, 5, 4, 24];
  const xs = randomArray(size(shape), 11);
  for (const [axis, keepDims] of [
    [[0, 1, 2], false],
    [[0, 1, 2], true],
    [[0], false],
    [[1, 0], false],
    [[0, 2], false],
    [[3], true],
    [null, false],
  ] as const) {
    await matchesCpu(
      `sum axis ${axis} keepDims ${keepDims}`,
      () => tf.sum(tf.tensor(xs, shape), axis === null ? undefined : [...axis], keepDims),
      1e-5,
    );
  }
  if (backend === 'wasm') {
    const x = tf.tensor(xs, shape);
    const ref = await onCpu(() => tf.tidy(() => tf.sum(tf.tensor(xs, shape), [0, 1, 2]).dataSync().slice()));
    close(
      runPortable((b) => sumLeadingPortable(b, { x }, { axis: [0, 1, 2], keepDims: false })),
      ref,
      'portable Sum',
    );
    x.dispose();
  }
});

test('BatchMatMul and fused matMul (transposes, batches, bias, relu) match the cpu backend', async () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { a: [37, 50], b: [50, 10], ta: false, tb: false },
    { a: [50, 37], b: [50, 10], ta: true, tb: false },
    { a: [37, 50], b: [70, 50], ta: false, tb: true },
    { a: [50, 37], b: [70, 50], ta: true, tb: true },
    { a: [3, 9, 13], b: [3, 13, 5], ta: false, tb: false },
    { a: [3, 9, 13], b: [13, 33], ta: false, tb: false }, // one side unbatched
    { a: [1, 200], b: [200, 3], ta: false, tb: false },
  ];
  for (const c of cases) {
    const as = randomArray(size(c.a), 21);
    const bs = randomArray(size(c.b), 22);
    const n = c.tb ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!;
    const biasv = randomArray(n, 23);
    const name = `a[${c.a}]${c.ta ? 'ᵀ' : ''} b[${c.b}]${c.tb ? 'ᵀ' : ''}`;
    await matchesCpu(`matMul ${name}`, () => tf.matMul(tf.tensor(as, c.a), tf.tensor(bs, c.b), c.ta, c.tb));
    await matchesCpu(`fused matMul ${name}`, () =>
      tf.fused.matMul({
        a: tf.tensor(as, c.a),
        b: tf.tensor(bs, c.b),
        transposeA: c.ta,
        transposeB: c.tb,
        bias: tf.tensor1d(biasv),
        activation: 'relu',
      }),
    );
  }
});

test('Identity shares the buffer but the clone outlives its source', () => {
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const v = tf.variable(b);
  v.assign(tf.tensor1d([4, 5, 6]));
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3], 'assigning a variable must not change the tensor it was made from');
  tf.dispose([b, v]);
});

test('Tile (block copies, int32 too, small blocks via the stock kernel) matches the cpu backend', async () => {
  const shape = [3, 4, 5, 6];
  const xs = randomArray(size(shape), 51);
  for (const reps of [
    [10, 1, 1, 1],
    [2, 1, 3, 1],
    [1, 2, 1, 1],
    [2, 2, 2, 2],
    [1, 1, 1, 1],
  ]) {
    await matchesCpu(`tile ${reps}`, () => tf.tile(tf.tensor(xs, shape), reps));
  }
  await matchesCpu('tile int32', () =>
    tf.cast(
      tf.tile(
        tf.tensor(
          Int32Array.from(xs, (v) => Math.round(v * 1000)),
          shape,
          'int32',
        ),
        [2, 1, 1, 1],
      ),
      'float32',
    ),
  );
});

test('FusedBatchNorm (inference) forward matches the cpu backend, per-channel and broadcast statistics', async () => {
  const shape: [number, number, number, number] = [4, 5, 3, 21];
  const xs = randomArray(size(shape), 61, -2, 2);
  const m = randomArray(21, 62);
  const v = randomArray(21, 63, 0.1, 2);
  const o = randomArray(21, 64);
  const s = randomArray(21, 65);
  await matchesCpu('batchNorm rank-1 stats', () =>
    tf.batchNorm4d(tf.tensor4d(xs, shape), tf.tensor1d(m), tf.tensor1d(v), tf.tensor1d(o), tf.tensor1d(s), 1e-3),
  );
  await matchesCpu('batchNorm without offset/scale', () =>
    tf.batchNorm4d(tf.tensor4d(xs, shape), tf.tensor1d(m), tf.tensor1d(v), undefined, undefined, 1e-3),
  );
  await matchesCpu('batchNorm rank-4 stats', () =>
    tf.batchNorm4d(
      tf.tensor4d(xs, shape),
      tf.tensor4d(m, [1, 1, 1, 21]),
      tf.tensor4d(v, [1, 1, 1, 21]),
      tf.tensor4d(o, [1, 1, 1, 21]),
      tf.tensor4d(s, [1, 1, 1, 21]),
      1e-3,
    ),
  );
  await matchesCpu('batchNorm scalar stats (stock path)', () =>
    tf.batchNorm(tf.tensor4d(xs, shape), tf.scalar(0.3), tf.scalar(2), tf.scalar(1), tf.scalar(0.5), 1e-3),
  );
});

test('ReLU gradient matches the cpu backend, NaN included', async () => {
  const xs = randomArray(3000, 71, -1, 1);
  xs[5] = 0;
  xs[6] = NaN;
  const dys = randomArray(3000, 72);
  const grad = () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), tf.tensor1d(dys))))(tf.tensor1d(xs)));
  const ref = await onCpu(() => grad().dataSync().slice());
  assert.ok(Number.isNaN(ref[6]!));
  ref[6] = 0;
  for (const { level, result: ours } of forEachNativeLevel(() => grad().dataSync().slice())) {
    assert.ok(Number.isNaN(ours[6]!), `NaN input gives a NaN gradient, like tfjs (${level})`);
    ours[6] = 0;
    close(ours, ref, `relu grad (${level})`);
  }
});

test('Maximum and Minimum with broadcasting (NaN included) match the cpu backend', async () => {
  const shapes: [number[], number[]][] = [
    [
      [6, 5, 4, 1],
      [6, 1, 1, 1],
    ],
    [
      [6, 1, 1, 1],
      [6, 5, 4, 1],
    ],
    [[3, 4, 5], [5]],
    [
      [3, 1, 5],
      [1, 4, 1],
    ],
    [[7, 9], []],
    [
      [2, 3, 4, 5],
      [2, 3, 4, 5],
    ],
  ];
  for (const [sa, sb] of shapes) {
    const as = randomArray(size(sa), 81);
    const bs = randomArray(size(sb), 82);
    as[3] = NaN;
    for (const [name, op] of [
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
    ] as const) {
      const run = () => tf.tidy(() => op(tf.tensor(as, sa), tf.tensor(bs, sb)).dataSync().slice());
      const ref = await onCpu(run);
      for (const { level, result: ours } of forEachNativeLevel(run)) {
        assert.deepEqual(Array.from(ours, Number.isNaN), Array.from(ref, Number.isNaN), `${name} ${sa} vs ${sb}: NaN positions (${level})`);
        close(
          ours.map((v) => (Number.isNaN(v) ? 0 : v)),
          ref.map((v) => (Number.isNaN(v) ? 0 : v)),
          `${name} [${sa}] vs [${sb}] (${level})`,
        );
      }
    }
  }
});

test('empty batches go through every replaced kernel like on the cpu backend', async () => {
  const run = () =>
    tf.tidy(() => {
      const x = tf.zeros<tf.Rank.R4>([0, 6, 6, 3]);
      const f = tf.ones<tf.Rank.R4>([3, 3, 3, 4]);
      const [dx, df] = tf.grads((a: tf.Tensor, w: tf.Tensor) =>
        tf.sum(tf.maxPool(tf.relu(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')), 2, 2, 'valid')),
      )([x, f]);
      const mm = tf.matMul(tf.zeros([0, 5]), tf.ones([5, 3]));
      const mx = tf.maximum(tf.zeros([0, 4]), tf.zeros([0, 1]));
      return [
        dx!.shape.join(),
        df!.dataSync().join(),
        mm.shape.join(),
        mx.shape.join(),
        tf
          .sum(tf.zeros([0, 3, 16]), [0, 1])
          .dataSync()
          .join(),
      ];
    });
  const ref = await onCpu(run);
  for (const { level, result } of forEachNativeLevel(run)) assert.deepEqual(result, ref, level);
});
