/**
 * Independent float64 re-implementation of small Sequential tfjs models (Conv2D stride 1,
 * BatchNormalization in inference mode, ReLU, MaxPooling2D, Flatten, Dense) — the reference the
 * FIM and attack code is checked against by finite differences, with no tfjs in the loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FusedSequential, StockSequential } from '../../../src/engine/layers/sequential';
import { randomArray } from '../../helpers';

type Op = (x: Float64Array, shape: number[]) => { y: Float64Array; shape: number[] };
type Act = { y: Float64Array; shape: number[] };

function activation(name: string | undefined): (v: number) => number {
  if (!name || name === 'linear') return (v) => v;
  if (name === 'relu') return (v) => (v > 0 ? v : 0);
  if (name === 'tanh') return Math.tanh;
  throw new Error(`reference: unsupported activation ${name}`);
}

export interface Reference {
  /** Logits of one input (H·W·C, NHWC order). */
  logits(x: ArrayLike<number>): Float64Array;
  probs(x: ArrayLike<number>): Float64Array;
  inputShape: number[];
  numClasses: number;
}

export function referenceOf(model: tfl.LayersModel): Reference {
  const ops: Op[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const w = layer.getWeights().map((t) => Float64Array.from(t.dataSync()));
    if (cls === 'Conv2D') {
      const [kh, kw] = cfg.kernelSize as number[];
      const same = cfg.padding === 'same';
      const strides = cfg.strides as number[];
      if (strides[0] !== 1 || strides[1] !== 1) throw new Error('reference: conv strides other than 1');
      const kernel = w[0]!;
      const bias = w[1];
      const act = activation(cfg.activation as string);
      const filters = cfg.filters as number;
      ops.push((x, [h, wd, c]) => {
        const ph = same ? Math.floor((kh! - 1) / 2) : 0;
        const pw = same ? Math.floor((kw! - 1) / 2) : 0;
        const oh = same ? h! : h! - kh! + 1;
        const ow = same ? wd! : wd! - kw! + 1;
        const y = new Float64Array(oh * ow * filters);
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++)
            for (let f = 0; f < filters; f++) {
              let acc = bias ? bias[f]! : 0;
              for (let a = 0; a < kh!; a++)
                for (let b = 0; b < kw!; b++) {
                  const ii = i + a - ph;
                  const jj = j + b - pw;
                  if (ii < 0 || jj < 0 || ii >= h! || jj >= wd!) continue;
                  for (let cc = 0; cc < c!; cc++) acc += x[(ii * wd! + jj) * c! + cc]! * kernel[((a * kw! + b) * c! + cc) * filters + f]!;
                }
              y[(i * ow + j) * filters + f] = act(acc);
            }
        return { y, shape: [oh, ow, filters] };
      });
    } else if (cls === 'BatchNormalization') {
      const eps = cfg.epsilon as number;
      const [gamma, beta, mean, variance] = w as Float64Array[];
      ops.push((x, shape) => {
        const c = shape[shape.length - 1]!;
        const y = new Float64Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const ch = i % c;
          y[i] = ((x[i]! - mean![ch]!) / Math.sqrt(variance![ch]! + eps)) * gamma![ch]! + beta![ch]!;
        }
        return { y, shape };
      });
    } else if (cls === 'ReLU' || cls === 'Activation') {
      const act = activation(cls === 'ReLU' ? 'relu' : (cfg.activation as string));
      ops.push((x, shape) => ({ y: x.map(act), shape }));
    } else if (cls === 'MaxPooling2D') {
      const [p0, p1] = cfg.poolSize as number[];
      ops.push((x, [h, wd, c]) => {
        const oh = Math.floor(h! / p0!);
        const ow = Math.floor(wd! / p1!);
        const y = new Float64Array(oh * ow * c!).fill(-Infinity);
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++)
            for (let cc = 0; cc < c!; cc++)
              for (let a = 0; a < p0!; a++)
                for (let b = 0; b < p1!; b++) {
                  const o = (i * ow + j) * c! + cc;
                  y[o] = Math.max(y[o]!, x[((i * p0! + a) * wd! + j * p1! + b) * c! + cc]!);
                }
        return { y, shape: [oh, ow, c!] };
      });
    } else if (cls === 'Flatten') {
      ops.push((x) => ({ y: x, shape: [x.length] }));
    } else if (cls === 'Dense') {
      const [kernel, bias] = w as Float64Array[];
      const units = cfg.units as number;
      const act = activation(cfg.activation as string);
      ops.push((x) => {
        const y = new Float64Array(units);
        for (let u = 0; u < units; u++) {
          let acc = bias ? bias[u]! : 0;
          for (let i = 0; i < x.length; i++) acc += x[i]! * kernel![i * units + u]!;
          y[u] = act(acc);
        }
        return { y, shape: [units] };
      });
    } else {
      throw new Error(`reference: unsupported layer ${cls}`);
    }
  }
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const logits = (x: ArrayLike<number>) => {
    let cur: Act = { y: Float64Array.from(x), shape: inputShape };
    for (const op of ops) cur = op(cur.y, cur.shape);
    return cur.y;
  };
  const probs = (x: ArrayLike<number>) => {
    const z = logits(x);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  return { logits, probs, inputShape, numClasses: model.outputs[0]!.shape[1] as number };
}

