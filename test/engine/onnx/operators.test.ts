import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { randomArray, useEngineBackend } from '../../helpers';
import { attr, GraphBuilder } from './graphBuilder';
import { engineLogits, engineModel, images, ortRun, relDiff, softmaxRows, toNchw } from './helpers';

/**
 * Each supported operator, in the forms torch.onnx.export and the ONNX spec allow at opsets
 * 9–18 (attributes vs inputs, auto_pad, ceil_mode, count_include_pad, groups, dilations, layouts),
 * against onnxruntime on the same hand-built graph: ≤ 1e-4 relative.
 */
before(async () => {
  await useEngineBackend();
});

interface Case {
  opset: number;
  image: [number, number, number];
  nhwc?: boolean;
  /** Builds the graph; returns the logits value and whether the model's output is a softmax of them. */
  build: (b: GraphBuilder) => string;
  softmax?: boolean;
}

const conv = (b: GraphBuilder, x: string, cin: number, cout: number, extra: Parameters<GraphBuilder['node']>[2] = [], group = 1, k = 3) =>
  b.node(
    'Conv',
    [x, b.weight([cout, cin / group, k, k]), b.weight([cout], 0.1)],
    [attr.ints('kernel_shape', [k, k]), attr.int('group', group), ...extra],
  );

