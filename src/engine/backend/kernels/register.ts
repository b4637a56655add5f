import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { nativeStatus, type NativeAddon } from '../native/addon';
import { matMulNative } from './BatchMatMul';
import { adamUpdateWasmConfig } from './AdamUpdate';
import { batchNormTrainWasmConfigs, registerBatchNormTrainGradient } from './BatchNormTrain';
import { bnReluPoolWasmConfigs, registerBnReluPoolGradients } from './BnReluPool';
import { conv2DNative } from './Conv2D';
import { convBnReluPoolWasmConfigs, registerConvBnReluPoolGradient } from './ConvBnReluPool';
import { conv2DBackpropFilterNative, conv2DBackpropFilterPortable } from './Conv2DBackpropFilter';
import { conv2DBackpropInputNative, conv2DBackpropInputPortable } from './Conv2DBackpropInput';
import { depthwiseBackpropFilterPortable, depthwiseBackpropInputPortable } from './DepthwiseConv2dBackprop';
import { registerFusedBatchNormGradient } from './FusedBatchNormGrad';
import { registerFusedConv2DGradient } from './FusedConv2DGrad';
import { fusedBatchNormNative } from './FusedBatchNorm';
import { registerReluGradient, reluGradWasmConfig } from './ReluGrad';
import { registerTraceLossGradient, traceLossWasmConfigs } from './TraceLoss';
import { identityShared } from './Identity';
import { tileBlocks } from './Tile';
import { minMaxNative } from './MinMax';
import { maxPoolGradNative, maxPoolGradPortable, maxPoolNative } from './MaxPool';
import { sumLeadingNative, sumLeadingPortable } from './Sum';
import type { WasmBackendLike } from './wasmHeap';

export interface KernelSetReport {
  details: string[];
}