/** Central-difference Jacobian ∂p/∂x (K×N, row-major) in float64. */
export function probJacobianFd(ref: Reference, x: ArrayLike<number>, h = 1e-6): Float64Array {
  const n = x.length;
  const k = ref.numClasses;
  const j = new Float64Array(k * n);
  const xp = Float64Array.from(x);
  for (let t = 0; t < n; t++) {
    const x0 = xp[t]!;
    xp[t] = x0 + h;
    const pp = ref.probs(xp);
    xp[t] = x0 - h;
    const pm = ref.probs(xp);
    xp[t] = x0;
    for (let i = 0; i < k; i++) j[i * n + t] = (pp[i]! - pm[i]!) / (2 * h);
  }
  return j;
}

/** The explicit N×N G_x = Jᵀ diag(1/p) J. */
export function explicitGx(ref: Reference, x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const k = ref.numClasses;
  const p = ref.probs(x);
  const j = probJacobianFd(ref, x);
  const g = new Float64Array(n * n);
  for (let i = 0; i < k; i++)
    for (let a = 0; a < n; a++) {
      const ja = j[i * n + a]! / p[i]!;
      if (ja === 0) continue;
      for (let b = 0; b < n; b++) g[a * n + b]! += ja * j[i * n + b]!;
    }
  return g;
}

export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) s += p[i]! * Math.log(p[i]! / q[i]!);
  return s;
}

/**
 * A tiny conv net with random weights and random batch-norm statistics on 8×8×1 inputs (N = 64):
 * Conv2D(3, 3×3, same) → BN → ReLU → MaxPool 2 → Flatten → Dense(K). By default of the class a
 * model.json builds (FusedSequential: the BN → ReLU → pool block as one op, the FIM's one-forward
 * Jacobian); `fused: false` gives tfjs-layers' own Sequential, whose layers run one by one.
 */
export function tinyConvNet(
  seed: number,
  numClasses = 5,
  shape: [number, number, number] = [8, 8, 1],
  opts: { fused?: boolean } = {},
): tfl.LayersModel {
  const Model = opts.fused === false ? StockSequential : FusedSequential;
  const model = new Model({
    layers: [
      tfl.layers.conv2d({
        inputShape: shape,
        filters: 3,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: tfl.initializers.glorotNormal({ seed }),
      }),
      tfl.layers.batchNormalization({}),
      tfl.layers.reLU(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({
        units: numClasses,
        kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }),
        biasInitializer: tfl.initializers.randomNormal({ seed: seed + 2, stddev: 0.5 }),
      }),
    ],
  });
  // Non-trivial moving statistics, so inference-mode batch norm is really exercised.
  const bn = model.layers[1]!;
  // (getWeights returns the variables' own tensors: not to be disposed.)
  const c = bn.getWeights()[0]!.shape[0];
  bn.setWeights([
    tf.tensor1d(randomArray(c, seed + 3, 0.5, 2)),
    tf.tensor1d(randomArray(c, seed + 4, -0.3, 0.3)),
    tf.tensor1d(randomArray(c, seed + 5, -0.2, 0.2)),
    tf.tensor1d(randomArray(c, seed + 6, 0.5, 1.5)),
  ]);
  return model;
}

/** Inputs in (0.05, 0.95) with continuous values: no max-pool ties, no clipping (docs/design.md §1). */
export function tieFreeInputs(count: number, size: number, seed: number): Float32Array {
  return randomArray(count * size, seed, 0.05, 0.95);
}
