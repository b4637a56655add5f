import * as tf from '@tensorflow/tfjs-core';
import type { OpHandler } from '../compile';
import { IDENTITY, normPerm, type Layout } from '../layout';
import { axesOf } from './util';

/** Reductions over non-batch axes, wherever those axes are held (no transpose). */
function reduce(f: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor, axesInputFrom: number): OpHandler {
  return (c, n) => {
    const v = c.rt(n, 0);
    const rank = v.shape.length;
    const keep = c.int(n, 'keepdims', 1) === 1;
    const axes = c.opset >= axesInputFrom ? axesOf(c, n, rank, 1) : axesOf(c, n, rank, -1);
    if (!axes || axes.length === 0) {
      if (c.int(n, 'noop_with_empty_axes', 0) === 1) return c.alias(n, v);
      return c.fail(n, 'a reduction over all axes includes the batch axis');
    }
    if (axes.includes(0)) return c.fail(n, 'a reduction over the batch axis is not supported');
    const perm = v.layout.perm;
    const phys = perm ? axes.map((a) => perm.indexOf(a)) : axes;
    const shape = keep ? v.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : v.shape.filter((_, i) => !axes.includes(i));
    let layout: Layout = IDENTITY;
    if (!v.layout.feat && perm) {
      const renumber = (a: number) => a - axes.filter((s) => s < a).length;
      layout = { perm: keep ? perm : normPerm(perm.filter((a) => !axes.includes(a)).map(renumber)), feat: null };
    }
    const src = n.inputs[0]!;
    c.emit(n, shape, layout, (env) => f(env.get(src), phys, keep));
  };
}

/** Softmax/LogSoftmax inside the graph (a final one is stripped, compile.ts logitsValue). */
function softmax(log: boolean): OpHandler {
  return (c, n) => {
    const v = c.rt(n, 0);
    const rank = v.shape.length;
    let axis = c.int(n, 'axis', c.opset < 13 ? 1 : -1);
    if (axis < 0) axis += rank;
    if (axis === 0) return c.fail(n, 'softmax over the batch axis is not supported');
    const x = c.logical(n, 0).name;
    const f = (t: tf.Tensor) => (log ? tf.logSoftmax(t) : tf.softmax(t));
    const shape = v.shape;
    const per = shape.slice(1);
    if (axis === rank - 1) return c.emit(n, shape, IDENTITY, (env) => f(env.get(x)));
    if (c.opset < 13) {
      // Opset < 13 normalises over all axes from `axis` on, flattened.
      const inner = shape.slice(axis).reduce((a, b) => a * b, 1);
      return c.emit(n, shape, IDENTITY, (env) => tf.reshape(f(tf.reshape(env.get(x), [-1, inner])), [-1, ...per]));
    }
    const perm = shape.map((_, i) => i).filter((i) => i !== axis);
    perm.push(axis);
    const inv = perm.map((_, i) => perm.indexOf(i));
    c.emit(n, shape, IDENTITY, (env) => tf.transpose(f(tf.transpose(env.get(x), perm)), inv));
  };
}

export const REDUCE_OPS: Record<string, OpHandler> = {
  ReduceMean: reduce((x, a, k) => tf.mean(x, a, k), 18),
  ReduceSum: reduce((x, a, k) => tf.sum(x, a, k), 13),
  ReduceMax: reduce((x, a, k) => tf.max(x, a, k), 18),
  ReduceMin: reduce((x, a, k) => tf.min(x, a, k), 18),
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
};
