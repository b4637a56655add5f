import * as tf from '@tensorflow/tfjs-core';
import type { GraphCompiler, OpHandler } from '../compile';
import type { NodeJson } from '../graph';
import { NHWC_PERM } from '../layout';
import { LOWEST } from './elementwise';
import { isTfSame, isZeroPadding, spatialPadding, type Padding } from './util';

interface PoolGeometry {
  src: string;
  kernel: [number, number];
  strides: [number, number];
  p: Padding;
  shape: number[];
}

function geometry(c: GraphCompiler, n: NodeJson): PoolGeometry {
  const x = c.nhwc(n, 0);
  const kernel = c.ints(n, 'kernel_shape');
  if (!kernel || kernel.length !== 2) return c.fail(n, 'only 2-D pooling with a kernel_shape is supported');
  const dil = c.ints(n, 'dilations') ?? [1, 1];
  if (dil.some((d) => d !== 1)) c.fail(n, 'dilated pooling is not supported');
  const strides = c.ints(n, 'strides') ?? [1, 1];
  const [, ch, h, w] = x.v.shape as [number, number, number, number];
  const p = spatialPadding(c, n, [h, w], kernel, strides, [1, 1], c.int(n, 'ceil_mode', 0) === 1);
  return {
    src: x.name,
    kernel: [kernel[0]!, kernel[1]!],
    strides: [strides[0]!, strides[1]!],
    p,
    shape: [-1, ch, p.out[0]!, p.out[1]!],
  };
}

function padSpec(p: Padding): [number, number][] {
  return [
    [0, 0],
    [p.pads[0]![0], p.pads[0]![1] + p.extra[0]!],
    [p.pads[1]![0], p.pads[1]![1] + p.extra[1]!],
    [0, 0],
  ];
}

/** MaxPool: padding counts as the lowest float (never the maximum), as in ONNX. */
const MaxPool: OpHandler = (c, n) => {
  if (n.outputs[1] && c.consumers.has(n.outputs[1])) c.fail(n, 'the Indices output of MaxPool is not supported');
  const g = geometry(c, n);
  const input = (c.vals.get(g.src) as { shape: number[] }).shape;
  const spatial = [input[2]!, input[3]!];
  let run: (x: tf.Tensor4D) => tf.Tensor;
  if (isZeroPadding(g.p)) run = (x) => tf.maxPool(x, g.kernel, g.strides, 'valid');
  else if (isTfSame(spatial, g.kernel, g.strides, g.p)) run = (x) => tf.maxPool(x, g.kernel, g.strides, 'same');
  else {
    const pads = padSpec(g.p);
    run = (x) => tf.maxPool(tf.pad(x, pads, LOWEST), g.kernel, g.strides, 'valid');
  }
  c.emit(n, g.shape, { perm: NHWC_PERM, feat: null }, (env) => run(env.get(g.src) as tf.Tensor4D));
};

/**
 * How many elements each window averages over along one axis: those inside the input, or with
 * count_include_pad also those in the model's explicit padding (never the extra ceil_mode padding).
 */
function windowCounts(len: number, k: number, s: number, out: number, [pb, pe]: [number, number], includePad: boolean): number[] {
  const lo = includePad ? -pb : 0;
  const hi = includePad ? len + pe : len;
  return Array.from({ length: out }, (_, o) => {
    const start = o * s - pb;
    return Math.max(0, Math.min(start + k, hi) - Math.max(start, lo));
  });
}

const AveragePool: OpHandler = (c, n) => {
  const g = geometry(c, n);
  const input = (c.vals.get(g.src) as { shape: number[] }).shape;
  const includePad = c.int(n, 'count_include_pad', 0) === 1;
  const [kh, kw] = g.kernel;
  if (isZeroPadding(g.p)) {
    c.emit(n, g.shape, { perm: NHWC_PERM, feat: null }, (env) => tf.avgPool(env.get(g.src) as tf.Tensor4D, g.kernel, g.strides, 'valid'));
    return;
  }
  const ch = windowCounts(input[2]!, kh, g.strides[0], g.p.out[0]!, g.p.pads[0]!, includePad);
  const cw = windowCounts(input[3]!, kw, g.strides[1], g.p.out[1]!, g.p.pads[1]!, includePad);
  const pads = padSpec(g.p);
  const full = ch.every((v) => v === kh) && cw.every((v) => v === kw);
  if (full) {
    c.emit(n, g.shape, { perm: NHWC_PERM, feat: null }, (env) =>
      tf.avgPool(tf.pad(env.get(g.src) as tf.Tensor4D, pads), g.kernel, g.strides, 'valid'),
    );
    return;
  }
  // Sum over the zero-padded window, divided by the per-position count (a constant of the graph).
  const scale = new Float32Array(ch.length * cw.length);
  for (let i = 0; i < ch.length; i++) for (let j = 0; j < cw.length; j++) scale[i * cw.length + j] = (kh * kw) / (ch[i]! * cw[j]!);
  const s = c.addConstant([1, ch.length, cw.length, 1], scale);
  c.emit(n, g.shape, { perm: NHWC_PERM, feat: null }, (env) =>
    tf.mul(tf.avgPool(tf.pad(env.get(g.src) as tf.Tensor4D, pads), g.kernel, g.strides, 'valid'), s(env)),
  );
};

/** Global pooling reduces the spatial axes wherever they are held: no transpose. */
function globalPool(reduce: (x: tf.Tensor, axes: number[]) => tf.Tensor): OpHandler {
  return (c, n) => {
    const v = c.rt(n, 0);
    if (v.layout.feat || v.shape.length < 3) return c.fail(n, `expects an (N, C, spatial…) input, got rank ${v.shape.length}`);
    const logicalAxes = v.shape.map((_, i) => i).slice(2);
    const perm = v.layout.perm;
    const axes = perm ? logicalAxes.map((a) => perm.indexOf(a)) : logicalAxes;
    const shape = v.shape.map((d, i) => (i >= 2 ? 1 : d));
    const src = n.inputs[0]!;
    c.emit(n, shape, v.layout, (env) => reduce(env.get(src), axes));
  };
}

export const POOL_OPS: Record<string, OpHandler> = {
  MaxPool,
  AveragePool,
  GlobalAveragePool: globalPool((x, axes) => tf.mean(x, axes, true)),
  GlobalMaxPool: globalPool((x, axes) => tf.max(x, axes, true)),
};
