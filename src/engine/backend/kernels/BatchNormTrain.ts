import {
  engine,
  registerGradient,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type NamedTensorMap,
  type Tensor,
  type Tensor1D,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, readHeap, sizeOf, writeHeap, type WasmBackendLike } from './wasmHeap';

/**
 * Batch normalisation with batch statistics over all axes but the last (what a Keras
 * BatchNormalization layer computes in training), as one kernel with a closed-form gradient:
 *
 *   mean = Σx/N, var = Σ(x − mean)²/N, x̂ = (x − mean)/√(var + ε), y = γ·x̂ + β
 *   dx = γ/√(var + ε) · (dy − Σdy/N − x̂·Σ(dy·x̂)/N) (+ the terms from dmean and dvar)
 *
 * tfjs composes the same from moments + FusedBatchNorm, whose gradient materialises tiled
 * per-channel tensors and runs about a dozen full-size ops; this is two passes each way.
 */
export const BATCH_NORM_TRAIN = 'FimBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'FimBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  epsilon: number;
}

/** [y, mean, variance]; gamma and beta have one value per channel (the last axis). */
export function batchNormTrain(x: Tensor, gamma: Tensor1D, beta: Tensor1D, epsilon: number): [Tensor, Tensor1D, Tensor1D] {
  const attrs: BatchNormTrainAttrs = { epsilon };
  return engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, attrs as unknown as NamedAttrMap) as unknown as [
    Tensor,
    Tensor1D,
    Tensor1D,
  ];
}

const gradConfig: GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dmean, dvariance] = dys as Tensor[];
    const [x, gamma, mean, variance] = saved;
    // Computed here, not in the closures: all three come from one kernel, and tfjs disposes
    // whatever the backward pass does not use when it ends.
    const [dx, dgamma, dbeta] = engine().runKernel(
      BATCH_NORM_TRAIN_GRAD,
      { x, dy, gamma, mean, variance, dmean, dvariance } as unknown as NamedTensorMap,
      attrs,
    ) as unknown as Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
};

let gradientRegistered = false;
export function registerBatchNormTrainGradient(): void {
  if (gradientRegistered) return;
  registerGradient(gradConfig);
  gradientRegistered = true;
}

/** Portable forward over [N, C] rows; sums in float64 like tfjs's cpu backend. */
export function batchNormTrainRows(
  N: number,
  C: number,
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const s = new Float64Array(C);
  for (let r = 0; r < N; r++) for (let c = 0, o = r * C; c < C; c++) s[c]! += x[o + c]!;
  for (let c = 0; c < C; c++) mean[c] = s[c]! / N;
  const q = new Float64Array(C);
  for (let r = 0; r < N; r++)
    for (let c = 0, o = r * C; c < C; c++) {
      const t = Math.fround(x[o + c]! - mean[c]!);
      q[c]! += t * t;
    }
  const scale = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    variance[c] = q[c]! / N;
    scale[c] = gamma[c]! / Math.sqrt(variance[c]! + eps);
  }
  for (let r = 0; r < N; r++) for (let c = 0, o = r * C; c < C; c++) y[o + c] = (x[o + c]! - mean[c]!) * scale[c]! + beta[c]!;
}

/** Portable gradient over [N, C] rows (see the file comment for the formula). */
export function batchNormTrainGradRows(
  N: number,
  C: number,
  x: Float32Array,
  dy: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  dmean: Float32Array,
  dvariance: Float32Array,
  eps: number,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const sdy = new Float64Array(C);
  const sdyxm = new Float64Array(C);
  for (let r = 0; r < N; r++)
    for (let c = 0, o = r * C; c < C; c++) {
      const g = dy[o + c]!;
      sdy[c]! += g;
      sdyxm[c]! += g * (x[o + c]! - mean[c]!);
    }
  const a = new Float32Array(C);
  const b = new Float32Array(C);
  const k = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const inv = 1 / Math.sqrt(variance[c]! + eps);
    const g = gamma[c]!;
    const sdyx = sdyxm[c]! * inv;
    dbeta[c] = sdy[c]!;
    dgamma[c] = sdyx;
    a[c] = g * inv;
    k[c] = (g * inv * sdyx * inv - 2 * dvariance[c]!) / N;
    b[c] = (g * inv * sdy[c]! - dmean[c]!) / N;
  }
  for (let r = 0; r < N; r++)
    for (let c = 0, o = r * C; c < C; c++) dx[o + c] = a[c]! * dy[o + c]! - b[c]! - k[c]! * (x[o + c]! - mean[c]!);
}

