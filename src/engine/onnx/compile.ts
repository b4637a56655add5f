import * as tf from '@tensorflow/tfjs-core';
import { OnnxImportError } from './errors';
import { defaultOpset, type AttrJson, type GraphJson, type NodeJson } from './graph';
import {
  applyOpsHost,
  featIndex,
  identityPerm,
  IDENTITY,
  invertPerm,
  isIdentityPerm,
  NHWC_PERM,
  opsShape,
  permute,
  type Layout,
  type WeightOp,
} from './layout';
import { FLOAT_TYPES, sizeOf } from './tensor';

/**
 * Compiles an ONNX graph (graph.ts) into a program of tf.js operations on the engine's NHWC
 * layout. Everything is decided here, once, from the graph alone, so a checkpoint's layer config
 * rebuilds exactly the same program: which initialisers are weights and how they are stored
 * (HWIO conv kernels, permuted Gemm rows), where the shape arithmetic folds to constants, where
 * a transpose is needed. The operators live in ops/*.ts; this file has the values, the layouts
 * and the program they build.
 */

/** Dimension values of shape arithmetic: a number, or the batch size, unknown until run time. */
export type SymInt = number | 'N';

export type Val =
  /** A tensor computed at run time; logical shape with -1 for the batch (axis 0). */
  | { kind: 'rt'; shape: number[]; layout: Layout }
  /**
   * A floating-point initialiser: one of the layer's weights. `dims` is its logical shape here;
   * `pre` the reshapes/transposes constant-folded onto it so far (from `base`, the initialiser's dims).
   */
  | { kind: 'weight'; init: string; dims: number[]; base: number[]; pre: WeightOp[] }
  /** A floating-point constant (Constant nodes, folded values). */
  | { kind: 'float'; dims: number[]; data: Float32Array }
  /** Integer or boolean constant, possibly holding the symbolic batch size (shape arithmetic). */
  | { kind: 'int'; dims: number[]; values: SymInt[] };

export type RtVal = Extract<Val, { kind: 'rt' }>;

/** What a step of the program sees while it runs. */
export interface Env {
  training: boolean;
  get(name: string): tf.Tensor;
  set(name: string, t: tf.Tensor): void;
  weight(key: string): tf.Tensor;
  /** Replaces a non-trainable weight's value (BatchNormalization's running statistics). */
  assign(key: string, value: tf.Tensor): void;
  constant(id: number): tf.Tensor;
}

export type Step = (env: Env) => void;

export interface WeightSpec {
  /** The layer's weight name. */
  key: string;
  /** The ONNX initialiser. */
  init: string;
  dims: number[];
  /** Shape as stored (after `ops`). */
  shape: number[];
  /** ONNX layout → stored layout; inverted at export. */
  ops: WeightOp[];
  trainable: boolean;
}

export interface ConstantSpec {
  shape: number[];
  data: Float32Array;
}

/** How the model's input arrives: always NHWC pixels; the ONNX graph's input is NCHW or NHWC. */
export type InputLayout = 'nchw' | 'nhwc';

export interface CompileOptions {
  inputLayout: InputLayout;
  /** Per-channel normalisation prepended to the graph (`--normalize`); pixels stay in [0, 1]. */
  normalize?: { mean: number[]; std: number[] } | undefined;
  /** BatchNormalization uses its running statistics also when training (`--freeze-bn`). */
  freezeBatchNorm?: boolean | undefined;
}

export interface Program {
  steps: Step[];
  weights: WeightSpec[];
  constants: ConstantSpec[];
  /** The name of the engine's input and output values. */
  input: string;
  output: string;
  /** Input image [H, W, C] and number of classes. */
  imageShape: [number, number, number];
  numClasses: number;
  notes: string[];
}

export type OpHandler = (c: GraphCompiler, node: NodeJson) => void;

/** Set by ops/index.ts (which imports every operator module); kept here to avoid an import cycle. */
const HANDLERS = new Map<string, OpHandler>();

export function registerOps(entries: Record<string, OpHandler>): void {
  for (const [k, v] of Object.entries(entries)) HANDLERS.set(k, v);
}

export function supportedOps(): string[] {
  return [...HANDLERS.keys()].sort();
}

export function isSupportedOp(n: Pick<NodeJson, 'opType' | 'domain'>): boolean {
  return (!n.domain || n.domain === 'ai.onnx') && HANDLERS.has(n.opType);
}

