import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of tfjs-backend-wasm's BackendWasm that the project's kernels use. Declared
 * structurally so that the kernels do not import the wasm package's internals.
 */
export interface WasmBackendLike {
  wasm: { HEAPF32: Float32Array; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number; shape: number[] } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
}

/** A float32 view of a tensor's data inside the wasm heap. Re-fetch after any allocation: growing the heap detaches old views. */
export function heapF32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('tensor is not on the wasm backend');
  const size = t.shape.reduce((a, b) => a * b, 1);
  const heap = backend.wasm.HEAPF32;
  return heap.subarray(data.memoryOffset / 4, data.memoryOffset / 4 + size);
}
