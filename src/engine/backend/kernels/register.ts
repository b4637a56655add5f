import { registerKernel, unregisterKernel, getKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './Conv2DBackpropFilter';

export interface KernelSetReport {
  details: string[];
}

/** The project's kernels per tfjs backend (tfjs's own pattern: one config per op and backend). */
const KERNELS_BY_BACKEND: Record<string, KernelConfig[]> = {
  wasm: [conv2DBackpropFilterWasmConfig],
};

/** Registers (or replaces) a kernel; replacing silently is intended, so unregister first to avoid tfjs's warning. */
export function setKernel(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

export function registerProjectKernels(tfBackend: string): KernelSetReport {
  const configs = KERNELS_BY_BACKEND[tfBackend] ?? [];
  for (const c of configs) setKernel(c);
  return { details: configs.length ? [`project kernels: ${configs.map((c) => c.kernelName).join(', ')}`] : [] };
}
