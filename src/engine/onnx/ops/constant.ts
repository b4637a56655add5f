import * as tf from '@tensorflow/tfjs-core';
import type { OpHandler, SymInt } from '../compile';
import { DataType } from '../onnxSchema';
import { FLOAT_TYPES } from '../tensor';

/**
 * Constants, identities and the shape arithmetic PyTorch writes for `x.view(x.size(0), -1)`
 * (Shape → Gather → Unsqueeze → Concat → Reshape): all of it folds at import, with the batch size
 * kept symbolic ('N') until Reshape.
 */

const Constant: OpHandler = (c, n) => {
  const out = n.outputs[0]!;
  const t = c.attr(n, 'value')?.t;
  const f = c.attr(n, 'value_float')?.f;
  const fs = c.attr(n, 'value_floats')?.floats;
  const i = c.attr(n, 'value_int')?.i;
  const is = c.attr(n, 'value_ints')?.ints;
  if (t) {
    if (FLOAT_TYPES.has(t.dataType)) c.set(out, { kind: 'float', dims: t.dims, data: Float32Array.from(t.values) });
    else c.set(out, { kind: 'int', dims: t.dims, values: t.values });
  } else if (f !== undefined) c.set(out, { kind: 'float', dims: [], data: Float32Array.of(f) });
  else if (fs) c.set(out, { kind: 'float', dims: [fs.length], data: Float32Array.from(fs) });
  else if (i !== undefined) c.set(out, { kind: 'int', dims: [], values: [i] });
  else if (is) c.set(out, { kind: 'int', dims: [is.length], values: is });
  else c.fail(n, 'Constant without a supported value attribute');
};

const Shape: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  const dims: SymInt[] = v.kind === 'rt' ? v.shape.map((d) => (d < 0 ? 'N' : d)) : v.dims.slice();
  const rank = dims.length;
  const clamp = (x: number) => Math.min(rank, Math.max(0, x < 0 ? x + rank : x));
  const start = clamp(c.int(n, 'start', 0));
  const end = clamp(c.int(n, 'end', rank));
  const values = dims.slice(start, end);
  c.set(n.outputs[0]!, { kind: 'int', dims: [values.length], values });
};

const Gather: OpHandler = (c, n) => {
  const data = c.val(n, n.inputs[0]);
  const idx = c.val(n, n.inputs[1]);
  if (idx.kind !== 'int' || idx.values.includes('N')) return c.fail(n, 'indices must be constant');
  if (data.kind === 'rt' || data.kind === 'weight')
    return c.fail(n, 'Gather on tensors (embedding lookups, indexing) is not supported; only shape arithmetic folds');
  const axis = c.int(n, 'axis', 0);
  if (data.dims.length !== 1 || axis !== 0) return c.fail(n, 'Gather folds only on 1-D constants');
  const len = data.dims[0]!;
  const pick = (k: number) => (k < 0 ? k + len : k);
  const ids = idx.values as number[];
  if (ids.some((k) => pick(k) < 0 || pick(k) >= len)) return c.fail(n, 'index out of range');
  const out = n.outputs[0]!;
  if (data.kind === 'int') c.set(out, { kind: 'int', dims: idx.dims, values: ids.map((k) => data.values[pick(k)]!) });
  else c.set(out, { kind: 'float', dims: idx.dims, data: Float32Array.from(ids.map((k) => data.data[pick(k)]!)) });
};

const Cast: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  const to = c.int(n, 'to', DataType.FLOAT);
  const out = n.outputs[0]!;
  if (v.kind === 'rt' || v.kind === 'weight') {
    // The engine computes in float32 whatever float width the model names.
    if (!FLOAT_TYPES.has(to)) return c.fail(n, `casting data to ${to} is not supported`);
    return c.alias(n, v);
  }
  if (FLOAT_TYPES.has(to)) {
    const data = v.kind === 'float' ? v.data : Float32Array.from(v.values.map((x) => (x === 'N' ? NaN : x)));
    if (data.some((x) => Number.isNaN(x)) && v.kind === 'int') return c.fail(n, 'casting the batch size to float is not supported');
    c.set(out, { kind: 'float', dims: v.dims, data });
  } else {
    const values: SymInt[] = v.kind === 'int' ? v.values : Array.from(v.data, (x) => Math.trunc(x));
    c.set(out, { kind: 'int', dims: v.dims, values: to === DataType.BOOL ? values.map((x) => (x === 'N' ? 1 : x ? 1 : 0)) : values });
  }
};

