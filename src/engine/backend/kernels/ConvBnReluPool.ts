import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  engine,
  fused,
  getBackend,
  getKernel,
  registerGradient,
  sum,
  zerosLike,
  type GradConfig,
  type KernelConfig,
  type NamedAttrMap,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { bnReluPoolInferenceParamGrads, bnReluPoolRouteGrad, pooledShape, scratch, type PoolSpec } from './BnReluPool';
import { convDims, poolDims } from './geometry';
import { heapBuffer, heapOffset, type WasmBackendLike } from './wasmHeap';

/**
 * A convolution followed by inference-mode batch norm, ReLU and max pooling, as one op whose
 * convolution output never reaches memory: the native kernel computes it a few rows at a time into
 * a thread's cache-sized buffer and pools from there (native/src/conv.cc). For the pooling windows
 * that tile the output (stride = window, 'valid'), e.g. the ConvNet's 2×2/2. Outputs the pooled
 * activations and their routes (BnReluPool.ts); the input gradient needs only the routes.
 * src/engine/layers/sequential.ts runs a model's Conv2D → BatchNormalization → ReLU → MaxPooling2D
 * through it in inference mode (training keeps the convolution's output for batch norm's gradient).
 */
export const CONV_BN_RELU_POOL = 'FimConvBnReluPool';
export const CONV_ROUTE_INPUT_GRAD = 'FimConvRouteInputGrad';

export interface ConvBnReluPoolAttrs {
  strides: [number, number];
  pad: 'same' | 'valid';
  pool: PoolSpec;
  epsilon: number;
}

/** [y, routes]; a convolution without bias passes zeros. */
export function convBnReluPool(
  x: Tensor4D,
  filter: Tensor4D,
  bias: Tensor1D,
  bn: { mean: Tensor1D; variance: Tensor1D; offset: Tensor1D; scale: Tensor1D },
  attrs: ConvBnReluPoolAttrs,
): [Tensor4D, Tensor4D] {
  const info = convInfo(x.shape, filter.shape, attrs);
  // The routes are filled in place (BnReluPool.ts, scratch): no zeros for them in a backward pass.
  const routes = scratch(pooledShape(info.outShape, attrs.pool), 'int32') as Tensor4D;
  const y = engine().runKernel(
    CONV_BN_RELU_POOL,
    { x, filter, bias, ...bn, routes },
    attrs as unknown as NamedAttrMap,
  ) as unknown as Tensor4D;
  return [y, routes];
}

export interface ConvRouteInputGradAttrs extends ConvBnReluPoolAttrs {
  /** dx's shape: [dy's batch, H, W, CI]. */
  inputShape: [number, number, number, number];
}

/**
 * The op's input gradient straight from its routes and the pooled gradient dy, for a unit-stride
 * convolution with few input channels (an image's): the convolution-output gradient, ten times the
 * size of dx for an MNIST image, is rebuilt a few rows at a time in cache instead of written and
 * read back. Null where the kernel does not apply (then: the route gradient, then the
 * convolution's input gradient). dy may hold several copies of the routes' batch.
 */
export function convRouteInputGrad(
  routes: Tensor,
  variance: Tensor,
  scale: Tensor,
  dy: Tensor,
  filter: Tensor4D,
  attrs: ConvRouteInputGradAttrs,
): Tensor4D | null {
  const unit = attrs.strides[0] === 1 && attrs.strides[1] === 1;
  if (!unit || filter.shape[2] > 4 || getKernel(CONV_ROUTE_INPUT_GRAD, getBackend()) === undefined) return null;
  return engine().runKernel(
    CONV_ROUTE_INPUT_GRAD,
    { routes, variance, scale, dy, filter },
    attrs as unknown as NamedAttrMap,
  ) as unknown as Tensor4D;
}

/** The pooling tiles the convolution's output: what the fused kernel requires. */
export function poolTiles(p: PoolSpec): boolean {
  return p.pad === 'valid' && p.strides[0] === p.filterSize[0] && p.strides[1] === p.filterSize[1];
}

function convInfo(xShape: number[], filterShape: number[], a: ConvBnReluPoolAttrs): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
  );
}

