import type { NodeJson } from '../graph';
import type { GraphCompiler, RtVal, Val } from '../compile';
import type { WeightOp } from '../layout';
import { sizeOf } from '../tensor';

/** Numpy broadcasting of logical shapes (-1 is the batch size). */
export function broadcastShapes(c: GraphCompiler, n: NodeJson, a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...new Array<number>(r - a.length).fill(1), ...a];
  const pb = [...new Array<number>(r - b.length).fill(1), ...b];
  return pa.map((x, i) => {
    const y = pb[i]!;
    if (x === y || y === 1) return x;
    if (x === 1) return y;
    return c.fail(n, `shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
  });
}

/**
 * How a constant operand of logical `dims` must be stored to broadcast against the run-time
 * value `r` in its physical layout: padded to r's rank, then permuted like r.
 */
export function broadcastOps(c: GraphCompiler, n: NodeJson, dims: number[], r: RtVal): { ops: WeightOp[]; padded: number[] } {
  const rank = r.shape.length;
  if (dims.length > rank) c.fail(n, `a constant operand of rank ${dims.length} is broadcast against data of rank ${rank}`);
  const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  if (rank > 0 && padded[0] !== 1) c.fail(n, 'a constant operand has a batch dimension');
  if (sizeOf(dims) === 1) return { ops: [], padded };
  if (r.layout.feat) {
    if (padded[1] === 1) return { ops: [], padded };
    return {
      ops: [
        { op: 'reshape', shape: padded },
        { op: 'gather', axis: 1, order: r.layout.feat },
      ],
      padded,
    };
  }
  if (r.layout.perm)
    return {
      ops: [
        { op: 'reshape', shape: padded },
        { op: 'transpose', perm: r.layout.perm },
      ],
      padded,
    };
  return { ops: [], padded };
}

export interface Padding {
  /** Per spatial axis: [begin, end] padding from the model, and extra end padding for ceil_mode. */
  pads: [number, number][];
  extra: number[];
  out: number[];
}

/**
 * Pads and output sizes of a conv or pool over spatial sizes `input` (ONNX's auto_pad, pads and
 * ceil_mode rules; for ceil_mode, a window that would start in the end padding is dropped, as
 * PyTorch and onnxruntime do).
 */
export function spatialPadding(
  c: GraphCompiler,
  n: NodeJson,
  input: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
  ceil = false,
): Padding {
  const rank = input.length;
  const autoPad = c.str(n, 'auto_pad', 'NOTSET');
  const attrPads = c.ints(n, 'pads') ?? new Array<number>(2 * rank).fill(0);
  const pads: [number, number][] = [];
  const extra: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const len = input[i]!;
    const k = (kernel[i]! - 1) * dilations[i]! + 1;
    const s = strides[i]!;
    let pb: number;
    let pe: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = Math.max(0, (Math.ceil(len / s) - 1) * s + k - len);
      pb = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pe = total - pb;
    } else if (autoPad === 'VALID') {
      pb = 0;
      pe = 0;
    } else if (autoPad === 'NOTSET' || autoPad === '') {
      pb = attrPads[i]!;
      pe = attrPads[i + rank]!;
    } else {
      return c.fail(n, `auto_pad ${autoPad} is not an ONNX value`);
    }
    if (pb < 0 || pe < 0) c.fail(n, 'negative pads are not supported');
    const span = len + pb + pe - k;
    if (span < 0) c.fail(n, `the window (${k}) is larger than the padded input (${len + pb + pe})`);
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= len + pb) o--;
    pads.push([pb, pe]);
    extra.push(Math.max(0, (o - 1) * s + k - (len + pb + pe)));
    out.push(o);
  }
  return { pads, extra, out };
}

/** Whether TensorFlow's 'same' padding equals these pads (then the kernels pad themselves). */
export function isTfSame(input: number[], kernel: number[], strides: number[], p: Padding): boolean {
  return input.every((len, i) => {
    const s = strides[i]!;
    const total = Math.max(0, (Math.ceil(len / s) - 1) * s + kernel[i]! - len);
    const [pb, pe] = p.pads[i]!;
    return p.extra[i] === 0 && pb === Math.floor(total / 2) && pe === total - pb && p.out[i] === Math.ceil(len / s);
  });
}

export function isZeroPadding(p: Padding): boolean {
  return p.pads.every(([a, b]) => a === 0 && b === 0) && p.extra.every((e) => e === 0);
}

/** Axes as an attribute (older opsets) or as input `i` (newer ones), normalised to [0, rank). */
export function axesOf(c: GraphCompiler, n: NodeJson, rank: number, inputIndex: number): number[] | undefined {
  const raw = c.ints(n, 'axes') ?? c.constInts(n, inputIndex);
  return raw?.map((a) => (a < 0 ? a + rank : a));
}

export function isFloatVal(v: Val): boolean {
  return v.kind === 'float' || v.kind === 'weight';
}
