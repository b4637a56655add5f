import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type { Sequential as StockSequentialType } from '@tensorflow/tfjs-layers/dist/models';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { BN_RELU_POOL, BN_RELU_POOL_TRAIN, bnReluPool, bnReluPoolTrain, type PoolSpec } from '../backend/kernels/BnReluPool';
import { CONV_BN_RELU_POOL, convBnReluPool, poolTiles } from '../backend/kernels/ConvBnReluPool';

const Stock = tf.serialization.SerializationMap.getMap().classNameMap['Sequential']![0] as unknown as typeof StockSequentialType;

/** The parts of tfjs-layers' layers that the fused plan reads. */
interface LayerLike {
  getClassName(): string;
  apply(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor | tf.Tensor[];
}
interface BatchNormLike extends LayerLike {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}
interface PoolLike extends LayerLike {
  poolSize: [number, number];
  strides: [number, number];
  padding: string;
  dataFormat: string;
}

/** Conv2D's fields that its fused forward pass reads (tfjs-layers' Conv2D and LazyGradConv2D). */
export interface ConvLike extends LayerLike {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number[];
  activation: { getClassName(): string };
}

export type Block = { bn: BatchNormLike; pool: PoolSpec; layers: LayerLike[] };
type Step = { layer: LayerLike } | Block;

function isRelu(l: LayerLike): boolean {
  const cls = l.getClassName();
  if (cls === 'ReLU') return (l as unknown as { maxValue?: number | null }).maxValue == null;
  if (cls === 'Activation') return (l as unknown as { activation: { getClassName(): string } }).activation.getClassName() === 'relu';
  return false;
}

function poolOf(l: LayerLike | undefined): PoolSpec | null {
  if (!l || l.getClassName() !== 'MaxPooling2D') return null;
  const p = l as PoolLike;
  if (p.dataFormat !== 'channelsLast' || (p.padding !== 'valid' && p.padding !== 'same')) return null;
  return { filterSize: [p.poolSize[0], p.poolSize[1]], strides: [p.strides[0], p.strides[1]], pad: p.padding };
}

/**
 * The layers in order, with every BatchNormalization → ReLU (→ MaxPooling2D) run as one fused op
 * (BnReluPool.ts). Without a pooling layer the block pools with a 1×1 window, i.e. not at all.
 */
export function fusedPlan(layers: LayerLike[]): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const next = layers[i + 1];
    if (l.getClassName() === 'BatchNormalization' && next && isRelu(next)) {
      const pool = poolOf(layers[i + 2]);
      const n = pool ? 3 : 2;
      steps.push({
        bn: l as BatchNormLike,
        pool: pool ?? { filterSize: [1, 1], strides: [1, 1], pad: 'valid' },
        layers: layers.slice(i, i + n),
      });
      i += n - 1;
      continue;
    }
    steps.push({ layer: l });
  }
  return steps;
}

/**
 * A Conv2D followed by a block whose pooling tiles the convolution's output: in inference mode the
 * pair runs as one op (ConvBnReluPool.ts) where the backend has it. Null for anything else.
 */
export function convBlockAt(plan: Step[], i: number): { conv: ConvLike; block: Block } | null {
  const s = plan[i];
  const next = plan[i + 1];
  if (!s || !next || !('layer' in s) || !('bn' in next) || s.layer.getClassName() !== 'Conv2D') return null;
  const conv = s.layer as ConvLike;
  const ok =
    conv.dataFormat === 'channelsLast' &&
    conv.activation.getClassName() === 'linear' &&
    (conv.padding === 'same' || conv.padding === 'valid') &&
    conv.dilationRate.every((d) => d === 1) &&
    (next.bn.axis === -1 || next.bn.axis === 3) &&
    poolTiles(next.pool) &&
    tf.getKernel(CONV_BN_RELU_POOL, tf.getBackend()) !== undefined;
  return ok ? { conv, block: next } : null;
}

