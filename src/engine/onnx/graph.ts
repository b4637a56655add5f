import { deflateSync, inflateSync } from 'node:zlib';
import { AttributeType, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './onnxSchema';
import { hostTensor, tensorProto, type HostTensor } from './tensor';

/**
 * An ONNX model as the engine keeps it: the graph's structure in plain JSON, without the values
 * of its floating-point initialisers (those are the layer's weights). It is what the ONNX graph
 * layer's config holds, so a checkpoint (tfjs Layers model.json + weights.bin) is self-contained,
 * and what export turns back into the same ModelProto with the run's weights.
 */
export interface GraphJson {
  irVersion: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  metadata?: { key: string; value: string }[];
  opsets: { domain: string; version: number }[];
  name: string;
  inputs: ValueJson[];
  outputs: ValueJson[];
  nodes: NodeJson[];
  initializers: InitJson[];
}

export interface ValueJson {
  name: string;
  elemType: number;
  /** A number, a symbolic name (dim_param), or null for an unknown dimension. */
  dims: (number | string | null)[] | null;
}

export interface TensorJson {
  dims: number[];
  dataType: number;
  values: number[];
}

export interface AttrJson {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: string;
  t?: TensorJson;
  floats?: number[];
  ints?: number[];
  strings?: string[];
}

export interface NodeJson {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: AttrJson[];
}

/** An initialiser: floating-point ones are weights (values in the layer), others carry their values here. */
export interface InitJson {
  name: string;
  dims: number[];
  dataType: number;
  values?: number[];
}

const latin1 = new TextDecoder('latin1');

function tensorJson(t: HostTensor): TensorJson {
  return { dims: t.dims, dataType: t.dataType, values: Array.from(t.data) };
}

function attrJson(a: AttributeProto, modelFile: string): AttrJson {
  const out: AttrJson = { name: a.name ?? '', type: a.type ?? AttributeType.UNDEFINED };
  switch (out.type) {
    case AttributeType.FLOAT:
      out.f = a.f ?? 0;
      break;
    case AttributeType.INT:
      out.i = a.i ?? 0;
      break;
    case AttributeType.STRING:
      out.s = latin1.decode(a.s ?? new Uint8Array());
      break;
    case AttributeType.TENSOR:
      out.t = tensorJson(hostTensor(a.t ?? {}, modelFile));
      break;
    case AttributeType.FLOATS:
      out.floats = a.floats ?? [];
      break;
    case AttributeType.INTS:
      out.ints = a.ints ?? [];
      break;
    case AttributeType.STRINGS:
      out.strings = (a.strings ?? []).map((s) => latin1.decode(s));
      break;
    default:
      // Graph, sparse-tensor and type attributes belong to operators the engine does not run;
      // the operator check reports those nodes by name.
      break;
  }
  return out;
}

function valueJson(v: ValueInfoProto): ValueJson {
  const t = v.type?.tensor_type;
  return {
    name: v.name ?? '',
    elemType: t?.elem_type ?? 0,
    dims: t?.shape ? (t.shape.dim ?? []).map((d) => (d.dim_value !== undefined ? d.dim_value : (d.dim_param ?? null))) : null,
  };
}

export function nodeJson(n: NodeProto, modelFile: string): NodeJson {
  return {
    opType: n.op_type ?? '',
    ...(n.domain ? { domain: n.domain } : {}),
    name: n.name ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attrs: (n.attribute ?? []).map((a) => attrJson(a, modelFile)),
  };
}

/** The graph's structure; floating-point initialisers are returned apart as their values. */
export function graphFromModel(m: ModelProto, g: GraphProto, initValues: Map<string, HostTensor>, modelFile: string): GraphJson {
  const inits = new Set(initValues.keys());
  const nodes = (g.node ?? []).map((n) => nodeJson(n, modelFile));
  const settings = settingInitializers(nodes, initValues);
  const initializers: InitJson[] = [];
  for (const [name, t] of initValues) {
    const inline = !(t.data instanceof Float32Array) || settings.has(name);
    initializers.push(
      inline ? { name, dims: t.dims, dataType: t.dataType, values: Array.from(t.data) } : { name, dims: t.dims, dataType: t.dataType },
    );
  }
  return {
    irVersion: m.ir_version ?? 0,
    ...(m.producer_name ? { producerName: m.producer_name } : {}),
    ...(m.producer_version ? { producerVersion: m.producer_version } : {}),
    ...(m.domain ? { domain: m.domain } : {}),
    ...(m.model_version ? { modelVersion: m.model_version } : {}),
    ...(m.doc_string ? { docString: m.doc_string } : {}),
    ...(m.metadata_props?.length ? { metadata: m.metadata_props.map((p) => ({ key: p.key ?? '', value: p.value ?? '' })) } : {}),
    opsets: (m.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: o.version ?? 0 })),
    name: g.name ?? '',
    // Old exporters list initialisers among the inputs too; those are not inputs of the model.
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(valueJson),
    outputs: (g.output ?? []).map(valueJson),
    nodes,
    initializers,
  };
}

