import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM_TRAIN, batchNormTrain } from '../../backend/kernels/BatchNormTrain';
import type { Env, OpHandler } from '../compile';
import { identityPerm } from '../layout';

/**
 * BatchNormalization over the channel axis (logical axis 1), held last so the fused kernels
 * apply. At inference (inspection, attacks, evaluation) it uses the running statistics. When
 * fine-tuning it behaves as PyTorch's train mode: batch statistics, and running statistics
 * updated with ONNX's momentum (running = running·m + batch·(1 − m), PyTorch's momentum being
 * 1 − m) and the unbiased batch variance, as PyTorch does. With `freezeBatchNorm` it keeps the
 * running statistics in training too (docs/models.md, "BatchNormalization when fine-tuning").
 */
export const BatchNormalization: OpHandler = (c, n) => {
  const v = c.rt(n, 0);
  const rank = v.shape.length;
  if (rank < 2) return c.fail(n, `expects an (N, C, …) input, got rank ${rank}`);
  for (let o = 1; o < n.outputs.length; o++)
    if (n.outputs[o] && c.consumers.has(n.outputs[o]!))
      c.fail(n, 'the running-statistics outputs of a training-mode export are not supported');
  // Channel axis last in physical order; NHWC data already has it there.
  const perm = v.layout.perm;
  const channelLast = !v.layout.feat && (rank === 2 ? !perm : perm?.[rank - 1] === 1);
  const target = rank === 2 ? null : [0, ...identityPerm(rank).slice(2), 1];
  const src = channelLast ? n.inputs[0]! : c.inLayout(n.inputs[0]!, target);
  const layout = channelLast ? v.layout : { perm: target, feat: null };
  const eps = c.float(n, 'epsilon', 1e-5);
  const momentum = c.float(n, 'momentum', 0.9);
  const param = (i: number, what: string) => {
    const p = c.val(n, n.inputs[i]);
    if (p.kind !== 'weight' && p.kind !== 'float') return c.fail(n, `${what} must be an initialiser or a constant`);
    return { v: p, get: c.operand(n, p, p.dims.length === 1 ? [] : [{ op: 'reshape', shape: [p.dims.reduce((a, b) => a * b, 1)] }]).get };
  };
  const scale = param(1, 'scale');
  const bias = param(2, 'bias');
  const mean = param(3, 'mean');
  const variance = param(4, 'var');
  // Running statistics can be updated only when they are this node's own, untransformed weights.
  const statKey = (p: typeof mean) =>
    p.v.kind === 'weight' && p.v.pre.length === 0 && c.isSoleUse(p.v.init) ? c.weightKey(p.v.init, p.v.base) : null;
  const meanKey = statKey(mean);
  const varKey = statKey(variance);
  const frozen = Boolean(c.options.freezeBatchNorm);
  const infer = (env: Env) => tf.batchNorm(env.get(src), mean.get(env), variance.get(env), bias.get(env), scale.get(env), eps);
  c.emit(n, v.shape, layout, (env) => {
    if (!env.training || frozen) return infer(env);
    const x = env.get(src);
    const gamma = scale.get(env) as tf.Tensor1D;
    const beta = bias.get(env) as tf.Tensor1D;
    let y: tf.Tensor;
    let bm: tf.Tensor;
    let bv: tf.Tensor;
    if (x.dtype === 'float32' && tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined) {
      [y, bm, bv] = batchNormTrain(x, gamma, beta, eps);
    } else {
      const m = tf.moments(x, identityPerm(rank).slice(0, rank - 1));
      bm = m.mean;
      bv = m.variance;
      y = tf.batchNorm(x, bm, bv, beta, gamma, eps);
    }
    const count = x.size / x.shape[rank - 1]!;
    const unbiased = count > 1 ? count / (count - 1) : 1;
    tf.tidy(() => {
      if (meanKey) env.assign(meanKey, tf.add(tf.mul(env.weight(meanKey), momentum), tf.mul(bm, 1 - momentum)));
      if (varKey) env.assign(varKey, tf.add(tf.mul(env.weight(varKey), momentum), tf.mul(bv, unbiased * (1 - momentum))));
    });
    return y;
  });
};