export class GraphCompiler {
  readonly vals = new Map<string, Val>();
  readonly steps: Step[] = [];
  readonly weights: WeightSpec[] = [];
  readonly constants: ConstantSpec[] = [];
  readonly notes: string[] = [];
  readonly opset: number;
  /** How many node inputs use each value (weights used once may be stored transformed). */
  readonly uses = new Map<string, number>();
  /** The nodes reading each value. */
  readonly consumers = new Map<string, NodeJson[]>();
  /** Nodes already compiled as part of another (fused epilogues). */
  readonly fused = new Set<NodeJson>();
  private readonly weightByInit = new Map<string, WeightSpec>();
  private readonly relayouts = new Map<string, string>();
  private readonly trainable: Set<string>;
  private tmp = 0;

  constructor(
    readonly graph: GraphJson,
    readonly options: CompileOptions,
  ) {
    this.opset = defaultOpset(graph);
    for (const n of graph.nodes)
      for (const i of n.inputs) {
        if (!i) continue;
        this.uses.set(i, (this.uses.get(i) ?? 0) + 1);
        (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n);
      }
    this.trainable = trainableInitializers(graph);
    graph.initializers.forEach((init) => {
      if (FLOAT_TYPES.has(init.dataType)) {
        if (init.values) this.vals.set(init.name, { kind: 'float', dims: init.dims, data: Float32Array.from(init.values) });
        else this.vals.set(init.name, { kind: 'weight', init: init.name, dims: init.dims, base: init.dims, pre: [] });
      } else this.vals.set(init.name, { kind: 'int', dims: init.dims, values: init.values ?? [] });
    });
  }

  fail(node: NodeJson, why: string): never {
    throw new OnnxImportError(`node "${node.name || node.opType}" (${node.opType}, opset ${this.opset}): ${why}`);
  }

  fresh(base: string): string {
    return `${base}#${++this.tmp}`;
  }

  val(node: NodeJson, name: string | undefined): Val {
    if (!name) this.fail(node, 'a required input is missing');
    const v = this.vals.get(name);
    if (!v) this.fail(node, `input "${name}" is not produced by any node`);
    return v;
  }

  /** An optional input: undefined when absent or named ''. */
  opt(node: NodeJson, i: number): Val | undefined {
    const name = node.inputs[i];
    return name ? this.val(node, name) : undefined;
  }

  rt(node: NodeJson, i: number): RtVal {
    const v = this.val(node, node.inputs[i]);
    if (v.kind !== 'rt') this.fail(node, `input ${i} ("${node.inputs[i]}") must be computed from the model's input, not a constant`);
    return v;
  }

  set(name: string, v: Val): void {
    this.vals.set(name, v);
  }

  /** Output i of the node as a run-time value computed by `run`. */
  emit(node: NodeJson, shape: number[], layout: Layout, run: (env: Env) => tf.Tensor, out = 0): void {
    const name = node.outputs[out]!;
    this.vals.set(name, { kind: 'rt', shape, layout });
    this.steps.push((env) => env.set(name, run(env)));
  }

  /** The node's output is another value under a new name (Identity, Dropout at inference). */
  alias(node: NodeJson, v: Val, out = 0): void {
    const name = node.outputs[out]!;
    const src = node.inputs[0]!;
    this.vals.set(name, v);
    if (v.kind === 'rt') this.steps.push((env) => env.set(name, env.get(src)));
  }

  attr(node: NodeJson, name: string): AttrJson | undefined {
    return node.attrs.find((a) => a.name === name);
  }

  int(node: NodeJson, name: string, def: number): number {
    return this.attr(node, name)?.i ?? def;
  }

  ints(node: NodeJson, name: string): number[] | undefined {
    return this.attr(node, name)?.ints;
  }

  float(node: NodeJson, name: string, def: number): number {
    return this.attr(node, name)?.f ?? def;
  }

  str(node: NodeJson, name: string, def: string): string {
    return this.attr(node, name)?.s ?? def;
  }

  /** Constant integer input values (axes, pads, shapes), failing on run-time or symbolic ones. */
  constInts(node: NodeJson, i: number): number[] | undefined {
    const v = this.opt(node, i);
    if (!v) return undefined;
    if (v.kind === 'int' && v.values.every((x) => x !== 'N')) return v.values;
    if (v.kind === 'float') return Array.from(v.data);
    return this.fail(node, `input ${i} must be a constant (found a value computed at run time)`);
  }

