import {
  add,
  backend_util,
  FusedBatchNorm,
  mul,
  neg,
  registerGradient,
  reshape,
  rsqrt,
  scalar,
  sub,
  sum,
  type FusedBatchNormAttrs,
  type GradConfig,
  type Tensor,
} from '@tensorflow/tfjs-core';

/**
 * The gradient of FusedBatchNorm (inference-mode batch norm: fixed mean and variance), replacing
 * tfjs's, which computes x − mean, dy·γ and tiled per-channel tensors before it knows which
 * gradients are wanted. Here each gradient is computed only when asked for, with broadcasting
 * instead of tiles: the input gradient that FIM and attacks need is one multiply.
 *
 *   y = (x − mean)·s + offset, s = scale/√(var + ε)
 *   ∂x = dy·s, ∂mean = −Σ dy·s, ∂var = Σ dy·(x − mean)·scale·(−½)(var + ε)^(−3/2),
 *   ∂scale = Σ dy·(x − mean)/√(var + ε), ∂offset = Σ dy   (Σ over the broadcast axes)
 */
function sumTo(t: Tensor, shape: number[]): Tensor {
  const axes = backend_util.getReductionAxes(shape, t.shape);
  return reshape(axes.length ? sum(t, axes) : t, shape);
}

const gradConfig: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
    const g = dy as Tensor;
    const rs = () => rsqrt(add(variance, scalar(varianceEpsilon)));
    const s = () => (scale ? mul(scale, rs()) : rs());
    return {
      x: () => reshape(mul(g, s()), x.shape),
      mean: () => sumTo(neg(mul(g, s())), mean.shape),
      variance: () => {
        const r = rs();
        const k = mul(mul(mul(r, r), r), scalar(-0.5));
        return sumTo(mul(mul(g, sub(x, mean)), scale ? mul(k, scale) : k), mean.shape);
      },
      scale: () => sumTo(mul(g, mul(sub(x, mean), rs())), mean.shape),
      offset: () => sumTo(g, mean.shape),
    };
  },
};

let registered = false;
export function registerFusedBatchNormGradient(): void {
  if (registered) return;
  registerGradient(gradConfig);
  registered = true;
}
