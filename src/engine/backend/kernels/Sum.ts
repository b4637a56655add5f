import { backend_util, util, type NamedTensorInfoMap, type SumAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';
import { leadingSumsOf } from './leadingSums';
import { heapBuffer, heapF32, heapOffset, readHeap, type WasmBackendLike } from './wasmHeap';

/**
 * Sum over the leading axes of a tensor, e.g. a conv bias gradient (Σ over batch, rows, columns
 * of an NHWC tensor). The stock wasm Sum transposes the reduced axes to the end first: a full copy.
 * Returns [rows, cols] when `attrs` reduce exactly the leading axes of x, else null.
 */
function leadingSplit(x: TensorInfo, attrs: SumAttrs): [number, number] | null {
  if (x.dtype !== 'float32' || x.shape.length < 2 || x.shape.includes(0)) return null;
  const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= x.shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(axes.length).reduce((a, b) => a * b, 1);
  // Few columns: the stock kernel's contiguous reduction is as good.
  return cols >= 8 && rows > 1 ? [rows, cols] : null;
}

function outShape(x: TensorInfo, attrs: SumAttrs, reduced: number): number[] {
  return attrs.keepDims ? [...x.shape.slice(0, reduced).map(() => 1), ...x.shape.slice(reduced)] : x.shape.slice(reduced);
}

/** Σ over an empty tensor is zeros; the stock wasm kernel returns uninitialised memory there. */
function emptySum(b: WasmBackendLike, x: TensorInfo, attrs: SumAttrs): TensorInfo | null {
  if (x.dtype !== 'float32' || !x.shape.includes(0)) return null;
  const axes = util.parseAxisParam(attrs.axis, x.shape);
  let [shape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  if (attrs.keepDims) shape = backend_util.expandShapeToKeepDim(shape, axes);
  const out = b.makeOutput(shape, 'float32');
  heapF32(b, out).fill(0);
  return out;
}

/** The sums a kernel already computed for x (leadingSums.ts), as the output, or null. */
function remembered(b: WasmBackendLike, x: TensorInfo, attrs: SumAttrs, cols: number): TensorInfo | null {
  const sums = leadingSumsOf(x.dataId, cols);
  if (!sums) return null;
  const out = b.makeOutput(outShape(x, attrs, util.parseAxisParam(attrs.axis, x.shape).length), 'float32');
  heapF32(b, out).set(sums);
  return out;
}

export function sumLeadingPortable(b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: SumAttrs): TensorInfo | null {
  const x = inputs.x!;
  const empty = emptySum(b, x, attrs);
  if (empty) return empty;
  const split = leadingSplit(x, attrs);
  if (!split) return null;
  const [rows, cols] = split;
  const known = remembered(b, x, attrs, cols);
  if (known) return known;
  const out = b.makeOutput(outShape(x, attrs, util.parseAxisParam(attrs.axis, x.shape).length), 'float32');
  const xs = readHeap(b, x);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c]! += xs[base + c]!;
  }
  heapF32(b, out).set(acc);
  return out;
}

export function sumLeadingNative(addon: NativeAddon, b: WasmBackendLike, inputs: NamedTensorInfoMap, attrs: SumAttrs): TensorInfo | null {
  const x = inputs.x!;
  const empty = emptySum(b, x, attrs);
  if (empty) return empty;
  const split = leadingSplit(x, attrs);
  if (!split) return null;
  const known = remembered(b, x, attrs, split[1]);
  if (known) return known;
  const out = b.makeOutput(outShape(x, attrs, util.parseAxisParam(attrs.axis, x.shape).length), 'float32');
  addon.sumRows(heapBuffer(b), new Float64Array([heapOffset(b, x), heapOffset(b, out), split[0], split[1]]));
  return out;
}