function rowsOf(x: TensorInfo): [number, number] {
  const C = x.shape[x.shape.length - 1]!;
  return [sizeOf(x) / C, C];
}

/** Outputs shaped [x, channel vector, channel vector]: (y, mean, var) forward, (dx, dγ, dβ) backward. */
function outputsLike(b: WasmBackendLike, x: TensorInfo): TensorInfo[] {
  const C = x.shape[x.shape.length - 1]!;
  return [b.makeOutput(x.shape, 'float32'), b.makeOutput([C], 'float32'), b.makeOutput([C], 'float32')];
}

type In = Record<string, TensorInfo>;

export function batchNormTrainWasmConfigs(addon: NativeAddon | null): KernelConfig[] {
  const forward: KernelConfig = {
    kernelName: BATCH_NORM_TRAIN,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, gamma, beta } = inputs as In;
      const eps = (attrs as unknown as BatchNormTrainAttrs).epsilon;
      const [N, C] = rowsOf(x!);
      const outs = outputsLike(b, x!);
      const [y, mean, variance] = outs as [TensorInfo, TensorInfo, TensorInfo];
      if (addon) {
        addon.batchNormTrain(
          heapBuffer(b),
          new Float64Array([
            heapOffset(b, x),
            heapOffset(b, gamma),
            heapOffset(b, beta),
            heapOffset(b, y),
            heapOffset(b, mean),
            heapOffset(b, variance),
            N,
            C,
            eps,
          ]),
        );
      } else {
        const [yv, mv, vv] = [new Float32Array(N * C), new Float32Array(C), new Float32Array(C)];
        batchNormTrainRows(N, C, readHeap(b, x!), readHeap(b, gamma!), readHeap(b, beta!), eps, yv, mv, vv);
        writeHeap(b, y, yv);
        writeHeap(b, mean, mv);
        writeHeap(b, variance, vv);
      }
      return outs;
    },
  };
  const backward: KernelConfig = {
    kernelName: BATCH_NORM_TRAIN_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, dy, gamma, mean, variance, dmean, dvariance } = inputs as In;
      const eps = (attrs as unknown as BatchNormTrainAttrs).epsilon;
      const [N, C] = rowsOf(x!);
      const outs = outputsLike(b, x!);
      const [dx, dgamma, dbeta] = outs as [TensorInfo, TensorInfo, TensorInfo];
      if (addon) {
        const t = [x, dy, gamma, mean, variance, dmean, dvariance, dx, dgamma, dbeta].map((ti) => heapOffset(b, ti));
        addon.batchNormTrainGrad(heapBuffer(b), new Float64Array([...t, N, C, eps]));
      } else {
        const v = (ti: TensorInfo | undefined) => readHeap(b, ti!);
        const [dxv, dgv, dbv] = [new Float32Array(N * C), new Float32Array(C), new Float32Array(C)];
        batchNormTrainGradRows(N, C, v(x), v(dy), v(gamma), v(mean), v(variance), v(dmean), v(dvariance), eps, dxv, dgv, dbv);
        writeHeap(b, dx, dxv);
        writeHeap(b, dgamma, dgv);
        writeHeap(b, dbeta, dbv);
      }
      return outs;
    },
  };
  return [forward, backward];
}