/** Registers (or replaces) a kernel; replacing silently is intended, so unregister first to avoid tfjs's warning. */
export function setKernel(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

/** A kernel of ours: `run` returns null for cases it does not cover, which the stock kernel then runs. */
type Impl = (b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: never) => TensorInfo | TensorInfo[] | null;

const ours = new WeakSet<KernelFunc>();
const stock = new Map<string, KernelFunc>();

/** The backend's own kernel, remembered the first time we replace it. */
function stockKernel(name: string, backendName: string): KernelFunc | undefined {
  const key = `${backendName}/${name}`;
  const current = getKernel(name, backendName);
  if (current && !ours.has(current.kernelFunc) && !stock.has(key)) stock.set(key, current.kernelFunc);
  return stock.get(key);
}

/** The backend's own kernel for `name` (tests run the portable kernels with it). */
export function requireStock(name: string, backendName: string): KernelFunc {
  const k = stockKernel(name, backendName);
  if (!k) throw new Error(`the ${backendName} backend has no ${name} kernel`);
  return k;
}

function kernel(name: string, backendName: string, impl: Impl): KernelConfig {
  const fallback = stockKernel(name, backendName);
  const kernelFunc: KernelFunc = (args) => {
    const r = impl(args.backend as unknown as WasmBackendLike, args.inputs, args.attrs as never);
    if (r) return r;
    if (!fallback) throw new Error(`${name}: this case is not supported on the ${backendName} backend`);
    return fallback(args);
  };
  ours.add(kernelFunc);
  return { kernelName: name, backendName, kernelFunc };
}

interface Entry {
  config: KernelConfig;
  native: boolean;
}

/**
 * The wasm backend's replacements. Native kernels where the addon is built; otherwise the
 * portable ones for what the stock backend lacks (Conv2DBackpropFilter) or gets wrong or slow.
 * FIM_KERNELS_OFF=Name,Name keeps the stock kernel for those names (for profiling).
 */
function wasmEntries(addon: NativeAddon | null): Entry[] {
  const off = new Set(
    (process.env.FIM_KERNELS_OFF ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const e: Entry[] = [];
  const stockMatMul = requireStock('BatchMatMul', 'wasm');
  const stockConv2D = requireStock('Conv2D', 'wasm');
  const add = (name: string, impl: Impl, native: boolean) => {
    if (!off.has(name)) e.push({ config: kernel(name, 'wasm', impl), native });
  };
  if (addon) {
    add('Conv2D', (b, i, a) => conv2DNative(addon, b, i, a), true);
    add('FusedConv2D', (b, i, a) => conv2DNative(addon, b, i, a), true);
    add('Conv2DBackpropInput', (b, i, a) => conv2DBackpropInputNative(addon, b, i, a), true);
    add(
      'Conv2DBackpropFilter',
      (b, i, a) => conv2DBackpropFilterNative(addon, b, i, a) ?? conv2DBackpropFilterPortable(b, i, a, stockMatMul),
      true,
    );
    add('MaxPool', (b, i, a) => maxPoolNative(addon, b, i, a), true);
    add('MaxPoolGrad', (b, i, a) => maxPoolGradNative(addon, b, i, a), true);
    add('Sum', (b, i, a) => sumLeadingNative(addon, b, i, a), true);
    add('BatchMatMul', (b, i, a) => matMulNative(addon, b, i, a), true);
    add('_FusedMatMul', (b, i, a) => matMulNative(addon, b, i, a), true);
    add('FusedBatchNorm', (b, i, a) => fusedBatchNormNative(addon, b, i, a), true);
    add('Maximum', (b, i) => minMaxNative(addon, 0, b, i), true);
    add('Minimum', (b, i) => minMaxNative(addon, 1, b, i), true);
  } else {
    add('Conv2DBackpropFilter', (b, i, a) => conv2DBackpropFilterPortable(b, i, a, stockMatMul), false);
    add('Conv2DBackpropInput', (b, i, a) => conv2DBackpropInputPortable(b, i, a, stockConv2D), false);
    add('MaxPoolGrad', (b, i, a) => maxPoolGradPortable(b, i, a), false);
    add('Sum', (b, i, a) => sumLeadingPortable(b, i, a), false);
  }
  add('Identity', (b, i) => identityShared(b as never, i), false);
  // The stock wasm backend has no depthwise-convolution gradients (imported ONNX models need them).
  add('DepthwiseConv2dNativeBackpropInput', (b, i, a) => depthwiseBackpropInputPortable(b, i, a), false);
  add('DepthwiseConv2dNativeBackpropFilter', (b, i, a) => depthwiseBackpropFilterPortable(b, i, a), false);
  add('Tile', (b, i, a) => tileBlocks(b, i, a), false);
  // Kernels of our own ops (no stock kernel to fall back to): native where the addon is built.
  for (const c of [
    ...batchNormTrainWasmConfigs(addon),
    ...bnReluPoolWasmConfigs(addon),
    adamUpdateWasmConfig(addon),
    ...(addon ? [reluGradWasmConfig(addon), ...convBnReluPoolWasmConfigs(addon)] : []),
  ]) {
    if (!off.has(c.kernelName)) e.push({ config: c, native: addon !== null });
  }
  // Batch-sized arrays (logits): JavaScript either way.
  for (const c of traceLossWasmConfigs()) if (!off.has(c.kernelName)) e.push({ config: c, native: false });
  return e;
}

export function registerProjectKernels(tfBackend: string): KernelSetReport {
  registerBatchNormTrainGradient();
  registerBnReluPoolGradients();
  registerTraceLossGradient();
  registerConvBnReluPoolGradient();
  registerFusedBatchNormGradient();
  registerFusedConv2DGradient();
  registerReluGradient();
  if (tfBackend !== 'wasm') return { details: [] };
  const { addon, summary } = nativeStatus();
  const entries = wasmEntries(addon);
  for (const { config } of entries) setKernel(config);
  const names = (native: boolean) => entries.filter((e) => e.native === native).map((e) => e.config.kernelName);
  const details = [summary];
  if (names(true).length) details.push(`native: ${names(true).join(', ')}`);
  if (names(false).length) details.push(`project kernels: ${names(false).join(', ')}`);
  return { details };
}
