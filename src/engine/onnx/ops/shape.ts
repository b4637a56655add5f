import * as tf from '@tensorflow/tfjs-core';
import type { GraphCompiler, OpHandler, RtVal, SymInt, Val } from '../compile';
import { physShape } from '../compile';
import type { NodeJson } from '../graph';
import { featOrder, IDENTITY, invertPerm, normPerm, transposeHost, type Layout } from '../layout';
import { sizeOf } from '../tensor';
import { transposeInts } from './constant';
import { axesOf } from './util';

/**
 * Shape operators. On run-time values they keep the batch axis first (FIM Inspector's models
 * map a batch of images to a batch of logits) and track the layout instead of moving data where
 * they can: Transpose only relabels axes, Squeeze/Unsqueeze add or drop size-1 axes, and a
 * Flatten of NHWC data records the feature order for the next Gemm. On constants (shape
 * arithmetic, torch's `x.view(x.size(0), -1)`) they fold at import.
 */

/** A constant's dims change (data unchanged): weights record it as a reshape of their storage. */
function reshapeConst(c: GraphCompiler, n: NodeJson, v: Val, dims: number[]): void {
  const out = n.outputs[0]!;
  if (v.kind === 'int') c.set(out, { kind: 'int', dims, values: v.values });
  else if (v.kind === 'float') c.set(out, { kind: 'float', dims, data: v.data });
  else if (v.kind === 'weight') c.set(out, { ...v, dims, pre: [...v.pre, { op: 'reshape', shape: dims }] });
  else c.fail(n, 'internal: not a constant');
}

/** [N, F] from a run-time value: keeps a permuted block's order as `feat` for the next product. */
function flattenRt(c: GraphCompiler, n: NodeJson, v: RtVal): void {
  const src = n.inputs[0]!;
  const block = v.shape.slice(1);
  const size = sizeOf(block);
  if (v.layout.feat || v.shape.length === 2) {
    c.alias(n, { kind: 'rt', shape: [-1, size], layout: v.layout.feat ? v.layout : IDENTITY });
    return;
  }
  const perm = v.layout.perm;
  if (perm && perm[0] !== 0) {
    const x = c.logical(n, 0).name;
    c.emit(n, [-1, size], IDENTITY, (env) => tf.reshape(env.get(x), [-1, size]));
    return;
  }
  const feat = featOrder(block, perm ? perm.slice(1).map((a) => a - 1) : null);
  c.emit(n, [-1, size], { perm: null, feat }, (env) => tf.reshape(env.get(src), [-1, size]));
}

const Flatten: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  const rank = v.kind === 'rt' ? v.shape.length : v.dims.length;
  let axis = c.int(n, 'axis', 1);
  if (axis < 0) axis += rank;
  if (v.kind !== 'rt') {
    const dims = v.dims;
    return reshapeConst(c, n, v, [sizeOf(dims.slice(0, axis)), sizeOf(dims.slice(axis))]);
  }
  if (axis !== 1) return c.fail(n, `Flatten at axis ${axis} merges the batch axis with others; only axis 1 is supported`);
  flattenRt(c, n, v);
};

