import * as tf from '@tensorflow/tfjs-core';
import type { Env, GraphCompiler, OpHandler } from '../compile';
import type { NodeJson } from '../graph';
import { IDENTITY, type WeightOp } from '../layout';

/**
 * The weight of a matrix product against a [batch, K] input whose features arrive in a permuted
 * order (a Flatten after an NHWC conv): its K rows are permuted the same way, once, at import.
 */
function rowOrder(c: GraphCompiler, n: NodeJson, axis: number): WeightOp[] {
  const a = c.rt(n, 0);
  return a.layout.feat ? [{ op: 'gather', axis, order: a.layout.feat }] : [];
}

const Gemm: OpHandler = (c, n) => {
  const a = c.rt(n, 0);
  if (a.shape.length !== 2) return c.fail(n, `expects a 2-D input, got rank ${a.shape.length}`);
  if (c.int(n, 'transA', 0)) return c.fail(n, 'transA on the data (batch not first) is not supported');
  const transB = c.int(n, 'transB', 0) === 1;
  const alpha = c.float(n, 'alpha', 1);
  const beta = c.float(n, 'beta', 1);
  const bv = c.val(n, n.inputs[1]);
  let src = n.inputs[0]!;
  let b: (env: Env) => tf.Tensor;
  let m: number;
  if (bv.kind === 'rt') {
    src = c.logical(n, 0).name;
    const bn = c.logical(n, 1).name;
    b = (env) => env.get(bn);
    m = bv.shape[transB ? 0 : 1]!;
  } else if (bv.kind === 'weight' || bv.kind === 'float') {
    b = c.operand(n, bv, rowOrder(c, n, transB ? 1 : 0)).get;
    m = bv.dims[transB ? 0 : 1]!;
  } else return c.fail(n, 'B must be a float tensor');
  const cv = c.opt(n, 2);
  let bias: ((env: Env) => tf.Tensor) | null = null;
  if (cv) {
    if (cv.kind !== 'weight' && cv.kind !== 'float') return c.fail(n, 'C must be an initialiser or a constant');
    bias = c.operand(n, cv, []).get;
  }
  // The fused product (one kernel with its bias) when the formula is the plain Linear one.
  const fusedBias = bias && beta === 1 && alpha === 1 && cv!.dims.length <= 1;
  c.emit(n, [-1, m], IDENTITY, (env) => {
    const x = env.get(src) as tf.Tensor2D;
    const w = b(env) as tf.Tensor2D;
    if (fusedBias) return tf.fused.matMul({ a: x, b: w, transposeB: transB, bias: bias!(env) });
    let y: tf.Tensor = tf.matMul(x, w, false, transB);
    if (alpha !== 1) y = tf.mul(y, alpha);
    if (bias) y = tf.add(y, beta === 1 ? bias(env) : tf.mul(bias(env), beta));
    return y;
  });
};

const MatMul: OpHandler = (c, n) => {
  const a = c.rt(n, 0);
  const bv = c.val(n, n.inputs[1]);
  if (bv.kind === 'rt') {
    const x = c.logical(n, 0);
    const y = c.logical(n, 1);
    if (x.v.shape.length !== y.v.shape.length) return c.fail(n, 'a product of run-time tensors of different ranks is not supported');
    const shape = [...x.v.shape.slice(0, -1), y.v.shape[y.v.shape.length - 1]!];
    c.emit(n, shape, IDENTITY, (env) => tf.matMul(env.get(x.name), env.get(y.name)));
    return;
  }
  if (bv.kind !== 'weight' && bv.kind !== 'float') return c.fail(n, 'B must be a float tensor');
  if (bv.dims.length !== 2) return c.fail(n, `B of rank ${bv.dims.length} is not supported (2-D weights only)`);
  const [k, m] = bv.dims as [number, number];
  if (a.shape.length === 2) {
    const b = c.operand(n, bv, rowOrder(c, n, 0)).get;
    const src = n.inputs[0]!;
    c.emit(n, [-1, m], IDENTITY, (env) => tf.matMul(env.get(src), b(env)));
    return;
  }
  // [N, …, K] × [K, M]: as one 2-D product.
  const x = c.logical(n, 0);
  const b = c.operand(n, bv, []).get;
  const mid = x.v.shape.slice(1, -1);
  c.emit(n, [-1, ...mid, m], IDENTITY, (env) =>
    tf.reshape(tf.matMul(tf.reshape(env.get(x.name), [-1, k]), b(env) as tf.Tensor2D), [-1, ...mid, m]),
  );
};

export const GEMM_OPS: Record<string, OpHandler> = { Gemm, MatMul };
