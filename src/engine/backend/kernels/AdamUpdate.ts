import { engine, type KernelConfig, type NamedAttrMap, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, readHeap, sizeOf, writeHeap, type WasmBackendLike } from './wasmHeap';

/**
 * Adam's update of one variable as one kernel: new parameter, first and second moment from the
 * old ones and the gradient (train/adam.ts has the formula). The op chain it replaces is about
 * fourteen kernels per variable, so ~140 per training step of the benchmark's ConvNet, each with
 * tfjs's dispatch and an allocation; here ten. Each operation is rounded to float32 as the chain
 * rounds it, so the weights are the same bit for bit either way (tested).
 */
export const ADAM_UPDATE = 'FimAdamUpdate';

export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** lr / (1 − β1^t) */
  stepSize: number;
  /** 1 / √(1 − β2^t) */
  invSqrtBc2: number;
}

/** [new parameter, new m, new v]. */
export function adamUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, attrs: AdamUpdateAttrs): [Tensor, Tensor, Tensor] {
  return engine().runKernel(ADAM_UPDATE, { param, grad, m, v }, attrs as unknown as NamedAttrMap) as unknown as [Tensor, Tensor, Tensor];
}

const f32 = Math.fround;

/** The portable update, operation by operation in float32 (no addon). */
export function adamUpdateRows(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  a: AdamUpdateAttrs,
  paramOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
): void {
  const [b1, b2, c1, c2, eps, step, inv] = [a.beta1, a.beta2, 1 - a.beta1, 1 - a.beta2, a.epsilon, a.stepSize, a.invSqrtBc2].map(f32) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    const mn = f32(f32(m[i]! * b1) + f32(g * c1));
    const vn = f32(f32(v[i]! * b2) + f32(f32(g * g) * c2));
    const denom = f32(f32(f32(Math.sqrt(vn)) * inv) + eps);
    paramOut[i] = f32(param[i]! - f32(f32(mn / denom) * step));
    mOut[i] = mn;
    vOut[i] = vn;
  }
}

export function adamUpdateWasmConfig(addon: NativeAddon | null): KernelConfig {
  return {
    kernelName: ADAM_UPDATE,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { param, grad, m, v } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as AdamUpdateAttrs;
      const outs = [0, 1, 2].map(() => b.makeOutput(param!.shape, 'float32')) as [TensorInfo, TensorInfo, TensorInfo];
      const n = sizeOf(param!);
      if (addon) {
        const t = [param, grad, m, v, ...outs].map((ti) => heapOffset(b, ti));
        addon.adamUpdate(
          heapBuffer(b),
          new Float64Array([...t, n, a.beta1, a.beta2, 1 - a.beta1, 1 - a.beta2, a.epsilon, a.stepSize, a.invSqrtBc2]),
        );
      } else {
        const [po, mo, vo] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        adamUpdateRows(readHeap(b, param!), readHeap(b, grad!), readHeap(b, m!), readHeap(b, v!), a, po, mo, vo);
        writeHeap(b, outs[0], po);
        writeHeap(b, outs[1], mo);
        writeHeap(b, outs[2], vo);
      }
      return outs;
    },
  };
}
