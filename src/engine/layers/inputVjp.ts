import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BN_RELU_POOL, bnReluPool, bnReluPoolRouteGrad, type PoolSpec } from '../backend/kernels/BnReluPool';
import { convRouteInputGrad } from '../backend/kernels/ConvBnReluPool';
import { convBlockAt, fusedPlan, FusedSequential, runConvBlock } from './sequential';

/**
 * Input gradients of several output directions of a batch, from ONE inference forward pass and
 * one backward pass over the batch tiled: row r of the cotangents dz [R, K] belongs to sample
 * r mod B, and row r of the result is dzᵣ · ∂z/∂x of that sample. This is what the exact λmax(G_x)
 * needs (the K logit gradients of each sample, fim/jacobian.ts). Differentiating the model on the
 * input tiled K times (what tf.grad needs for K directions) repeats the forward pass K times; in
 * inference mode the K copies' activations are identical, and the input gradient of the layers
 * below depends on the forward pass only through the ReLU masks and the pooling routes, which
 * are recorded once here and read K times. The backward kernels are the ones tf.grad runs, so the
 * gradients are the same.
 *
 * Only Sequential models whose layers are all of the kinds below qualify (convolutions with a
 * linear or ReLU activation, the fused batch norm + ReLU (+ max pool) blocks, Flatten, Dense with a
 * linear or ReLU activation, Dropout); for any other model `inputVjp` returns null and the caller
 * differentiates the tiled batch.
 */
