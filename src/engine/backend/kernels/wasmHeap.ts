import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of tfjs-backend-wasm's BackendWasm that the project's kernels use. Declared
 * structurally so that the kernels do not import the wasm package's internals.
 */
export interface WasmBackendLike {
  wasm: { HEAPF32: Float32Array; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number; shape: number[] } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

function entry(backend: WasmBackendLike, t: TensorInfo) {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('tensor is not on the wasm backend');
  return data;
}

export function sizeOf(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** A float32 view of a tensor's data inside the wasm heap. Re-fetch after any allocation: growing the heap detaches old views. */
export function heapF32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  const offset = entry(backend, t).memoryOffset / 4;
  return backend.wasm.HEAPF32.subarray(offset, offset + sizeOf(t));
}

/** An int32 view of a tensor's data inside the wasm heap (labels); re-fetch after any allocation. */
export function heapI32(backend: WasmBackendLike, t: TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAPU8.buffer, entry(backend, t).memoryOffset, sizeOf(t));
}

/** Byte offset of a tensor's data in the heap (what the native kernels take). */
export function heapOffset(backend: WasmBackendLike, t: TensorInfo | null | undefined): number {
  return t ? entry(backend, t).memoryOffset : -1;
}

/** The heap's current ArrayBuffer; fetch it after the outputs are allocated. */
export function heapBuffer(backend: WasmBackendLike): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}

/**
 * A plain copy of a tensor's data. JS loops over views of the wasm heap run 3–5× slower in V8
 * than over ordinary typed arrays (measured: 23 ms vs 5 ms for 3.2M elements), so the portable
 * kernels copy inputs out (a memcpy), loop on plain arrays and copy results in with `writeHeap`.
 */
export function readHeap(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return heapF32(backend, t).slice();
}

export function writeHeap(backend: WasmBackendLike, t: TensorInfo, data: Float32Array): void {
  heapF32(backend, t).set(data);
}