  /** A constant float input as a number (Clip bounds, Dropout ratio, Pad value). */
  constScalar(node: NodeJson, i: number): number | undefined {
    const v = this.opt(node, i);
    if (!v) return undefined;
    if (v.kind === 'float' && v.data.length === 1) return v.data[0]!;
    if (v.kind === 'int' && v.values.length === 1 && v.values[0] !== 'N') return v.values[0];
    return this.fail(node, `input ${i} must be a constant scalar`);
  }

  addConstant(shape: number[], data: Float32Array): (env: Env) => tf.Tensor {
    const id = this.constants.length;
    this.constants.push({ shape, data });
    return (env) => env.constant(id);
  }

  /**
   * A float operand (weight or constant) in the layout `ops` describe. A weight read only here is
   * stored that way (no per-call work); a shared one is transformed when the program runs.
   */
  operand(node: NodeJson, v: Val, ops: WeightOp[]): { get: (env: Env) => tf.Tensor; shape: number[] } {
    if (v.kind === 'float') {
      const shape = opsShape(v.dims, ops);
      return { get: this.addConstant(shape, applyOpsHost(v.data, v.dims, ops)), shape };
    }
    if (v.kind !== 'weight') return this.fail(node, 'expected a weight or a float constant');
    const spec = this.weightSpec(v.init, v.base);
    const all = [...v.pre, ...ops];
    const shape = opsShape(v.base, all);
    if (!spec.claimed && (this.uses.get(v.init) ?? 0) <= 1) {
      spec.claimed = true;
      spec.ops = all;
      spec.shape = shape;
      return { get: (env) => env.weight(spec.key), shape };
    }
    spec.claimed = true;
    const stored = spec.ops;
    return { get: (env) => applyOpsTf(undoOpsTf(env.weight(spec.key), v.base, stored), v.base, all), shape };
  }

  /** The layer weight of an initialiser (its key, to read or assign it). */
  weightKey(init: string, dims: number[]): string {
    const spec = this.weightSpec(init, dims);
    spec.claimed = true;
    return spec.key;
  }

  /** A weight used as the untransformed variable (e.g. BatchNormalization running stats). */
  isSoleUse(init: string): boolean {
    return (this.uses.get(init) ?? 0) <= 1;
  }

  private weightSpec(init: string, dims: number[]): WeightSpec & { claimed?: boolean } {
    let spec = this.weightByInit.get(init);
    if (!spec) {
      spec = { key: `w${this.weightByInit.size}`, init, dims, shape: dims.slice(), ops: [], trainable: this.trainable.has(init) };
      this.weightByInit.set(init, spec);
      this.weights.push(spec);
    }
    return spec;
  }

  /**
   * The name of a run-time value held in physical layout `target` (a perm, or null for the
   * logical order); inserts one transpose (cached) when it is held otherwise.
   */
  inLayout(name: string, target: number[] | null): string {
    const v = this.vals.get(name) as RtVal;
    const rank = v.shape.length;
    const want = target && !isIdentityPerm(target) ? target : null;
    const cur = v.layout.perm;
    if (!v.layout.feat && (cur ?? identityPerm(rank)).join() === (want ?? identityPerm(rank)).join()) return name;
    const key = `${name}@${want?.join() ?? 'id'}`;
    const cached = this.relayouts.get(key);
    if (cached) return cached;
    const out = this.fresh(name);
    if (v.layout.feat) {
      // [N, F] in a permuted block order → logical order, then on to `want` (2-D: identity).
      const f = v.layout.feat;
      const tshape = f.perm.map((a) => f.shape[a]!);
      const q = [0, ...invertPerm(f.perm).map((a) => a + 1)];
      const size = sizeOf(f.shape);
      this.steps.push((env) => env.set(out, tf.reshape(tf.transpose(tf.reshape(env.get(name), [-1, ...tshape]), q), [-1, size])));
      this.vals.set(out, { kind: 'rt', shape: v.shape, layout: IDENTITY });
    } else {
      const curPerm = cur ?? identityPerm(rank);
      const wantPerm = want ?? identityPerm(rank);
      const q = wantPerm.map((a) => curPerm.indexOf(a));
      this.steps.push((env) => env.set(out, tf.transpose(env.get(name), q)));
      this.vals.set(out, { kind: 'rt', shape: v.shape, layout: { perm: want, feat: null } });
    }
    this.relayouts.set(key, out);
    return out;
  }