interface Internals {
  getClassName(): string;
  apply(x: tf.Tensor, kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
  kernel?: { read(): tf.Tensor };
  activation?: { getClassName(): string };
  strides?: number[];
  padding?: string;
  dataFormat?: string;
  dilationRate?: number[];
}

type Backward = (g: tf.Tensor, rows: number) => tf.Tensor;

function activationOf(l: Internals): 'linear' | 'relu' | null {
  const a = l.activation?.getClassName() ?? 'linear';
  return a === 'linear' || a === 'relu' ? a : null;
}

/** dz·mask for a ReLU activation: the layer's output y (B rows) tiled to the gradient's rows. */
function reluMask(g: tf.Tensor, y: tf.Tensor, rows: number): tf.Tensor {
  const reps = rows / y.shape[0];
  const mask = tf.cast(tf.greater(y, 0), 'float32');
  return tf.mul(g, reps === 1 ? mask : tf.tile(mask, [reps, ...y.shape.slice(1).map(() => 1)]));
}

/**
 * Runs the forward pass of `model` on x (inference mode) and returns its output with a backward
 * function for cotangents of any multiple of x's rows; null when the model does not qualify.
 */
export function inputVjp(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
): { output: tf.Tensor2D; backward: (dz: tf.Tensor2D) => tf.Tensor4D } | null {
  if (!(model instanceof FusedSequential) || tf.getKernel(BN_RELU_POOL, tf.getBackend()) === undefined) return null;
  const plan = fusedPlan(model.layers as never);
  // Check every step before running anything.
  for (const s of plan) {
    if ('bn' in s) continue;
    const l = s.layer as unknown as Internals;
    const cls = l.getClassName();
    if (cls === 'Conv2D') {
      if (l.dataFormat !== 'channelsLast' || !(l.dilationRate ?? [1, 1]).every((d) => d === 1) || !activationOf(l)) return null;
      if (l.padding !== 'same' && l.padding !== 'valid') return null;
    } else if (cls === 'Dense') {
      if (!activationOf(l)) return null;
    } else if (cls !== 'Flatten' && cls !== 'Dropout') return null;
  }
  const backs: Backward[] = [];
  let h: tf.Tensor = x;
  for (let i = 0; i < plan.length; i++) {
    const s = plan[i]!;
    const input = h;
    const pair = input.rank === 4 ? convBlockAt(plan, i) : null;
    if (pair) {
      // Convolution and block in one forward op; backward: the routes, then the convolution's.
      const [y, routes] = runConvBlock(pair.conv, pair.block, input as tf.Tensor4D);
      const bn = pair.block.bn;
      const filter = pair.conv.kernel.read() as tf.Tensor4D;
      const channels = filter.shape[3];
      const variance = bn.movingVariance.read() as tf.Tensor1D;
      const gamma = (bn.gamma ? bn.gamma.read() : tf.ones([channels])) as tf.Tensor1D;
      const inShape = input.shape.slice(1) as [number, number, number];
      const strides = [pair.conv.strides[0]!, pair.conv.strides[1]!] as [number, number];
      const pad = pair.conv.padding as 'same' | 'valid';
      const convOut = tf.backend_util.computeConv2DInfo([1, ...inShape], filter.shape, strides, 1, pad).outShape.slice(1) as [
        number,
        number,
        number,
      ];
      const attrs = { strides, pad, pool: pair.block.pool, epsilon: bn.epsilon };
      backs.push((g, rows) => {
        const fused = convRouteInputGrad(routes, variance, gamma, g, filter, { ...attrs, inputShape: [rows, ...inShape] });
        if (fused) return fused;
        const dconv = bnReluPoolRouteGrad(routes, variance, gamma, g, {
          ...attrs.pool,
          epsilon: bn.epsilon,
          scaled: true,
          inputShape: [rows, ...convOut],
        });
        return tf.conv2dTranspose(dconv, filter, [rows, ...inShape], strides, pad);
      });
      h = y;
      i++;
      continue;
    }
    if ('bn' in s) {
      const bn = s.bn;
      if (input.rank !== 4 || (bn.axis !== -1 && bn.axis !== 3)) return null;
      const channels = input.shape[3]!;
      const gamma = (bn.gamma ? bn.gamma.read() : tf.ones([channels])) as tf.Tensor1D;
      const beta = (bn.beta ? bn.beta.read() : tf.zeros([channels])) as tf.Tensor1D;
      const variance = bn.movingVariance.read() as tf.Tensor1D;
      const pool: PoolSpec = s.pool;
      const [y, routes] = bnReluPool(input as tf.Tensor4D, bn.movingMean.read() as tf.Tensor1D, variance, beta, gamma, {
        ...pool,
        epsilon: bn.epsilon,
      });
      const inShape = input.shape.slice(1) as [number, number, number];
      backs.push((g, rows) =>
        bnReluPoolRouteGrad(routes, variance, gamma, g, { ...pool, epsilon: bn.epsilon, scaled: true, inputShape: [rows, ...inShape] }),
      );
      h = y;
      continue;
    }
    const l = s.layer as unknown as Internals;
    const cls = l.getClassName();
    const y = l.apply(input, { training: false }) as tf.Tensor;
    if (cls === 'Conv2D') {
      const filter = l.kernel!.read() as tf.Tensor4D;
      const relu = activationOf(l) === 'relu';
      const inShape = input.shape.slice(1) as [number, number, number];
      const strides = [l.strides![0]!, l.strides![1]!] as [number, number];
      const pad = l.padding as 'same' | 'valid';
      backs.push((g, rows) =>
        tf.conv2dTranspose(
          (relu ? reluMask(g, y, rows) : g) as tf.Tensor4D,
          filter,
          [rows, ...inShape] as [number, number, number, number],
          strides,
          pad,
        ),
      );
    } else if (cls === 'Dense') {
      const kernel = l.kernel!.read() as tf.Tensor2D;
      const relu = activationOf(l) === 'relu';
      if (input.rank !== 2) return null;
      backs.push((g, rows) => tf.matMul(relu ? reluMask(g, y, rows) : (g as tf.Tensor2D), kernel, false, true));
    } else if (cls === 'Flatten') {
      const inShape = input.shape.slice(1);
      backs.push((g, rows) => tf.reshape(g, [rows, ...inShape]));
    } // Dropout: the identity in inference mode.
    h = y;
  }
  return {
    output: h as tf.Tensor2D,
    backward: (dz) => {
      const rows = dz.shape[0];
      if (rows % x.shape[0] !== 0) throw new RangeError(`inputVjp: ${rows} cotangent rows are not a multiple of the batch ${x.shape[0]}`);
      let g: tf.Tensor = dz;
      for (let i = backs.length - 1; i >= 0; i--) g = backs[i]!(g, rows);
      return g as tf.Tensor4D;
    },
  };
}