const CASES: Record<string, Case> = {
  'Conv stride 2, pads 1 (not TF same) + fused Relu': {
    opset: 13,
    image: [8, 8, 2],
    build: (b) =>
      b.head(b.node('Relu', [conv(b, b.input, 2, 4, [attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])])]), 4 * 4 * 4),
  },
  'Conv auto_pad SAME_UPPER, stride 2, no bias': {
    opset: 11,
    image: [7, 7, 2],
    build: (b) =>
      b.head(
        b.node(
          'Conv',
          [b.input, b.weight([3, 2, 3, 3])],
          [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.str('auto_pad', 'SAME_UPPER')],
        ),
        3 * 4 * 4,
      ),
  },
  'Conv auto_pad SAME_LOWER, asymmetric explicit pads': {
    opset: 13,
    image: [8, 8, 1],
    build: (b) => {
      const a = b.node('Conv', [b.input, b.weight([2, 1, 2, 2])], [attr.ints('kernel_shape', [2, 2]), attr.str('auto_pad', 'SAME_LOWER')]);
      const c = b.node('Conv', [a, b.weight([3, 2, 3, 3])], [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [0, 1, 2, 0])]);
      return b.head(c, 3 * 8 * 7);
    },
  },
  'Conv dilation 2 with stride 2': {
    opset: 13,
    image: [11, 11, 2],
    build: (b) =>
      b.head(
        conv(b, b.input, 2, 3, [attr.ints('dilations', [2, 2]), attr.ints('strides', [2, 2]), attr.ints('pads', [2, 2, 2, 2])]),
        3 * 6 * 6,
      ),
  },
  'Conv groups 2 and depthwise with multiplier 3': {
    opset: 13,
    image: [6, 6, 2],
    build: (b) => {
      const a = conv(b, b.input, 2, 4, [attr.ints('pads', [1, 1, 1, 1])]);
      const g = conv(b, a, 4, 6, [attr.ints('pads', [1, 1, 1, 1])], 2);
      const d = conv(b, g, 6, 18, [attr.ints('strides', [2, 2])], 6);
      return b.head(d, 18 * 2 * 2);
    },
  },
  'MaxPool ceil_mode with pads, SAME_UPPER, stride 1': {
    opset: 13,
    image: [9, 9, 2],
    build: (b) => {
      const a = b.node(
        'MaxPool',
        [b.input],
        [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1]), attr.int('ceil_mode', 1)],
      );
      const c = b.node('MaxPool', [a], [attr.ints('kernel_shape', [2, 2]), attr.str('auto_pad', 'SAME_UPPER')]);
      return b.head(c, 2 * 5 * 5);
    },
  },
  'AveragePool count_include_pad 0 and 1, ceil_mode': {
    opset: 11,
    image: [9, 9, 2],
    build: (b) => {
      const a = b.node(
        'AveragePool',
        [b.input],
        [
          attr.ints('kernel_shape', [3, 3]),
          attr.ints('strides', [2, 2]),
          attr.ints('pads', [1, 1, 1, 1]),
          attr.int('count_include_pad', 1),
        ],
      );
      const c = b.node(
        'AveragePool',
        [a],
        [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 0, 1, 0]), attr.int('ceil_mode', 1)],
      );
      return b.head(c, 2 * 3 * 3);
    },
  },
  'GlobalAveragePool, GlobalMaxPool, Squeeze/Unsqueeze with axes attributes (opset 11)': {
    opset: 11,
    image: [5, 5, 3],
    build: (b) => {
      const a = b.node('GlobalAveragePool', [b.input]);
      const m = b.node('GlobalMaxPool', [b.input]);
      const s = b.node('Squeeze', [b.node('Add', [a, m])], [attr.ints('axes', [2, 3])]);
      const u = b.node('Unsqueeze', [s], [attr.ints('axes', [2])]);
      return b.head(u, 3);
    },
  },
  'Squeeze/Unsqueeze with axes inputs (opset 13), ReduceMean keepdims 0': {
    opset: 13,
    image: [5, 5, 3],
    build: (b) => {
      const r = b.node('ReduceMean', [conv(b, b.input, 3, 4)], [attr.ints('axes', [2, 3]), attr.int('keepdims', 0)]);
      const u = b.node('Unsqueeze', [r, b.ints([-1])]);
      const s = b.node('Squeeze', [u, b.ints([2])]);
      return b.head(s, 4);
    },
  },
  'ReduceMean and Pad with axes inputs (opset 18)': {
    opset: 18,
    image: [6, 6, 2],
    build: (b) => {
      const p = b.node('Pad', [b.input, b.ints([1, 2, 0, 1]), b.scalar(0.5), b.ints([2, 3])], [attr.str('mode', 'constant')]);
      const r = b.node('ReduceMean', [p, b.ints([3])], [attr.int('keepdims', 1)]);
      return b.head(r, 2 * 7);
    },
  },
  'Pad reflect and edge (opset 13), constant with pads attribute (opset 10)': {
    opset: 13,
    image: [5, 5, 2],
    build: (b) => {
      const r = b.node('Pad', [b.input, b.ints([0, 0, 1, 2, 0, 0, 2, 1])], [attr.str('mode', 'reflect')]);
      const e = b.node('Pad', [r, b.ints([0, 0, 1, 0, 0, 0, 0, 1])], [attr.str('mode', 'edge')]);
      return b.head(e, 2 * 9 * 9);
    },
  },
  'Pad as attributes (opset 10)': {
    opset: 10,
    image: [5, 5, 1],
    build: (b) => b.head(b.node('Pad', [b.input], [attr.ints('pads', [0, 0, 1, 1, 0, 0, 1, 1]), attr.float('value', 0.25)]), 49),
  },
  'Clip with attributes (opset 6) and HardSigmoid': {
    opset: 9,
    image: [4, 4, 2],
    build: (b) => {
      const c = b.node('Clip', [conv(b, b.input, 2, 3)], [attr.float('min', -0.2), attr.float('max', 0.3)]);
      return b.head(b.node('HardSigmoid', [c], [attr.float('alpha', 0.3), attr.float('beta', 0.4)]), 3 * 2 * 2);
    },
  },
  'Clip with inputs, only max (ReLU6-style), HardSwish (opset 14)': {
    opset: 14,
    image: [4, 4, 2],
    build: (b) => {
      const c = b.node('Clip', [conv(b, b.input, 2, 3, [attr.ints('pads', [1, 1, 1, 1])]), '', b.scalar(0.4)]);
      return b.head(b.node('HardSwish', [c]), 3 * 4 * 4);
    },
  },
  'LeakyRelu, Sigmoid, Tanh, Erf, Elu, Softplus, Neg, Abs, Sqrt, Reciprocal, Exp, Pow': {
    opset: 13,
    image: [4, 4, 2],
    build: (b) => {
      let x = conv(b, b.input, 2, 4, [attr.ints('pads', [1, 1, 1, 1])]);
      x = b.node('LeakyRelu', [x], [attr.float('alpha', 0.2)]);
      x = b.node('Add', [b.node('Sigmoid', [x]), b.node('Tanh', [x])]);
      x = b.node('Mul', [b.node('Erf', [x]), b.node('Elu', [x], [attr.float('alpha', 0.5)])]);
      x = b.node('Sub', [b.node('Softplus', [x]), b.node('Neg', [x])]);
      x = b.node('Sqrt', [b.node('Add', [b.node('Abs', [x]), b.scalar(1)])]);
      x = b.node('Add', [b.node('Reciprocal', [x]), b.node('Exp', [b.node('Neg', [x])])]);
      x = b.node('Pow', [x, b.scalar(3)]);
      return b.head(x, 4 * 4 * 4);
    },
  },
  'PRelu with a per-channel slope, Mul and Div by per-channel constants': {
    opset: 13,
    image: [4, 4, 3],
    build: (b) => {
      const n = b.node('Div', [b.node('Sub', [b.input, b.weight([1, 3, 1, 1], 0.2)]), b.weight([3, 1, 1], 0.2, 0.5)]);
      const p = b.node('PRelu', [conv(b, n, 3, 4), b.weight([4, 1, 1], 0.5)]);
      return b.head(b.node('Mul', [p, b.weight([4, 1, 1])]), 4 * 2 * 2);
    },
  },
  'Gemm alpha/beta without transB, MatMul + Add bias, BatchNormalization on [N, C]': {
    opset: 13,
    image: [3, 3, 2],
    build: (b) => {
      const f = b.node('Flatten', [conv(b, b.input, 2, 4, [attr.ints('pads', [1, 1, 1, 1])])]);
      const g = b.node('Gemm', [f, b.weight([36, 8]), b.weight([1, 8])], [attr.float('alpha', 0.5), attr.float('beta', 2)]);
      const bn = b.node('BatchNormalization', [g, b.weight([8], 0.3, 1), b.weight([8]), b.weight([8]), b.weight([8], 0.4, 1)]);
      return b.node('Add', [b.node('MatMul', [bn, b.weight([8, 5])]), b.weight([5])]);
    },
  },
  'Flatten of NHWC data into a MatMul (permuted weight rows), Transpose + Reshape': {
    opset: 13,
    image: [4, 5, 3],
    build: (b) => {
      const c = conv(b, b.input, 3, 2, [attr.ints('pads', [1, 1, 1, 1])]);
      const m = b.node('MatMul', [b.node('Flatten', [c]), b.weight([40, 6])]);
      const t = b.node('Transpose', [c], [attr.ints('perm', [0, 3, 1, 2])]);
      const r = b.node('Reshape', [t, b.ints([0, -1])]);
      const g = b.node('Gemm', [r, b.weight([40, 6])]);
      return b.node('Gemm', [b.node('Add', [m, g]), b.weight([5, 6]), b.weight([5])], [attr.int('transB', 1)]);
    },
  },
  'Concat on channels and on height, Add of differently held tensors': {
    opset: 13,
    image: [4, 4, 2],
    build: (b) => {
      const a = conv(b, b.input, 2, 3, [attr.ints('pads', [1, 1, 1, 1])]);
      const c = b.node('Concat', [a, b.input], [attr.int('axis', 1)]);
      const h = b.node('Concat', [c, c], [attr.int('axis', 2)]);
      // The same values held two ways: NHWC (conv) and logical order (after a Transpose round trip).
      const t = b.node('Transpose', [b.node('Transpose', [h], [attr.ints('perm', [0, 2, 3, 1])])], [attr.ints('perm', [0, 3, 1, 2])]);
      return b.head(b.node('Add', [h, t]), 5 * 8 * 4);
    },
  },
  'Softmax inside the graph: opset 11 (flattened from axis 1) and opset 13 (axis 1 of 4-D)': {
    opset: 11,
    image: [3, 3, 2],
    build: (b) => b.head(b.node('Softmax', [conv(b, b.input, 2, 3, [attr.ints('pads', [1, 1, 1, 1])])], [attr.int('axis', 1)]), 27),
  },
  'Softmax over channels of 4-D data (opset 13), Dropout with ratio input': {
    opset: 13,
    image: [3, 3, 2],
    build: (b) => {
      const s = b.node('Softmax', [conv(b, b.input, 2, 3, [attr.ints('pads', [1, 1, 1, 1])])], [attr.int('axis', 1)]);
      return b.head(b.node('Dropout', [s, b.scalar(0.3)]), 27);
    },
  },
  'a final LogSoftmax is stripped (the engine keeps the logits)': {
    opset: 13,
    image: [3, 3, 1],
    softmax: true,
    build: (b) => b.node('LogSoftmax', [b.head(b.input, 9)], [attr.int('axis', 1)]),
  },
  'NHWC input (tf2onnx style): Transpose to NCHW first': {
    opset: 13,
    image: [5, 4, 3],
    nhwc: true,
    build: (b) => {
      const t = b.node('Transpose', [b.input], [attr.ints('perm', [0, 3, 1, 2])]);
      return b.head(
        b.node(
          'MaxPool',
          [conv(b, t, 3, 4, [attr.ints('pads', [1, 1, 1, 1])])],
          [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])],
        ),
        4 * 2 * 2,
      );
    },
  },
};