/** Resolves a Reshape target (0 = copy, -1 = infer, 'N' = the batch) to per-sample dims. */
function reshapeTarget(
  c: GraphCompiler,
  n: NodeJson,
  input: number[],
  target: SymInt[],
  allowZero: boolean,
  batched: boolean,
  fixedBatch: number | null,
): number[] {
  const copy = (i: number): SymInt => {
    if (i >= input.length) return c.fail(n, 'a 0 in the shape has no input axis to copy');
    return input[i]! < 0 ? 'N' : input[i]!;
  };
  const dims = target.map((d, i) => (d === 0 && !allowZero ? copy(i) : d));
  if (!batched) {
    const known = dims.filter((d) => d !== -1).reduce((a: number, b) => a * (b as number), 1);
    return dims.map((d) => (d === -1 ? sizeOf(input) / known : (d as number)));
  }
  // The first target axis must be the batch: 'N' (from Shape), a copy (0), -1, or the fixed batch size a model was exported with.
  const first = dims[0];
  const perSample = sizeOf(input.slice(1));
  if (!(first === 'N' || first === -1 || (fixedBatch !== null && first === fixedBatch)))
    return c.fail(n, `Reshape to [${target.join(', ')}] does not keep the batch as the first axis`);
  const rest = dims.slice(1);
  if (rest.some((d) => d === 'N')) return c.fail(n, `Reshape to [${target.join(', ')}] moves the batch size into another axis`);
  const restNum = rest as number[];
  const unknown = restNum.filter((d) => d === -1).length;
  if (first === -1 && unknown > 0) return c.fail(n, `Reshape to [${target.join(', ')}] has two unknown axes`);
  if (unknown > 1) return c.fail(n, `Reshape to [${target.join(', ')}] has two unknown axes`);
  const known = restNum.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = restNum.map((d) => (d === -1 ? perSample / known : d));
  if (sizeOf(resolved) !== perSample || resolved.some((d) => !Number.isInteger(d)))
    return c.fail(n, `Reshape to [${target.join(', ')}] does not fit a per-sample shape of [${input.slice(1).join(', ')}]`);
  return resolved;
}

const Reshape: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  const t = c.val(n, n.inputs[1]);
  if (t.kind !== 'int') return c.fail(n, 'the target shape must be constant (or shape arithmetic on the input)');
  const allowZero = c.int(n, 'allowzero', 0) === 1;
  if (v.kind !== 'rt') {
    if (t.values.includes('N')) return c.fail(n, 'reshaping a constant by the batch size is not supported');
    return reshapeConst(c, n, v, reshapeTarget(c, n, v.dims, t.values, allowZero, false, null));
  }
  const input = c.graph.inputs[0]!.dims;
  const fixed = input && typeof input[0] === 'number' ? input[0] : null;
  const rest = reshapeTarget(c, n, v.shape, t.values, allowZero, true, fixed);
  if (rest.length === 1) return flattenRt(c, n, v);
  if (rest.join() === v.shape.slice(1).join()) return c.alias(n, v);
  const x = c.logical(n, 0).name;
  c.emit(n, [-1, ...rest], IDENTITY, (env) => tf.reshape(env.get(x), [-1, ...rest]));
};

