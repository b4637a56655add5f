/**
 * How the engine holds an ONNX tensor. The engine's kernels are NHWC, ONNX image models are NCHW,
 * so a value's *physical* tensor may be a permutation of its *logical* (ONNX) tensor:
 *   - `perm`: physical axis i is logical axis perm[i] (null = the same order). An NCHW conv
 *     output is held as NHWC: perm [0, 2, 3, 1].
 *   - `feat`: for a [batch, features] value made by flattening a permuted block, the physical
 *     feature order is that of the block transposed by feat.perm. The following Gemm/MatMul
 *     absorbs it by permuting its weight rows once, at import, instead of transposing the
 *     activations on every call.
 * Every operator either works in the physical layout directly (elementwise, pooling, conv,
 * reductions, concat, transpose, which only changes `perm`) or asks for a specific layout, and a
 * transpose is inserted only then (design §3, "ONNX import").
 */
export interface Layout {
  perm: number[] | null;
  feat: FeatOrder | null;
}

export interface FeatOrder {
  /** Logical shape of the flattened block (without the batch axis), e.g. [C, H, W]. */
  shape: number[];
  /** Physical axis i of the block is logical axis perm[i]. */
  perm: number[];
}

export const IDENTITY: Layout = { perm: null, feat: null };
export const NHWC_PERM = [0, 2, 3, 1];

export function isIdentityPerm(p: readonly number[] | null): boolean {
  return !p || p.every((v, i) => v === i);
}

export function normPerm(p: number[] | null): number[] | null {
  return isIdentityPerm(p) ? null : p;
}

export function identityPerm(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

export function invertPerm(p: readonly number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

export function permute<T>(values: readonly T[], perm: readonly number[] | null): T[] {
  return perm ? perm.map((a) => values[a]!) : values.slice();
}

export function sameLayout(a: Layout, b: Layout): boolean {
  const pa = a.perm ?? [];
  const pb = b.perm ?? [];
  if (pa.join() !== pb.join()) return false;
  if (!a.feat || !b.feat) return a.feat === b.feat;
  return a.feat.shape.join() === b.feat.shape.join() && a.feat.perm.join() === b.feat.perm.join();
}

/**
 * The feature order of flattening a block of logical `shape` held with physical axis order
 * `perm`; null when it equals the logical order (e.g. [C, 1, 1] held as [1, 1, C]).
 */
export function featOrder(shape: number[], perm: number[] | null): FeatOrder | null {
  if (!perm) return null;
  // Axes of size 1 do not change the element order; drop them before comparing.
  const kept = perm.filter((a) => shape[a] !== 1);
  if (kept.every((a, i) => i === 0 || a > kept[i - 1]!)) return null;
  return { shape: shape.slice(), perm: perm.slice() };
}

/** idx[j] = logical flat index of physical feature j. */
export function featIndex(f: FeatOrder): Int32Array {
  const tshape = f.perm.map((a) => f.shape[a]!);
  const n = f.shape.reduce((a, b) => a * b, 1);
  const strides = new Array<number>(f.shape.length);
  let s = 1;
  for (let a = f.shape.length - 1; a >= 0; a--) {
    strides[a] = s;
    s *= f.shape[a]!;
  }
  const idx = new Int32Array(n);
  const m = new Array<number>(tshape.length).fill(0);
  for (let j = 0; j < n; j++) {
    let l = 0;
    for (let i = 0; i < tshape.length; i++) l += m[i]! * strides[f.perm[i]!]!;
    idx[j] = l;
    for (let i = tshape.length - 1; i >= 0; i--) {
      if (++m[i]! < tshape[i]!) break;
      m[i] = 0;
    }
  }
  return idx;
}

// Host-side (Float32Array) tensor edits, for weights at import and export.

export function transposeHost(data: Float32Array, dims: number[], perm: number[]): Float32Array {
  const rank = dims.length;
  const out = new Float32Array(data.length);
  const outDims = perm.map((a) => dims[a]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    inStrides[a] = s;
    s *= dims[a]!;
  }
  const step = perm.map((a) => inStrides[a]!);
  const m = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      m[i]!++;
      src += step[i]!;
      if (m[i]! < outDims[i]!) break;
      src -= step[i]! * m[i]!;
      m[i] = 0;
    }
  }
  return out;
}

/** out[..., j, ...] = data[..., idx[j], ...] along `axis` (or the inverse scatter). */
export function gatherHost(data: Float32Array, dims: number[], axis: number, idx: Int32Array, inverse = false): Float32Array {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  const out = new Float32Array(data.length);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < n; j++) {
      const from = inverse ? j : idx[j]!;
      const to = inverse ? idx[j]! : j;
      out.set(data.subarray((o * n + from) * inner, (o * n + from + 1) * inner), (o * n + to) * inner);
    }
  return out;
}

/** A weight's way from its ONNX layout to the layout the engine stores and uses. */
export type WeightOp =
  { op: 'reshape'; shape: number[] } | { op: 'transpose'; perm: number[] } | { op: 'gather'; axis: number; order: FeatOrder };

export function opsShape(dims: number[], ops: readonly WeightOp[]): number[] {
  let shape = dims.slice();
  for (const o of ops) {
    if (o.op === 'reshape') shape = o.shape.slice();
    else if (o.op === 'transpose') shape = o.perm.map((a) => shape[a]!);
  }
  return shape;
}

/** ONNX layout → stored layout. */
export function applyOpsHost(data: Float32Array, dims: number[], ops: readonly WeightOp[]): Float32Array {
  let shape = dims.slice();
  let out = data;
  for (const o of ops) {
    if (o.op === 'reshape') shape = o.shape.slice();
    else if (o.op === 'transpose') {
      out = transposeHost(out, shape, o.perm);
      shape = o.perm.map((a) => shape[a]!);
    } else out = gatherHost(out, shape, o.axis, featIndex(o.order));
  }
  return out;
}

/** Stored layout → ONNX layout (export). */
export function invertOpsHost(data: Float32Array, dims: number[], ops: readonly WeightOp[]): Float32Array {
  const shapes = [dims.slice()];
  for (const o of ops) shapes.push(opsShape(shapes[shapes.length - 1]!, [o]));
  let out = data;
  for (let k = ops.length - 1; k >= 0; k--) {
    const o = ops[k]!;
    const before = shapes[k]!;
    if (o.op === 'transpose') out = transposeHost(out, shapes[k + 1]!, invertPerm(o.perm));
    else if (o.op === 'gather') out = gatherHost(out, before, o.axis, featIndex(o.order), true);
  }
  return out;
}
