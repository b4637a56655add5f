import * as tf from '@tensorflow/tfjs-core';
import type { NodeJson } from '../graph';
import type { GraphCompiler, OpHandler, SymInt, Val } from '../compile';
import { sameLayout, IDENTITY } from '../layout';
import { sizeOf } from '../tensor';
import { broadcastOps, broadcastShapes } from './util';

/**
 * Elementwise operators. They work on whatever layout their input is held in; a constant
 * operand is stored pre-permuted to match (a [C, 1, 1] bias of an NCHW graph becomes a
 * [1, 1, C] one against NHWC data), so broadcasting needs no transpose when the model runs.
 */

/** The lowest float32: padding value for max pooling and the open bound of Clip. */
export const LOWEST = -3.4028234663852886e38;

/** An elementwise function of one run-time input, made from the node's attributes. */
type Unary = (c: GraphCompiler, n: NodeJson) => (x: tf.Tensor) => tf.Tensor;

function unary(make: Unary): OpHandler {
  return (c, n) => {
    const v = c.rt(n, 0);
    const src = n.inputs[0]!;
    const f = make(c, n);
    c.emit(n, v.shape, v.layout, (env) => f(env.get(src)));
  };
}

const simple = (f: (x: tf.Tensor) => tf.Tensor): OpHandler => unary(() => f);

function clipBounds(c: GraphCompiler, n: NodeJson): [number, number] {
  if (c.opset < 11) return [c.float(n, 'min', LOWEST), c.float(n, 'max', -LOWEST)];
  return [c.constScalar(n, 1) ?? LOWEST, c.constScalar(n, 2) ?? -LOWEST];
}

export const UNARY_OPS: Record<string, OpHandler> = {
  Relu: simple((x) => tf.relu(x)),
  Sigmoid: simple((x) => tf.sigmoid(x)),
  Tanh: simple((x) => tf.tanh(x)),
  Erf: simple((x) => tf.erf(x)),
  Neg: simple((x) => tf.neg(x)),
  Exp: simple((x) => tf.exp(x)),
  Sqrt: simple((x) => tf.sqrt(x)),
  Abs: simple((x) => tf.abs(x)),
  Reciprocal: simple((x) => tf.reciprocal(x)),
  Softplus: simple((x) => tf.softplus(x)),
  LeakyRelu: unary((c, n) => {
    const alpha = c.float(n, 'alpha', 0.01);
    return (x) => tf.leakyRelu(x, alpha);
  }),
  Elu: unary((c, n) => {
    const alpha = c.float(n, 'alpha', 1);
    // relu(x) + α(exp(min(x, 0)) − 1): differentiable everywhere tf.js can (no where/greater on the tape).
    return alpha === 1 ? (x) => tf.elu(x) : (x) => tf.add(tf.relu(x), tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1)));
  }),
  HardSigmoid: unary((c, n) => {
    const alpha = c.float(n, 'alpha', 0.2);
    const beta = c.float(n, 'beta', 0.5);
    return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
  }),
  HardSwish: simple((x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1))),
  Clip: (c, n) => {
    const v = c.rt(n, 0);
    const [lo, hi] = clipBounds(c, n);
    if (!(lo <= hi)) c.fail(n, `min ${lo} is above max ${hi}`);
    const src = n.inputs[0]!;
    c.emit(n, v.shape, v.layout, (env) => tf.clipByValue(env.get(src), lo, hi));
  },
};