  /** Input i as an NHWC tensor name (conv, pooling, batch norm want that). */
  nhwc(node: NodeJson, i: number): { name: string; v: RtVal } {
    const v = this.rt(node, i);
    if (v.shape.length !== 4) this.fail(node, `expects a 4-D (N, C, H, W) input, got rank ${v.shape.length}`);
    const name = this.inLayout(node.inputs[i]!, NHWC_PERM);
    return { name, v: this.vals.get(name) as RtVal };
  }

  /** Input i in the logical order. */
  logical(node: NodeJson, i: number): { name: string; v: RtVal } {
    this.rt(node, i);
    const name = this.inLayout(node.inputs[i]!, null);
    return { name, v: this.vals.get(name) as RtVal };
  }

  /** The only consumer of a value, when there is exactly one (for fusing an epilogue). */
  soleConsumer(name: string): NodeJson | undefined {
    const c = this.consumers.get(name);
    return c && c.length === 1 && !this.graph.outputs.some((o) => o.name === name) ? c[0] : undefined;
  }
}

/** Physical shape of a run-time value. */
export function physShape(v: RtVal): number[] {
  return permute(v.shape, v.layout.perm);
}

function applyOpsTf(t: tf.Tensor, _dims: number[], ops: readonly WeightOp[]): tf.Tensor {
  for (const o of ops) {
    if (o.op === 'reshape') t = tf.reshape(t, o.shape);
    else if (o.op === 'transpose') t = tf.transpose(t, o.perm);
    else t = tf.gather(t, tf.tensor1d(featIndex(o.order), 'int32'), o.axis);
  }
  return t;
}

function undoOpsTf(t: tf.Tensor, dims: number[], ops: readonly WeightOp[]): tf.Tensor {
  const shapes = [dims.slice()];
  for (const o of ops) shapes.push(opsShape(shapes[shapes.length - 1]!, [o]));
  for (let k = ops.length - 1; k >= 0; k--) {
    const o = ops[k]!;
    if (o.op === 'reshape') t = tf.reshape(t, shapes[k]!);
    else if (o.op === 'transpose') t = tf.transpose(t, invertPerm(o.perm));
    else t = tf.gather(t, tf.tensor1d(invertIndex(featIndex(o.order)), 'int32'), o.axis);
  }
  return t;
}

function invertIndex(idx: Int32Array): Int32Array {
  const inv = new Int32Array(idx.length);
  idx.forEach((v, j) => (inv[v] = j));
  return inv;
}

/**
 * Which floating-point initialisers train: the parameters of the layers that have them (Conv,
 * Gemm, MatMul, BatchNormalization scale and bias, PRelu slope) and a bias added right after a
 * MatMul, Gemm or Conv. Everything else stays as exported: in-graph normalisation constants,
 * BatchNormalization's running statistics (updated by their own rule, not by the optimiser), and
 * any other constant operand (docs/models.md, "What trains").
 */
function trainableInitializers(g: GraphJson): Set<string> {
  const producer = new Map<string, NodeJson>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const out = new Set<string>();
  const add = (name: string | undefined) => {
    if (name) out.add(name);
  };
  for (const n of g.nodes) {
    switch (n.opType) {
      case 'Conv':
      case 'Gemm':
      case 'MatMul':
        n.inputs.forEach(add);
        break;
      case 'BatchNormalization':
        add(n.inputs[1]);
        add(n.inputs[2]);
        break;
      case 'PRelu':
        add(n.inputs[1]);
        break;
      case 'Add': {
        const [a, b] = n.inputs;
        const bias = (x: string | undefined) => ['MatMul', 'Gemm', 'Conv'].includes(producer.get(x ?? '')?.opType ?? '');
        if (bias(a)) add(b);
        if (bias(b)) add(a);
        break;
      }
    }
  }
  return out;
}

/** Follows Identity/Dropout nodes back from a value to the node that really produces it. */
function producerThrough(g: GraphJson, name: string): NodeJson | undefined {
  const producer = new Map<string, NodeJson>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  let n = producer.get(name);
  while (n && (n.opType === 'Identity' || n.opType === 'Dropout')) n = producer.get(n.inputs[0] ?? '');
  return n;
}