for (const [name, c] of Object.entries(CASES)) {
  test(`operator parity with onnxruntime: ${name}`, async () => {
    const b = new GraphBuilder(c.opset, c.image, c.nhwc);
    const out = c.build(b);
    const { file } = b.write(out);
    const { model } = await engineModel(file, c.image, 5);
    try {
      const n = 4;
      const x = images(n, name.length + 11, c.image);
      const [h, w, ch] = c.image;
      const feed = new ort.Tensor('float32', c.nhwc ? x : toNchw(x, n, c.image), c.nhwc ? [n, h, w, ch] : [n, ch, h, w]);
      const ref = await ortRun(file, feed);
      const ours = engineLogits(model, x, n, c.image);
      const cmp = c.softmax ? softmaxRows(ours, 5).map(Math.log) : ours;
      const rel = relDiff(cmp, ref);
      assert.ok(rel <= 1e-4, `${name}: relative difference ${rel}`);
    } finally {
      model.dispose();
    }
  });
}

test('a model exported with a fixed batch size of 1 runs on any batch (its Reshape to [1, -1] keeps the batch)', async () => {
  const image: [number, number, number] = [5, 5, 2];
  const b = new GraphBuilder(13, image, false, 1);
  const r = b.node('Reshape', [conv(b, b.input, 2, 3), b.ints([1, -1])]);
  const out = b.node('Gemm', [r, b.weight([5, 27]), b.weight([5])], [attr.int('transB', 1)]);
  const { file } = b.write(out);
  const { model } = await engineModel(file, image, 5);
  try {
    const n = 3;
    const x = images(n, 2, image);
    const ours = engineLogits(model, x, n, image);
    const nchw = toNchw(x, n, image);
    for (let s = 0; s < n; s++) {
      const ref = await ortRun(file, new ort.Tensor('float32', nchw.subarray(s * 50, (s + 1) * 50), [1, 2, 5, 5]));
      assert.ok(relDiff(ours.subarray(s * 5, (s + 1) * 5), ref) <= 1e-4, `sample ${s}`);
    }
  } finally {
    model.dispose();
  }
});

