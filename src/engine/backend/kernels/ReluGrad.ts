import {
  cast,
  engine,
  getBackend,
  getKernel,
  mul,
  registerGradient,
  Relu,
  step,
  type GradConfig,
  type KernelConfig,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { heapBuffer, heapOffset, sizeOf, type WasmBackendLike } from './wasmHeap';

/**
 * ReLU's gradient dy·step(x) as one kernel instead of tfjs's cast + step + multiply (three passes
 * over every activation of a backward pass). Where the backend has no such kernel, the gradient
 * is tfjs's own formula.
 */
export const RELU_GRAD = 'FimReluGrad';

const gradConfig: GradConfig = {
  kernelName: Relu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor];
    const g = dy as Tensor;
    return {
      x: () =>
        x.dtype === 'float32' && getKernel(RELU_GRAD, getBackend())
          ? engine().runKernel<Tensor>(RELU_GRAD, { dy: g, x })
          : mul(g, step(cast(x, 'float32'))),
    };
  },
};

let registered = false;
export function registerReluGradient(): void {
  if (registered) return;
  registerGradient(gradConfig);
  registered = true;
}

/** Native only: without the addon tfjs's three XNNPACK passes beat one JS loop over the heap. */
export function reluGradWasmConfig(addon: NativeAddon): KernelConfig {
  return {
    kernelName: RELU_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as WasmBackendLike;
      const { dy, x } = inputs as Record<string, TensorInfo>;
      const out = b.makeOutput(x!.shape, 'float32');
      addon.reluGrad(heapBuffer(b), new Float64Array([heapOffset(b, dy), heapOffset(b, x), heapOffset(b, out), sizeOf(x!)]));
      return out;
    },
  };
}
