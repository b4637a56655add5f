import {
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  engine,
  FusedConv2D,
  mul,
  registerGradient,
  step,
  sum,
  type FusedConv2DAttrs,
  type GradConfig,
  type NamedAttrMap,
  type NamedTensorMap,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
} from '@tensorflow/tfjs-core';

/**
 * A 2-D convolution with bias and ReLU/linear epilogue whose gradients are computed only when
 * asked for. tfjs's fused.conv2d computes the input, filter and bias gradients together (a
 * customGrad), so a training step pays for the first layer's input gradient and an input-gradient
 * computation (FIM, attacks) pays for every filter gradient: about a third of the backward pass.
 * Here the kernel itself is recorded on the tape with this gradient, each part lazily.
 */
export type ConvEpilogue = 'linear' | 'relu';

export function conv2dWithBias(
  x: Tensor4D,
  filter: Tensor4D,
  bias: Tensor1D | null,
  strides: [number, number],
  pad: 'same' | 'valid',
  activation: ConvEpilogue,
): Tensor4D {
  const attrs: FusedConv2DAttrs = {
    strides,
    pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: 'floor',
    activation,
    leakyreluAlpha: 0,
  };
  const inputs = bias ? { x, filter, bias } : { x, filter };
  return engine().runKernel<Tensor4D>(FusedConv2D, inputs as unknown as NamedTensorMap, attrs as unknown as NamedAttrMap);
}

const gradConfig: GradConfig = {
  kernelName: FusedConv2D,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [Tensor4D, Tensor4D, Tensor4D];
    const { strides, pad, dimRoundingMode, activation, dilations } = attrs as unknown as FusedConv2DAttrs;
    if (activation !== 'linear' && activation !== 'relu')
      throw new Error(`FusedConv2D gradient: activation ${activation} is not supported`);
    const d = Array.isArray(dilations) ? dilations : [dilations, dilations];
    if (d.some((v) => v !== 1)) throw new Error('FusedConv2D gradient: dilations other than 1 are not supported');
    // Shared by all three gradients, so computed once here (tfjs disposes it after the backward pass).
    const g = activation === 'relu' ? mul(dy as Tensor, step(y)) : (dy as Tensor);
    const common = { strides, pad, dataFormat: 'NHWC', dimRoundingMode };
    return {
      x: () => engine().runKernel<Tensor>(Conv2DBackpropInput, { dy: g, filter }, { ...common, inputShape: x.shape }),
      filter: () => engine().runKernel<Tensor>(Conv2DBackpropFilter, { x, dy: g }, { ...common, filterShape: filter.shape }),
      bias: () => sum(g, [0, 1, 2]),
    };
  },
};

let registered = false;
export function registerFusedConv2DGradient(): void {
  if (registered) return;
  registerGradient(gradConfig);
  registered = true;
}
