import type { NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

interface RefCounting {
  incRef(dataId: object): void;
}

/**
 * Identity without a copy: the output shares the input's buffer, reference-counted, as tfjs's cpu
 * backend and the wasm backend's own Reshape do (tfjs tensors are immutable; a Variable's assign
 * swaps buffers). The stock wasm Identity copies, and tfjs clones every tensor a gradient saves
 * for the backward pass: ~80 full copies of activations per ConvNet training step.
 */
export function identityShared(b: RefCounting, inputs: NamedTensorInfoMap): TensorInfo | null {
  const x = inputs.x;
  if (!x || x.dtype === 'string') return null;
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