const Transpose: OpHandler = (c, n) => {
  const v = c.val(n, n.inputs[0]);
  const rank = v.kind === 'rt' ? v.shape.length : v.dims.length;
  const perm = c.ints(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (v.kind === 'float') {
    c.set(n.outputs[0]!, { kind: 'float', dims: perm.map((a) => v.dims[a]!), data: transposeHost(v.data, v.dims, perm) });
    return;
  }
  if (v.kind === 'weight') {
    c.set(n.outputs[0]!, { ...v, dims: perm.map((a) => v.dims[a]!), pre: [...v.pre, { op: 'transpose', perm }] });
    return;
  }
  if (v.kind === 'int') {
    c.set(n.outputs[0]!, { kind: 'int', dims: perm.map((a) => v.dims[a]!), values: transposeInts(v.values, v.dims, perm) });
    return;
  }
  if (perm[0] !== 0) return c.fail(n, `Transpose by [${perm.join(', ')}] moves the batch axis`);
  if (v.layout.feat) {
    if (perm.join() === '0,1') return c.alias(n, v);
    return c.fail(n, 'internal: feature order on a non-2-D value');
  }
  // Only the labels change: physical axis i holds logical input axis P[i], which is output axis perm⁻¹[P[i]].
  const inv = invertPerm(perm);
  const cur = v.layout.perm ?? Array.from({ length: rank }, (_, i) => i);
  const layout: Layout = { perm: normPerm(cur.map((a) => inv[a]!)), feat: null };
  c.alias(n, { kind: 'rt', shape: perm.map((a) => v.shape[a]!), layout });
};

const Concat: OpHandler = (c, n) => {
  const vals = n.inputs.map((i) => c.val(n, i));
  let axis = c.int(n, 'axis', 0);
  if (vals.every((v) => v.kind === 'int')) {
    const ints = vals;
    if (ints.some((v) => v.dims.length > 1)) return c.fail(n, 'concatenating integer tensors of rank > 1 is not supported');
    const values = ints.flatMap((v) => v.values);
    c.set(n.outputs[0]!, { kind: 'int', dims: [values.length], values });
    return;
  }
  if (!vals.every((v) => v.kind === 'rt')) return c.fail(n, 'concatenating run-time tensors with constants is not supported');
  const rts = vals;
  const rank = rts[0]!.shape.length;
  if (axis < 0) axis += rank;
  if (axis === 0) return c.fail(n, 'concatenation along the batch axis is not supported');
  const feat = rts.some((v) => v.layout.feat);
  const target = feat ? null : rts[0]!.layout.perm;
  const names = n.inputs.map((i) => c.inLayout(i, target));
  const phys = target ? target.indexOf(axis) : axis;
  const shape = rts[0]!.shape.slice();
  shape[axis] = rts.reduce((a, v) => a + v.shape[axis]!, 0);
  c.emit(n, shape, { perm: target, feat: null }, (env) =>
    tf.concat(
      names.map((x) => env.get(x)),
      phys,
    ),
  );
};

function squeezeOrUnsqueeze(c: GraphCompiler, n: NodeJson, unsqueeze: boolean): void {
  const v = c.val(n, n.inputs[0]);
  const inRank = v.kind === 'rt' ? v.shape.length : v.dims.length;
  const inShape = v.kind === 'rt' ? v.shape : v.dims;
  const raw = c.ints(n, 'axes') ?? c.constInts(n, 1);
  let outShape: number[];
  let axes: number[];
  if (unsqueeze) {
    if (!raw) return c.fail(n, 'Unsqueeze needs axes');
    const outRank = inRank + raw.length;
    axes = raw.map((a) => (a < 0 ? a + outRank : a)).sort((a, b) => a - b);
    outShape = [];
    let k = 0;
    for (let i = 0; i < outRank; i++) outShape.push(axes.includes(i) ? 1 : inShape[k++]!);
  } else {
    axes = raw ? raw.map((a) => (a < 0 ? a + inRank : a)) : inShape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    if (axes.some((a) => inShape[a] !== 1)) return c.fail(n, `Squeeze of axes [${axes.join(', ')}] that are not of size 1`);
    outShape = inShape.filter((_, i) => !axes.includes(i));
  }
  if (v.kind !== 'rt') return reshapeConst(c, n, v, outShape);
  if (axes.includes(0)) return c.fail(n, `${n.opType} of the batch axis is not supported`);
  if (v.layout.feat) {
    const x = c.logical(n, 0).name;
    c.emit(n, outShape, IDENTITY, (env) =>
      tf.reshape(
        env.get(x),
        outShape.map((d, i) => (i === 0 ? -1 : d)),
      ),
    );
    return;
  }
  const cur = v.layout.perm ?? inShape.map((_, i) => i);
  let perm: number[];
  if (unsqueeze) {
    // Old logical axis a becomes output axis pos[a]; new size-1 axes go last physically.
    const pos: number[] = [];
    for (let i = 0; i < outShape.length; i++) if (!axes.includes(i)) pos.push(i);
    perm = [...cur.map((a) => pos[a]!), ...axes];
  } else {
    const renumber = (a: number) => a - axes.filter((s) => s < a).length;
    perm = cur.filter((a) => !axes.includes(a)).map(renumber);
  }
  const layout: Layout = { perm: normPerm(perm), feat: null };
  const target = physShape({ kind: 'rt', shape: outShape, layout }).map((d, i) => (i === 0 && perm[0] === 0 ? -1 : d));
  const src = n.inputs[0]!;
  c.emit(n, outShape, layout, (env) => tf.reshape(env.get(src), target));
}

const Squeeze: OpHandler = (c, n) => squeezeOrUnsqueeze(c, n, false);
const Unsqueeze: OpHandler = (c, n) => squeezeOrUnsqueeze(c, n, true);

/**
 * Edge and reflect padding from slices, per axis. tf.js has no edge mode, and the gradient of its
 * MirrorPad drops what flows into the reflected border (it only slices the centre out of dy), so
 * both are built from slice, reverse, tile and concat, whose gradients are exact.
 */
function borderPad(x: tf.Tensor, paddings: [number, number][], mode: 'edge' | 'reflect'): tf.Tensor {
  let y = x;
  paddings.forEach(([b, e], axis) => {
    if (!b && !e) return;
    const size = y.shape[axis]!;
    if (mode === 'reflect' && (b >= size || e >= size))
      throw new Error(`reflect padding of ${Math.max(b, e)} needs more than ${size} elements along the axis`);
    const part = (from: number, count: number) => {
      const begin = y.shape.map((_, i) => (i === axis ? from : 0));
      const sz = y.shape.map((d, i) => (i === axis ? count : d));
      return tf.slice(y, begin, sz);
    };
    const reps = (times: number) => y.shape.map((_, i) => (i === axis ? times : 1));
    const parts: tf.Tensor[] = [];
    if (b) parts.push(mode === 'edge' ? tf.tile(part(0, 1), reps(b)) : tf.reverse(part(1, b), axis));
    parts.push(y);
    if (e) parts.push(mode === 'edge' ? tf.tile(part(size - 1, 1), reps(e)) : tf.reverse(part(size - 1 - e, e), axis));
    y = tf.concat(parts, axis);
  });
  return y;
}

const Pad: OpHandler = (c, n) => {
  const v = c.rt(n, 0);
  const rank = v.shape.length;
  const mode = c.str(n, 'mode', 'constant');
  let pads = c.opset < 11 ? c.ints(n, 'pads') : c.constInts(n, 1);
  const value = c.opset < 11 ? c.float(n, 'value', 0) : (c.constScalar(n, 2) ?? 0);
  if (!pads) return c.fail(n, 'Pad needs pads');
  const axes = c.opset >= 18 ? axesOf(c, n, rank, 3) : undefined;
  if (axes) {
    const full = new Array<number>(2 * rank).fill(0);
    axes.forEach((a, i) => {
      full[a] = pads![i]!;
      full[a + rank] = pads![i + axes.length]!;
    });
    pads = full;
  }
  if (pads.length !== 2 * rank) return c.fail(n, `pads has ${pads.length} values for a rank-${rank} input`);
  if (pads.some((p) => p < 0)) return c.fail(n, 'negative pads (cropping) are not supported');
  if (pads[0] || pads[rank]) return c.fail(n, 'padding the batch axis is not supported');
  const src = v.layout.feat ? c.logical(n, 0).name : n.inputs[0]!;
  const layout = v.layout.feat ? IDENTITY : v.layout;
  const perm = layout.perm ?? v.shape.map((_, i) => i);
  const paddings = perm.map((a) => [pads[a]!, pads[a + rank]!] as [number, number]);
  const shape = v.shape.map((d, i) => (i === 0 ? d : d + pads[i]! + pads[i + rank]!));
  let run: (x: tf.Tensor) => tf.Tensor;
  if (mode === 'constant') run = (x) => tf.pad(x, paddings, value);
  else if (mode === 'reflect' || mode === 'edge') {
    if (
      mode === 'reflect' &&
      paddings.some(([b, e], i) => Math.max(b, e) >= physShape({ kind: 'rt', shape: v.shape, layout }).map((d) => d)[i]! && i > 0)
    )
      return c.fail(n, 'reflect padding must be smaller than the padded axis');
    run = (x) => borderPad(x, paddings, mode);
  } else return c.fail(n, `pad mode ${mode} is not supported`);
  c.emit(n, shape, layout, (env) => run(env.get(src)));
};

export const SHAPE_OPS: Record<string, OpHandler> = { Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze, Pad };