/** Inference: the convolution and the block as one op; [pooled output, routes]. */
export function runConvBlock(conv: ConvLike, block: Block, x: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const bn = block.bn;
  const kernel = conv.kernel.read() as tf.Tensor4D;
  const channels = kernel.shape[3];
  return convBnReluPool(
    x,
    kernel,
    (conv.bias ? conv.bias.read() : tf.zeros([channels])) as tf.Tensor1D,
    {
      mean: bn.movingMean.read() as tf.Tensor1D,
      variance: bn.movingVariance.read() as tf.Tensor1D,
      offset: (bn.beta ? bn.beta.read() : tf.zeros([channels])) as tf.Tensor1D,
      scale: (bn.gamma ? bn.gamma.read() : tf.ones([channels])) as tf.Tensor1D,
    },
    { strides: [conv.strides[0]!, conv.strides[1]!], pad: conv.padding as 'same' | 'valid', pool: block.pool, epsilon: bn.epsilon },
  );
}

function runBlock(bn: BatchNormLike, pool: PoolSpec, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  const channels = x.shape[3];
  const gamma = (bn.gamma ? bn.gamma.read() : tf.ones([channels])) as tf.Tensor1D;
  const beta = (bn.beta ? bn.beta.read() : tf.zeros([channels])) as tf.Tensor1D;
  const movingMean = bn.movingMean.read() as tf.Tensor1D;
  const movingVariance = bn.movingVariance.read() as tf.Tensor1D;
  if (!training) return bnReluPool(x, movingMean, movingVariance, beta, gamma, { ...pool, epsilon: bn.epsilon })[0];
  const [y, , , newMean, newVariance] = bnReluPoolTrain(x, gamma, beta, movingMean, movingVariance, {
    ...pool,
    epsilon: bn.epsilon,
    momentum: bn.momentum,
  });
  bn.movingMean.write(newMean);
  bn.movingVariance.write(newVariance);
  return y;
}

/**
 * Keras's Sequential model, running its BatchNormalization → ReLU → MaxPooling2D blocks as one
 * fused op each where the backend has it (wasm with the project's kernels), and in inference mode
 * a Conv2D with the block after it as one op whose convolution output stays in cache. The same model, the
 * same weights and the same results within float32 rounding (the gradients route ties like
 * MaxPoolGrad); a training step then records a handful of ops instead of a dozen per block, and
 * an attack's gradient pass reads each activation once. Every other layer, model and backend
 * runs the stock code. Registered (register.ts) under the Keras class name, so built-in
 * definitions and users' model.json files get it, and saved models name the stock class.
 */
export class FusedSequential extends Stock {
  static override className = 'Sequential';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const training = kwargs['training'] === true;
    const backendName = tf.getBackend();
    const fusable =
      x instanceof tf.Tensor &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      tf.getKernel(training ? BN_RELU_POOL_TRAIN : BN_RELU_POOL, backendName) !== undefined;
    if (!fusable) return super.call(inputs, kwargs);
    // Planned on every call (a few layers): a model's layers can change after it is built.
    const plan = fusedPlan(this.layers as unknown as LayerLike[]);
    if (!plan.some((s) => 'bn' in s)) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      let h = x;
      for (let i = 0; i < plan.length; i++) {
        const s = plan[i]!;
        const pair = training || h.rank !== 4 || h.dtype !== 'float32' ? null : convBlockAt(plan, i);
        if (pair) {
          h = runConvBlock(pair.conv, pair.block, h as tf.Tensor4D)[0];
          i++;
          continue;
        }
        if ('layer' in s) {
          h = s.layer.apply(h, kwargs) as tf.Tensor;
          continue;
        }
        const axis = s.bn.axis < 0 ? s.bn.axis + h.rank : s.bn.axis;
        h =
          h.rank === 4 && axis === 3 && h.dtype === 'float32'
            ? runBlock(s.bn, s.pool, h as tf.Tensor4D, training)
            : s.layers.reduce((t, l) => l.apply(t, kwargs) as tf.Tensor, h);
      }
      return h;
    });
  }
}

export { Stock as StockSequential };