/**
 * The value the engine treats as the logits: the graph's output, or, when the graph ends in
 * Softmax or LogSoftmax over the classes, that node's input (the trace term and every FIM
 * statistic are computed from logits, design §1).
 */
export function logitsValue(g: GraphJson): { name: string; note: string | null } {
  const out = g.outputs[0]!.name;
  const last = producerThrough(g, out);
  if (last && (last.opType === 'Softmax' || last.opType === 'LogSoftmax')) {
    return {
      name: last.inputs[0]!,
      note: `the model ends in ${last.opType} ("${last.name}"); the engine trains and attacks the logits before it, and export keeps it`,
    };
  }
  return { name: out, note: null };
}

/** The nodes the logits depend on, in graph order (the rest is not run). */
function neededNodes(g: GraphJson, output: string): NodeJson[] {
  const producer = new Map<string, NodeJson>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const needed = new Set<NodeJson>();
  const stack = [output];
  while (stack.length) {
    const n = producer.get(stack.pop()!);
    if (!n || needed.has(n)) continue;
    needed.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  return g.nodes.filter((n) => needed.has(n));
}

/** The ONNX input's logical shape for the engine's NHWC images [H, W, C]. */
export function inputDims(layout: InputLayout, image: [number, number, number]): number[] {
  const [h, w, c] = image;
  return layout === 'nchw' ? [c, h, w] : [h, w, c];
}

/** Compiles the graph for images of `imageShape` ([H, W, C]). */
export function compileGraph(graph: GraphJson, options: CompileOptions, imageShape: [number, number, number]): Program {
  const c = new GraphCompiler(graph, options);
  const input = graph.inputs[0]!;
  const [h, w, ch] = imageShape;
  // The engine always feeds NHWC pixels in [0, 1]; for an NCHW graph that tensor *is* the
  // logical NCHW input in the NHWC physical layout, so no transpose is needed at all.
  const raw = c.fresh(input.name);
  let feed = raw;
  if (options.normalize) {
    const { mean, std } = options.normalize;
    const k = (v: number[]) => (v.length === 1 ? new Array<number>(ch).fill(v[0]!) : v);
    const m = c.addConstant([ch], Float32Array.from(k(mean)));
    const s = c.addConstant([ch], Float32Array.from(k(std).map((v) => 1 / v)));
    feed = c.fresh(input.name);
    const out = feed;
    c.steps.push((env) => env.set(out, tf.mul(tf.sub(env.get(raw), m(env)), s(env))));
  }
  const logical = options.inputLayout === 'nchw' ? [-1, ch, h, w] : [-1, h, w, ch];
  c.set(input.name, { kind: 'rt', shape: logical, layout: { perm: options.inputLayout === 'nchw' ? NHWC_PERM : null, feat: null } });
  c.steps.push((env) => env.set(input.name, env.get(feed)));
  const logits = logitsValue(graph);
  if (logits.note) c.notes.push(logits.note);
  for (const node of neededNodes(graph, logits.name)) {
    if (c.fused.has(node)) continue;
    const handler = isSupportedOp(node) ? HANDLERS.get(node.opType) : undefined;
    if (!handler) throw new OnnxImportError(`node "${node.name}" has the unsupported operator ${node.opType}`);
    handler(c, node);
  }
  // Initialisers the logits do not use still belong to the model (export writes them back).
  for (const init of graph.initializers) if (FLOAT_TYPES.has(init.dataType) && !init.values) c.weightKey(init.name, init.dims);
  const out = c.vals.get(logits.name);
  if (!out || out.kind !== 'rt') throw new OnnxImportError(`the model's output "${logits.name}" does not depend on its input`);
  if (out.shape.length !== 2)
    throw new OnnxImportError(
      `the model's output "${logits.name}" has shape [${out.shape.map((d) => (d < 0 ? 'N' : d)).join(', ')}]; FIM Inspector needs [batch, classes] logits`,
    );
  const final = c.inLayout(logits.name, null);
  return {
    steps: c.steps,
    weights: c.weights.map(({ key, init, dims, shape, ops, trainable }) => ({ key, init, dims, shape, ops, trainable })),
    constants: c.constants,
    input: raw,
    output: final,
    imageShape,
    numClasses: out.shape[1]!,
    notes: c.notes,
  };
}
