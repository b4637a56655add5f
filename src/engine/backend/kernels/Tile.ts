import type { NamedTensorInfoMap, TensorInfo, TileAttrs } from '@tensorflow/tfjs-core';
import { heapF32, sizeOf, type WasmBackendLike } from './wasmHeap';

/** Contiguous elements below which block copies stop paying off (the stock kernel is used). */
const MIN_BLOCK = 16;

/**
 * Tile as block copies: the axes after the last repeated one form contiguous blocks, copied whole
 * with TypedArray.set. The stock wasm Tile walks element by element; tiling a batch K times for a
 * FIM Jacobian cost as much as the convolutions' forward pass.
 */
export function tileBlocks(b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: TileAttrs): TensorInfo | null {
  const x = inputs.x;
  if (!x || (x.dtype !== 'float32' && x.dtype !== 'int32')) return null;
  const { reps } = attrs;
  const shape = x.shape;
  if (reps.length !== shape.length || shape.length === 0) return null;
  let last = -1;
  for (let i = 0; i < reps.length; i++) if (reps[i] !== 1) last = i;
  const block = shape.slice(last + 1).reduce((a, v) => a * v, 1);
  if (last < 0 || block < MIN_BLOCK) return null;
  const outShape = shape.map((d, i) => d * reps[i]!);
  const out = b.makeOutput(outShape, x.dtype);
  // Views after the allocation (it may grow the heap). int32 data is copied bit for bit.
  const src = heapF32(b, x);
  const dst = heapF32(b, out);
  const prefix = outShape.slice(0, last + 1);
  const blocks = sizeOf({ shape: prefix } as TensorInfo);
  const idx = new Array<number>(prefix.length).fill(0);
  for (let k = 0; k < blocks; k++) {
    // Input block index: each output prefix index modulo the input dimension.
    let s = 0;
    for (let d = 0; d < prefix.length; d++) s = s * shape[d]! + (idx[d]! % shape[d]!);
    dst.set(src.subarray(s * block, (s + 1) * block), k * block);
    for (let d = prefix.length - 1; d >= 0; d--) {
      if (++idx[d]! < prefix[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