/** N-d index helpers for folding small constants. */
function stridesOf(dims: number[]): number[] {
  const st = new Array<number>(dims.length);
  let s = 1;
  for (let a = dims.length - 1; a >= 0; a--) {
    st[a] = s;
    s *= dims[a]!;
  }
  return st;
}

function gatherNd<T>(values: readonly T[], dims: number[], outDims: number[], source: (m: number[]) => number[]): T[] {
  const st = stridesOf(dims);
  const n = outDims.reduce((a, b) => a * b, 1);
  const out: T[] = [];
  const m = new Array<number>(outDims.length).fill(0);
  for (let j = 0; j < n; j++) {
    const src = source(m);
    out.push(values[src.reduce((a, v, i) => a + v * st[i]!, 0)]!);
    for (let i = outDims.length - 1; i >= 0; i--) {
      if (++m[i]! < outDims[i]!) break;
      m[i] = 0;
    }
  }
  return out;
}

const ConstantOfShape: OpHandler = (c, n) => {
  const dims = c.constInts(n, 0);
  if (!dims) return c.fail(n, 'ConstantOfShape needs a shape');
  const t = c.attr(n, 'value')?.t;
  const size = dims.reduce((a, b) => a * b, 1);
  const v = t?.values[0] ?? 0;
  if (!t || FLOAT_TYPES.has(t.dataType)) c.set(n.outputs[0]!, { kind: 'float', dims, data: new Float32Array(size).fill(v) });
  else c.set(n.outputs[0]!, { kind: 'int', dims, values: new Array<number>(size).fill(v) });
};

/** Slice of a constant (PyTorch computes F.pad's pads this way); run-time data is not sliced. */
const Slice: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  if (v.kind === 'rt' || v.kind === 'weight') return c.fail(n, 'slicing tensors is not supported; only shape arithmetic folds');
  const dims = v.dims;
  const rank = dims.length;
  const old = c.opset < 10;
  const starts = old ? c.ints(n, 'starts') : c.constInts(n, 1);
  const ends = old ? c.ints(n, 'ends') : c.constInts(n, 2);
  if (!starts || !ends) return c.fail(n, 'Slice needs starts and ends');
  const axes = (old ? c.ints(n, 'axes') : c.constInts(n, 3)) ?? starts.map((_, i) => i);
  const steps = (old ? undefined : c.constInts(n, 4)) ?? starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  const count = dims.slice();
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + rank : a0;
    const d = dims[a]!;
    const st = steps[i]!;
    if (st === 0) c.fail(n, 'a slice step of 0');
    const norm = (x: number) => (x < 0 ? x + d : x);
    let s = norm(starts[i]!);
    let e = norm(ends[i]!);
    if (st > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
      count[a] = Math.max(0, Math.ceil((e - s) / st));
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
      count[a] = Math.max(0, Math.ceil((e - s) / st));
    }
    begin[a] = s;
    step[a] = st;
  });
  const source = (m: number[]) => m.map((x, i) => begin[i]! + x * step[i]!);
  const out = n.outputs[0]!;
  if (v.kind === 'int') c.set(out, { kind: 'int', dims: count, values: gatherNd(v.values, dims, count, source) });
  else c.set(out, { kind: 'float', dims: count, data: Float32Array.from(gatherNd(Array.from(v.data), dims, count, source)) });
};

/** Transpose of an integer constant (the other cases are in shape.ts). */
export function transposeInts(values: readonly SymInt[], dims: number[], perm: number[]): SymInt[] {
  return gatherNd(
    values,
    dims,
    perm.map((a) => dims[a]!),
    (m) => {
      const src = new Array<number>(dims.length);
      perm.forEach((a, i) => (src[a] = m[i]!));
      return src;
    },
  );
}

const Identity: OpHandler = (c, n) => c.alias(n, c.val(n, n.inputs[0]));

/** Dropout: the identity at inference; when fine-tuning it drops like PyTorch's train mode. */
const Dropout: OpHandler = (c, n) => {
  if (n.outputs[1] && c.consumers.has(n.outputs[1])) c.fail(n, 'the mask output of Dropout is not supported');
  const v = c.val(n, n.inputs[0]);
  if (v.kind !== 'rt') return c.alias(n, v);
  const ratio = c.opset < 12 ? c.float(n, 'ratio', 0.5) : (c.constScalar(n, 1) ?? 0.5);
  const src = n.inputs[0]!;
  c.emit(n, v.shape, v.layout, (env) => (env.training && ratio > 0 ? tf.dropout(env.get(src), ratio) : env.get(src)));
};

export const CONSTANT_OPS: Record<string, OpHandler> = { Constant, ConstantOfShape, Shape, Gather, Slice, Cast, Identity, Dropout };