/** Integer arithmetic on shape values (folded); the batch size survives only ×1, ÷1, +0, −0. */
function foldInts(c: GraphCompiler, n: NodeJson, a: Extract<Val, { kind: 'int' }>, b: Extract<Val, { kind: 'int' }>, op: string): void {
  const dims = broadcastShapes(c, n, a.dims, b.dims);
  const size = sizeOf(dims);
  if (a.values.length !== size && a.values.length !== 1) c.fail(n, 'shape arithmetic over broadcast tensors is not supported');
  if (b.values.length !== size && b.values.length !== 1) c.fail(n, 'shape arithmetic over broadcast tensors is not supported');
  const at = (v: SymInt[], i: number) => v[v.length === 1 ? 0 : i]!;
  const values: SymInt[] = [];
  for (let i = 0; i < size; i++) {
    const x = at(a.values, i);
    const y = at(b.values, i);
    if (x === 'N' || y === 'N') {
      const keep =
        (x === 'N' && y !== 'N' && (op === 'Mul' || op === 'Div') && y === 1) ||
        (x === 'N' && y !== 'N' && (op === 'Add' || op === 'Sub') && y === 0) ||
        (y === 'N' && x !== 'N' && ((op === 'Mul' && x === 1) || (op === 'Add' && x === 0)));
      if (!keep) c.fail(n, 'shape arithmetic that combines the batch size with other dimensions is not supported');
      values.push('N');
      continue;
    }
    values.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
  }
  c.set(n.outputs[0]!, { kind: 'int', dims, values });
}

type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

function binary(name: string, f: Binary): OpHandler {
  return (c, n) => {
    const a = c.val(n, n.inputs[0]);
    const b = c.val(n, n.inputs[1]);
    if (a.kind === 'int' && b.kind === 'int') return foldInts(c, n, a, b, name);
    const an = n.inputs[0]!;
    const bn = n.inputs[1]!;
    if (a.kind === 'rt' && b.kind === 'rt') {
      const shape = broadcastShapes(c, n, a.shape, b.shape);
      if (a.shape.length === b.shape.length && sameLayout(a.layout, b.layout)) {
        c.emit(n, shape, a.layout, (env) => f(env.get(an), env.get(bn)));
      } else {
        const x = c.logical(n, 0).name;
        const y = c.logical(n, 1).name;
        c.emit(n, shape, IDENTITY, (env) => f(env.get(x), env.get(y)));
      }
      return;
    }
    if (a.kind !== 'rt' && b.kind !== 'rt')
      c.fail(n, 'both operands are constants; export with constant folding on (torch.onnx.export does so by default)');
    const rIndex = a.kind === 'rt' ? 0 : 1;
    const r = c.rt(n, rIndex);
    const k = (rIndex === 0 ? b : a) as Exclude<Val, { kind: 'rt' }>;
    const { ops, padded } = broadcastOps(c, n, k.dims, r);
    const operand =
      k.kind === 'int'
        ? c.operand(n, { kind: 'float', dims: k.dims, data: Float32Array.from(k.values.map((x) => (x === 'N' ? NaN : x))) }, ops)
        : c.operand(n, k, ops);
    const rn = n.inputs[rIndex]!;
    const shape = broadcastShapes(c, n, r.shape, padded);
    c.emit(n, shape, r.layout, rIndex === 0 ? (env) => f(env.get(rn), operand.get(env)) : (env) => f(operand.get(env), env.get(rn)));
  };
}

export const BINARY_OPS: Record<string, OpHandler> = {
  Add: binary('Add', (a, b) => tf.add(a, b)),
  Sub: binary('Sub', (a, b) => tf.sub(a, b)),
  Mul: binary('Mul', (a, b) => tf.mul(a, b)),
  Div: binary('Div', (a, b) => tf.div(a, b)),
  PRelu: (c, n) => {
    const r = c.rt(n, 0);
    const slope = c.val(n, n.inputs[1]);
    if (slope.kind === 'rt' || slope.kind === 'int') return c.fail(n, 'the slope must be a constant or an initialiser');
    const { ops } = broadcastOps(c, n, slope.dims, r);
    const s = c.operand(n, slope, ops);
    const src = n.inputs[0]!;
    c.emit(n, r.shape, r.layout, (env) => {
      const x = env.get(src);
      return tf.add(tf.relu(x), tf.mul(s.get(env), tf.neg(tf.relu(tf.neg(x)))));
    });
  },
  Pow: (c, n) => {
    const r = c.rt(n, 0);
    const e = c.constScalar(n, 1);
    if (e === undefined) return c.fail(n, 'the exponent must be a constant');
    const src = n.inputs[0]!;
    const f: (x: tf.Tensor) => tf.Tensor = e === 2 ? (x) => tf.square(x) : e === 1 ? (x) => x : (x) => tf.pow(x, e);
    c.emit(n, r.shape, r.layout, (env) => f(env.get(src)));
  },
};
