import {
  engine,
  registerGradient,
  zerosLike,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { heapF32, heapI32, type WasmBackendLike } from './wasmHeap';

/**
 * The defended loss of a training step (train/loss.ts, the paper's eq. 4) and the step's metrics
 * as one op, with a closed-form gradient:
 *
 *   L = (1/n) Σ_s [ CE_s + μ·Σ_i exp(min(lse_s − z_si, cap)) ],   CE_s = −Σ_i t_si·(z_si − lse_s)
 *   ∂L/∂z_sj = (1/n) [ (p_sj − t_sj) + μ·(p_sj·Σ_{i≤cap} e_si − [j≤cap]·e_sj) ]
 *
 * with t the (possibly smoothed) one-hot targets, p = softmax(z), e_si = 1/p_si and "i≤cap" the
 * entries whose log(1/p) is at most the cap (the capped ones are constants, as tf.minimum's
 * gradient makes them). tfjs composes the same from about 45 ops forward and backward, each with
 * its dispatch, tape entry and allocation; at batch 32 that was most of what a step spent outside
 * the kernels. Computed in float64 per sample, like the statistics of fim/outputStats.ts.
 *
 * Outputs: the loss (scalar) and the metrics [Σ loss_s, Σ CE_s, Σ tr G_s, Σ λmax(G_s), correct]
 * over the batch, which the trainer accumulates (only the loss is differentiated).
 */
export const TRACE_LOSS = 'FimTraceLoss';
export const TRACE_LOSS_GRAD = 'FimTraceLossGrad';

export interface TraceLossAttrs {
  mu: number;
  labelSmoothing: number;
  /** log(1/p) is capped here (train/loss.ts, LOG_INV_P_CAP). */
  cap: number;
}

/** [loss, metrics[5]]. */
export function traceLoss(logits: Tensor2D, labels: Tensor1D, attrs: TraceLossAttrs): [Scalar, Tensor1D] {
  return engine().runKernel(TRACE_LOSS, { logits, labels }, attrs as unknown as NamedAttrMap) as unknown as [Scalar, Tensor1D];
}

interface SampleTerms {
  lse: number;
  ce: number;
  trace: number;
  lmax: number;
  argmax: number;
}

/** The per-sample terms of row z (K logits), targets from the label with smoothing α. */
function terms(z: Float32Array, o: number, K: number, label: number, alpha: number, cap: number): SampleTerms {
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < K; i++) {
    const v = z[o + i]!;
    if (v > max || (Number.isNaN(v) && !Number.isNaN(max))) {
      max = v;
      argmax = i;
    }
  }
  let s = 0;
  for (let i = 0; i < K; i++) s += Math.exp(z[o + i]! - max);
  const lse = max + Math.log(s);
  let ce = 0;
  let trace = 0;
  let maxLog = -Infinity;
  for (let i = 0; i < K; i++) {
    const t = (i === label ? 1 - alpha : 0) + alpha / K;
    ce -= t * (z[o + i]! - lse);
    const l = Math.min(lse - z[o + i]!, cap);
    trace += Math.exp(l);
    maxLog = Math.max(maxLog, l);
  }
  return { lse, ce, trace, lmax: Math.exp(maxLog), argmax };
}

/** Forward on plain arrays: the loss and the metrics. */
export function traceLossRows(z: Float32Array, labels: Int32Array, K: number, a: TraceLossAttrs): { loss: number; metrics: number[] } {
  const n = labels.length;
  let ce = 0;
  let trace = 0;
  let lmax = 0;
  let correct = 0;
  let loss = 0;
  for (let s = 0; s < n; s++) {
    const r = terms(z, s * K, K, labels[s]!, a.labelSmoothing, a.cap);
    ce += r.ce;
    trace += r.trace;
    lmax += r.lmax;
    if (r.argmax === labels[s]) correct++;
    loss += a.mu > 0 ? r.ce + a.mu * r.trace : r.ce;
  }
  const mean = n > 0 ? loss / n : Number.NaN;
  return { loss: mean, metrics: [loss, ce, trace, lmax, correct] };
}

/** ∂L/∂z times the upstream gradient of the loss, on plain arrays. */
export function traceLossGradRows(
  z: Float32Array,
  labels: Int32Array,
  K: number,
  a: TraceLossAttrs,
  dLoss: number,
  dz: Float32Array,
): void {
  const n = labels.length;
  const scale = dLoss / n;
  for (let s = 0; s < n; s++) {
    const o = s * K;
    const r = terms(z, o, K, labels[s]!, a.labelSmoothing, a.cap);
    let live = 0;
    for (let i = 0; i < K; i++) if (r.lse - z[o + i]! <= a.cap) live += Math.exp(r.lse - z[o + i]!);
    for (let j = 0; j < K; j++) {
      const p = Math.exp(z[o + j]! - r.lse);
      const t = (j === labels[s] ? 1 - a.labelSmoothing : 0) + a.labelSmoothing / K;
      let g = p - t;
      if (a.mu > 0) g += a.mu * (p * live - (r.lse - z[o + j]! <= a.cap ? Math.exp(r.lse - z[o + j]!) : 0));
      dz[o + j] = scale * g;
    }
  }
}

const gradConfig: GradConfig = {
  kernelName: TRACE_LOSS,
  inputsToSave: ['logits', 'labels'],
  gradFunc: (dys, saved, attrs) => {
    const [dy] = dys as Tensor[];
    const [logits, labels] = saved as [Tensor, Tensor];
    return {
      logits: () => engine().runKernel<Tensor>(TRACE_LOSS_GRAD, { logits, labels, dy: dy! }, attrs),
      labels: () => zerosLike(labels),
    };
  },
};

let registered = false;
export function registerTraceLossGradient(): void {
  if (registered) return;
  registerGradient(gradConfig);
  registered = true;
}

type In = Record<string, TensorInfo>;

/** wasm kernels: the arrays are a batch of logits (n·K floats), so a loop in JavaScript is enough. */
export function traceLossWasmConfigs(): KernelConfig[] {
  const labelsOf = (b: WasmBackendLike, t: TensorInfo) => heapI32(b, t).slice();
  return [
    {
      kernelName: TRACE_LOSS,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as WasmBackendLike;
        const { logits, labels } = inputs as In;
        const K = logits!.shape[1]!;
        const r = traceLossRows(heapF32(b, logits!).slice(), labelsOf(b, labels!), K, attrs as unknown as TraceLossAttrs);
        const loss = b.makeOutput([], 'float32');
        const metrics = b.makeOutput([5], 'float32');
        heapF32(b, loss)[0] = r.loss;
        heapF32(b, metrics).set(r.metrics);
        return [loss, metrics];
      },
    },
    {
      kernelName: TRACE_LOSS_GRAD,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as WasmBackendLike;
        const { logits, labels, dy } = inputs as In;
        const K = logits!.shape[1]!;
        const dz = new Float32Array(logits!.shape[0]! * K);
        traceLossGradRows(
          heapF32(b, logits!).slice(),
          labelsOf(b, labels!),
          K,
          attrs as unknown as TraceLossAttrs,
          heapF32(b, dy!)[0]!,
          dz,
        );
        const out = b.makeOutput(logits!.shape, 'float32');
        heapF32(b, out).set(dz);
        return out;
      },
    },
  ];
}
