import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSupportedOp } from './compile';
import { OnnxImportError } from './errors';
import { defaultOpset, graphFromModel, type GraphJson, type NodeJson } from './graph';
import { DataType, decodeModel, type ModelProto } from './onnxSchema';
import { ProtobufError } from './protobuf';
import { hostTensor, QUANTISED_TYPES, typeName, type HostTensor } from './tensor';
import './ops';

/** An ONNX file read and checked: its graph's structure and the values of its float initialisers. */
export interface OnnxModel {
  file: string;
  graph: GraphJson;
  /** Float initialisers by name, ONNX layout, converted to float32. */
  weights: Map<string, Float32Array>;
  opset: number;
  notes: string[];
}

/** The opsets whose PyTorch exports the importer is tested on; others get a note. */
export const TESTED_OPSETS = { min: 11, max: 18 } as const;

const QUANTISED_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'ConvInteger',
  'MatMulInteger',
]);

function decode(file: string, bytes: Uint8Array): ModelProto {
  let m: ModelProto;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    const why = e instanceof ProtobufError ? `${e.message}; the file is truncated or not ONNX` : (e as Error).message;
    throw new OnnxImportError(`${file}: not a readable ONNX model (${why})`);
  }
  if (!m.graph || !m.graph.node?.length || !m.ir_version)
    throw new OnnxImportError(
      `${file}: not an ONNX model (no graph with nodes and IR version); export one with torch.onnx.export or tf2onnx`,
    );
  return m;
}

function describeNodes(nodes: NodeJson[]): string {
  const byOp = new Map<string, string[]>();
  for (const n of nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    (byOp.get(key) ?? byOp.set(key, []).get(key)!).push(n.name || '(unnamed)');
  }
  return [...byOp]
    .map(([op, names]) => `${op} (${names.length > 5 ? `${names.slice(0, 5).join(', ')}, … ${names.length} nodes` : names.join(', ')})`)
    .join('; ');
}

/**
 * Reads an ONNX file. Every refusal is an OnnxImportError naming the file and saying what to do:
 * not ONNX or truncated, quantised, an unsupported operator (all of them listed, with node names
 * and the opset), more than one input or output, a non-float input.
 */
export function readOnnx(fileArg: string): OnnxModel {
  const file = path.resolve(fileArg);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OnnxImportError(code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot be read (${(e as Error).message})`);
  }
  const m = decode(file, new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  const g = m.graph!;
  const notes: string[] = [];
  if (g.sparse_initializer?.length) throw new OnnxImportError(`${file}: sparse initialisers are not supported`);
  const quantisedNodes = (g.node ?? []).filter((n) => QUANTISED_OPS.has(n.op_type ?? ''));
  const quantisedInits = (g.initializer ?? []).filter((t) => QUANTISED_TYPES.has(t.data_type ?? 0));
  if (quantisedNodes.length || quantisedInits.length) {
    const what = quantisedNodes.length
      ? `operators ${[...new Set(quantisedNodes.map((n) => n.op_type))].join(', ')}`
      : `${typeName(quantisedInits[0]!.data_type)} initialisers (${quantisedInits.length})`;
    throw new OnnxImportError(`${file}: a quantised model (${what}) cannot be imported; export the float model instead`);
  }
  const root = { dir: path.dirname(file), modelFile: file };
  const values = new Map<string, HostTensor>();
  for (const t of g.initializer ?? []) values.set(t.name ?? '', hostTensor(t, file, root));
  const graph = graphFromModel(m, g, values, file);
  const opset = defaultOpset(graph);
  if (!opset) throw new OnnxImportError(`${file}: the model imports no default-domain opset`);
  if (opset < 7) throw new OnnxImportError(`${file}: opset ${opset} is too old; re-export with opset ${TESTED_OPSETS.min} or later`);
  if (opset < TESTED_OPSETS.min || opset > TESTED_OPSETS.max)
    notes.push(`opset ${opset} is outside the tested range ${TESTED_OPSETS.min}–${TESTED_OPSETS.max}`);
  const unsupported = graph.nodes.filter((n) => !isSupportedOp(n));
  if (unsupported.length)
    throw new OnnxImportError(
      `${file} (opset ${opset}) uses operators FIM Inspector does not support: ${describeNodes(unsupported)}. See docs/models.md for the supported list`,
    );
  if (graph.inputs.length !== 1)
    throw new OnnxImportError(
      `${file} has ${graph.inputs.length} inputs (${graph.inputs.map((i) => i.name).join(', ')}); FIM Inspector needs one image input`,
    );
  if (graph.outputs.length !== 1)
    throw new OnnxImportError(
      `${file} has ${graph.outputs.length} outputs (${graph.outputs.map((o) => o.name).join(', ')}); FIM Inspector needs one logits output: export only the classifier's output`,
    );
  const input = graph.inputs[0]!;
  if (input.elemType !== DataType.FLOAT && input.elemType !== DataType.FLOAT16)
    throw new OnnxImportError(
      `${file}: input "${input.name}" is of type ${typeName(input.elemType)}; FIM Inspector needs a float image input`,
    );
  deAlias(graph, values);
  const weights = new Map<string, Float32Array>();
  const inline = new Set(graph.initializers.filter((i) => i.values).map((i) => i.name));
  for (const [name, t] of values) if (t.data instanceof Float32Array && !inline.has(name)) weights.set(name, t.data);
  return { file, graph, weights, opset, notes };
}

/**
 * An Identity whose input is an initialiser becomes an initialiser of its own (a copy). PyTorch
 * writes such nodes when two buffers hold equal values (a fresh BatchNorm's running variance
 * equals its weight): left as an alias, training the weight would also move the statistics.
 */
function deAlias(graph: GraphJson, values: Map<string, HostTensor>): void {
  const inits = new Map(graph.initializers.map((i) => [i.name, i]));
  graph.nodes = graph.nodes.filter((n) => {
    const src = n.opType === 'Identity' ? inits.get(n.inputs[0] ?? '') : undefined;
    const out = n.outputs[0];
    if (!src || !out || graph.outputs.some((o) => o.name === out)) return true;
    const t = values.get(src.name)!;
    const copy: HostTensor = { dims: t.dims.slice(), dataType: t.dataType, data: t.data.slice() };
    values.set(out, copy);
    const init = { ...src, name: out, dims: copy.dims };
    graph.initializers.push(init);
    inits.set(out, init);
    return false;
  });
}
