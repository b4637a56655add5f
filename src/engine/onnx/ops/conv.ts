import * as tf from '@tensorflow/tfjs-core';
import { conv2dWithBias } from '../../backend/kernels/FusedConv2DGrad';
import type { Env, OpHandler } from '../compile';
import { NHWC_PERM } from '../layout';
import { isTfSame, isZeroPadding, spatialPadding, type Padding } from './util';

/**
 * Inserts zeros between the taps of an HWIO kernel, so a dilated convolution runs as a plain one
 * (tf.js has no gradient for dilated Conv2D; this is differentiable through pad and reshape).
 */
function dilateKernel(w: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  if (dh === 1 && dw === 1) return w;
  const [kh, kw, ci, co] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, ci, co]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  return tf.slice(
    tf.reshape(spread, [kh * dh, kw * dw, ci, co]),
    [0, 0, 0, 0],
    [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co],
  ) as tf.Tensor4D;
}

/** 'same'/'valid' when the kernels' own padding equals the model's, else explicit zero padding first. */
function paddingPlan(input: number[], keff: number[], strides: number[], p: Padding): { mode: 'same' | 'valid'; pre: number[][] | null } {
  if (isZeroPadding(p)) return { mode: 'valid', pre: null };
  if (isTfSame(input, keff, strides, p)) return { mode: 'same', pre: null };
  return {
    mode: 'valid',
    pre: [
      [0, 0],
      [p.pads[0]![0], p.pads[0]![1] + p.extra[0]!],
      [p.pads[1]![0], p.pads[1]![1] + p.extra[1]!],
      [0, 0],
    ],
  };
}

/**
 * Conv (2-D): NHWC data, kernels stored HWIO (depthwise: H, W, C, multiplier), so no weight is
 * transposed per call. Groups other than 1 and C run per group. A Relu right after a plain conv
 * is fused into the kernel's epilogue, as the built-in layers do.
 */
export const Conv: OpHandler = (c, n) => {
  const x = c.nhwc(n, 0);
  const wv = c.val(n, n.inputs[1]);
  if (wv.kind !== 'weight' && wv.kind !== 'float') return c.fail(n, 'the kernel must be an initialiser or a constant');
  if (wv.dims.length !== 4) return c.fail(n, `only 2-D convolution is supported (kernel of rank ${wv.dims.length})`);
  const [cout, cinPerGroup, kh, kw] = wv.dims as [number, number, number, number];
  const [, cin, h, w] = x.v.shape as [number, number, number, number];
  const group = c.int(n, 'group', 1);
  if (cin % group !== 0 || cout % group !== 0 || cin / group !== cinPerGroup)
    return c.fail(n, `group ${group} does not fit ${cin} input and ${cout} output channels with a [${wv.dims.join(', ')}] kernel`);
  const strides = c.ints(n, 'strides') ?? [1, 1];
  const dil = c.ints(n, 'dilations') ?? [1, 1];
  const keff = [(kh - 1) * dil[0]! + 1, (kw - 1) * dil[1]! + 1];
  const p = spatialPadding(c, n, [h, w], [kh, kw], strides, dil);
  const plan = paddingPlan([h, w], keff, strides, p);
  const bias = c.opt(n, 2);
  if (bias && bias.kind !== 'weight' && bias.kind !== 'float') return c.fail(n, 'the bias must be an initialiser or a constant');
  const b = bias ? c.operand(n, bias, []) : null;
  const depthwise = group === cin && cinPerGroup === 1 && group > 1;
  const kernel = depthwise
    ? c.operand(n, wv, [
        { op: 'reshape', shape: [cin, cout / cin, kh, kw] },
        { op: 'transpose', perm: [2, 3, 0, 1] },
      ])
    : c.operand(n, wv, [{ op: 'transpose', perm: [2, 3, 1, 0] }]);
  const src = x.name;
  const st: [number, number] = [strides[0]!, strides[1]!];
  // A Relu that only this conv feeds becomes the kernel's epilogue.
  const next = c.soleConsumer(n.outputs[0]!);
  const fuseRelu = group === 1 && next?.opType === 'Relu';
  const input = (env: Env) => (plan.pre ? tf.pad(env.get(src), plan.pre as [number, number][]) : env.get(src)) as tf.Tensor4D;
  const filter = (env: Env) => dilateKernel(kernel.get(env) as tf.Tensor4D, dil[0]!, dil[1]!);
  let run: (env: Env) => tf.Tensor;
  if (group === 1) {
    run = (env) =>
      conv2dWithBias(input(env), filter(env), (b?.get(env) ?? null) as tf.Tensor1D | null, st, plan.mode, fuseRelu ? 'relu' : 'linear');
  } else if (depthwise) {
    run = (env) => {
      const y = tf.depthwiseConv2d(input(env), filter(env), st, plan.mode);
      return b ? tf.add(y, b.get(env)) : y;
    };
  } else {
    run = (env) => {
      const xs = tf.split(input(env), group, 3);
      const ws = tf.split(filter(env), group, 3);
      const y = tf.concat(
        xs.map((xi, i) => conv2dWithBias(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, null, st, plan.mode, 'linear')),
        3,
      );
      return b ? tf.add(y, b.get(env)) : y;
    };
  }
  const shape = [-1, cout, p.out[0]!, p.out[1]!];
  c.emit(n, shape, { perm: NHWC_PERM, feat: null }, run);
  if (fuseRelu) {
    c.fused.add(next);
    c.set(next.outputs[0]!, c.vals.get(n.outputs[0]!)!);
    const from = n.outputs[0]!;
    const to = next.outputs[0]!;
    c.steps.push((env) => env.set(to, env.get(from)));
  }
};