/** Operator inputs that are settings (bounds, ratios, pad values, exponents), not parameters. */
const SETTING_INPUTS: Record<string, number[]> = { Clip: [1, 2], Pad: [2], Dropout: [1], Pow: [1] };

/**
 * Float initialisers used only as settings: they stay in the graph's structure (the compiler needs
 * their values), while every other float initialiser is a weight of the layer.
 */
function settingInitializers(nodes: NodeJson[], values: Map<string, HostTensor>): Set<string> {
  const uses = new Map<string, boolean>();
  for (const n of nodes)
    n.inputs.forEach((name, i) => {
      if (!values.has(name)) return;
      const setting = SETTING_INPUTS[n.opType]?.includes(i) ?? false;
      uses.set(name, (uses.get(name) ?? true) && setting);
    });
  return new Set([...uses].filter(([, s]) => s).map(([k]) => k));
}

/** The default-domain opset the graph was written for. */
export function defaultOpset(g: Pick<GraphJson, 'opsets'>): number {
  return g.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/**
 * tfjs-layers rewrites the case of every string in a layer's config when it saves and loads a
 * model (snake_case ⇄ camelCase), which would corrupt tensor names. The graph therefore travels
 * as deflated JSON in lowercase hex, which both conversions leave alone.
 */
export function packJson(value: unknown): string {
  return deflateSync(Buffer.from(JSON.stringify(value), 'utf8')).toString('hex');
}

export function unpackJson<T>(hex: string): T {
  return JSON.parse(inflateSync(Buffer.from(hex, 'hex')).toString('utf8')) as T;
}

const latin1Bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function attrProto(a: AttrJson): AttributeProto {
  const out: AttributeProto = { name: a.name, type: a.type };
  if (a.f !== undefined) out.f = a.f;
  if (a.i !== undefined) out.i = a.i;
  if (a.s !== undefined) out.s = latin1Bytes(a.s);
  if (a.t) out.t = tensorProto('', a.t.dims, a.t.dataType, a.t.values);
  if (a.floats) out.floats = a.floats;
  if (a.ints) out.ints = a.ints;
  if (a.strings) out.strings = a.strings.map(latin1Bytes);
  return out;
}

function valueProto(v: ValueJson): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        ...(v.dims
          ? { shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : d === null ? {} : { dim_param: d })) } }
          : {}),
      },
    },
  };
}

/** The ModelProto of a graph, with each floating-point initialiser's values from `weights` (ONNX layout). */
export function modelFromGraph(g: GraphJson, weights: Map<string, Float32Array>): ModelProto {
  return {
    ir_version: g.irVersion,
    ...(g.producerName ? { producer_name: g.producerName } : {}),
    ...(g.producerVersion ? { producer_version: g.producerVersion } : {}),
    ...(g.domain ? { domain: g.domain } : {}),
    ...(g.modelVersion ? { model_version: g.modelVersion } : {}),
    ...(g.docString ? { doc_string: g.docString } : {}),
    opset_import: g.opsets.map((o) => ({ ...(o.domain ? { domain: o.domain } : {}), version: o.version })),
    ...(g.metadata ? { metadata_props: g.metadata } : {}),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        input: n.inputs,
        output: n.outputs,
        name: n.name,
        op_type: n.opType,
        ...(n.domain ? { domain: n.domain } : {}),
        attribute: n.attrs.map(attrProto),
      })),
      initializer: g.initializers.map((i) => {
        const values = i.values ?? weights.get(i.name);
        if (!values) throw new Error(`no values for initializer ${i.name}`);
        return tensorProto(i.name, i.dims, i.dataType, values);
      }),
      input: g.inputs.map(valueProto),
      output: g.outputs.map(valueProto),
    },
  };
}