const gradConfig: GradConfig = {
  kernelName: CONV_BN_RELU_POOL,
  inputsToSave: ['x', 'filter', 'bias', 'mean', 'variance', 'offset', 'scale', 'routes'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = dyIn as Tensor;
    const a = attrs as unknown as ConvBnReluPoolAttrs;
    const [x, filter, bias, mean, variance, , scale, routes] = saved as [
      Tensor4D,
      Tensor4D,
      Tensor1D,
      Tensor1D,
      Tensor1D,
      Tensor1D,
      Tensor1D,
      Tensor4D,
    ];
    const info = convInfo(x.shape, filter.shape, a);
    const convOut = info.outShape;
    const common = { strides: a.strides, pad: a.pad, dataFormat: 'NHWC' };
    // The gradient at the convolution's output (each closure runs in its own tidy).
    const dconv = () =>
      bnReluPoolRouteGrad(routes, variance, scale, dy, { ...a.pool, epsilon: a.epsilon, scaled: true, inputShape: convOut });
    // The batch norm's parameters need the convolution's output, which the forward pass did not keep.
    const params = () =>
      bnReluPoolInferenceParamGrads(fused.conv2d({ x, filter, strides: a.strides, pad: a.pad, bias }), routes, mean, variance, scale, dy, {
        ...a.pool,
        epsilon: a.epsilon,
      });
    return {
      x: () =>
        convRouteInputGrad(routes, variance, scale, dy, filter, { ...a, inputShape: x.shape }) ??
        engine().runKernel<Tensor>(Conv2DBackpropInput, { dy: dconv(), filter }, { ...common, inputShape: x.shape }),
      filter: () => engine().runKernel<Tensor>(Conv2DBackpropFilter, { x, dy: dconv() }, { ...common, filterShape: filter.shape }),
      bias: () => sum(dconv(), [0, 1, 2]),
      routes: () => zerosLike(routes),
      mean: () => params().mean,
      variance: () => params().variance,
      offset: () => params().offset,
      scale: () => params().scale,
    };
  },
};

let registered = false;
export function registerConvBnReluPoolGradient(): void {
  if (registered) return;
  registerGradient(gradConfig);
  registered = true;
}

/** Native only: without the addon the model runs the convolution and BnReluPool separately. */
export function convBnReluPoolWasmConfigs(addon: NativeAddon): KernelConfig[] {
  return [forwardConfig(addon), routeInputGradConfig(addon)];
}

function routeInputGradConfig(addon: NativeAddon): KernelConfig {
  return {
    kernelName: CONV_ROUTE_INPUT_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { routes, variance, scale, dy, filter } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as ConvRouteInputGradAttrs;
      const info = convInfo(a.inputShape, filter!.shape, a);
      const pInfo = backend_util.computePool2DInfo(info.outShape, a.pool.filterSize, a.pool.strides, 1, a.pool.pad);
      const dx = b.makeOutput(a.inputShape, 'float32');
      const t = [routes, variance, scale, dy, filter, dx].map((ti) => heapOffset(b, ti));
      addon.convRouteInputGrad(
        heapBuffer(b),
        new Float64Array([...t, routes!.shape[0]!, a.epsilon, ...convDims(info), ...poolDims(pInfo)]),
      );
      return dx;
    },
  };
}

function forwardConfig(addon: NativeAddon): KernelConfig {
  return {
    kernelName: CONV_BN_RELU_POOL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const { x, filter, bias, mean, variance, offset, scale, routes } = inputs as Record<string, TensorInfo | undefined>;
      const a = attrs as unknown as ConvBnReluPoolAttrs;
      const info = convInfo(x!.shape, filter!.shape, a);
      const pInfo = backend_util.computePool2DInfo(info.outShape, a.pool.filterSize, a.pool.strides, 1, a.pool.pad);
      const y = b.makeOutput(pInfo.outShape, 'float32');
      const t = [x, filter, bias, mean, variance, offset, scale, y, routes].map((ti) => heapOffset(b, ti));
      addon.convBnReluPoolInference(heapBuffer(b), new Float64Array([...t, a.epsilon, ...convDims(info), ...poolDims(pInfo)]));
      return y;
    },
  };
}