/** The input gradient through each operator form against central finite differences. */
for (const [name, c] of Object.entries(CASES)) {
  test(`operator input gradients equal finite differences: ${name}`, async () => {
    const b = new GraphBuilder(c.opset, c.image, c.nhwc);
    const { file } = b.write(c.build(b));
    const { model } = await engineModel(file, c.image, 5);
    try {
      const n = 2;
      const xs = images(n, name.length + 3, c.image);
      const w = tf.tensor2d(randomArray(n * 5, 8), [n, 5]);
      const f = (x: tf.Tensor) => tf.sum(tf.mul(model.apply(x, { training: false }) as tf.Tensor, w));
      const shape = [n, ...c.image];
      const g = tf.tidy(() => tf.grad(f)(tf.tensor(xs, shape)).dataSync() as Float32Array).slice();
      const gn = Math.sqrt(g.reduce((a, v) => a + v * v, 0));
      assert.ok(gn > 0, 'the input gradient is not zero');
      const v = Float32Array.from(g, (x) => x / gn);
      const h = 1e-2;
      const at = (s: number) =>
        tf.tidy(
          () =>
            f(
              tf.tensor(
                xs.map((x, i) => x + s * h * v[i]!),
                shape,
              ),
            ).dataSync()[0]!,
        );
      const numeric = (at(1) - at(-1)) / (2 * h);
      assert.ok(Math.abs(numeric - gn) <= 1e-2 * gn, `${name}: |∇| ${gn} vs finite difference ${numeric}`);
      w.dispose();
    } finally {
      model.dispose();
    }
  });
}
