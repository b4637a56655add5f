import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { OnnxGraphLayer } from '../layers/onnxGraph';
import { OnnxImportError } from '../onnx/errors';
import { invertOpsHost, transposeHost } from '../onnx/layout';
import { modelFromGraph } from '../onnx/graph';
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/onnxSchema';
import { tensorProto } from '../onnx/tensor';
import type { ModelImportOptions } from '../../runs/types';
import type { LayerJson, TopologyJson } from './builtin';
import pkg from '../../../package.json';

/** The opset a converted (not imported) model is written for: what onnxruntime and PyTorch read everywhere. */
export const EXPORT_OPSET = 13;

export interface OnnxExport {
  bytes: Uint8Array;
  /** 'imported': the original graph with the run's weights; 'converted': built from tfjs layers. */
  kind: 'imported' | 'converted';
  inputName: string;
  outputName: string;
  inputShape: (number | string | null)[];
  opset: number;
  /** How the importer reads the file back as the same model (the self-check of exportRun). */
  readBack: ModelImportOptions;
  notes: string[];
}

function layerWeights(layer: tfl.layers.Layer): Map<string, Float32Array> {
  // read() returns the variable itself: read its data, never dispose it.
  const out = new Map<string, Float32Array>();
  for (const w of layer.weights) out.set(w.originalName.split('/').pop()!, w.read().dataSync() as Float32Array);
  return out;
}

/** An imported model: its own graph, names, layout and opset, with the run's (trained) weights. */
function exportImported(layer: OnnxGraphLayer): OnnxExport {
  const stored = layerWeights(layer);
  const weights = new Map<string, Float32Array>();
  for (const w of layer.program.weights) weights.set(w.init, invertOpsHost(stored.get(w.key)!, w.dims, w.ops));
  const g = layer.spec.graph;
  const m = modelFromGraph(g, weights);
  return {
    bytes: encodeModel(m),
    kind: 'imported',
    inputName: g.inputs[0]!.name,
    outputName: g.outputs[0]!.name,
    inputShape: g.inputs[0]!.dims ?? [],
    opset: g.opsets.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0,
    readBack: {
      inputLayout: layer.spec.options.inputLayout,
      ...(layer.spec.options.normalize ? { normalize: layer.spec.options.normalize } : {}),
    },
    notes: [],
  };
}

const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
const attrInt = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });

function inputShapeOf(layer: tfl.layers.Layer): (number | null)[] {
  const input = layer.input;
  return (Array.isArray(input) ? input[0]! : input).shape;
}

/** TensorFlow's 'same' padding for one spatial axis: [before, after]. */
function samePads(len: number, k: number, s: number, d: number): [number, number] {
  const keff = (k - 1) * d + 1;
  const total = Math.max(0, (Math.ceil(len / s) - 1) * s + keff - len);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

const pair = (v: unknown, def: number): [number, number] =>
  Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : v === undefined || v === null ? [def, def] : [Number(v), Number(v)];

/**
 * A tfjs Layers model (the built-in ConvNet, VGG-11, ResNet-14, or a user's model.json from the
 * same layers) as an NCHW ONNX graph, as PyTorch would write it: Conv kernels OIHW, BatchNorm
 * over axis 1, and a Transpose to NHWC order before each Flatten so the Dense rows keep Keras's
 * order. Its output is the logits.
 */
function exportConverted(model: tfl.LayersModel, inputLayout: 'nchw' | 'nhwc'): OnnxExport {
  const topology = model.toJSON(null, false) as unknown as TopologyJson;
  const layers = topology.config.layers ?? [];
  const sequential = topology.class_name === 'Sequential';
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const unsupported: string[] = [];
  const inShape = model.inputs[0]!.shape.slice(1) as number[];
  const [H, W, C] = inShape as [number, number, number];
  const inputName = 'input';
  let prev = inputName;
  if (inputLayout === 'nhwc') {
    nodes.push({
      op_type: 'Transpose',
      name: 'input_to_nchw',
      input: [inputName],
      output: ['input_nchw'],
      attribute: [attrInts('perm', [0, 3, 1, 2])],
    });
    prev = 'input_nchw';
  }
  const outputOf = new Map<string, string>();
  const nameOf = (l: LayerJson) => (l.config.name as string | undefined) ?? l.name ?? '';
  const init = (name: string, dims: number[], data: Float32Array) => {
    inits.push(tensorProto(name, dims, DataType.FLOAT, data));
    return name;
  };
  const activation = (name: string, act: unknown, x: string): string => {
    const a = typeof act === 'string' ? act : 'linear';
    if (a === 'linear') return x;
    const op = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax' }[a];
    if (!op) {
      unsupported.push(`activation ${a} (${name})`);
      return x;
    }
    const out = `${name}_${a}`;
    nodes.push({
      op_type: op,
      name: `${name}/${op}`,
      input: [x],
      output: [out],
      ...(op === 'Softmax' ? { attribute: [attrInt('axis', 1)] } : {}),
    });
    return out;
  };
  for (const l of layers) {
    const name = nameOf(l);
    const layer = model.getLayer(name);
    const inputs = sequential
      ? [prev]
      : ((l.inbound_nodes?.[0] as unknown[][] | undefined) ?? []).map((ref) => outputOf.get(String(ref[0])) ?? inputName);
    const x = inputs[0] ?? prev;
    const cfg = l.config;
    const w = () => layerWeights(layer);
    const shapeIn = inputShapeOf(layer).slice(1) as number[];
    let out = name;
    switch (l.class_name) {
      case 'InputLayer':
        out = prev;
        break;
      case 'Conv2D': {
        const ws = w();
        const [kh, kw, ci, co] = layer.getWeights()[0]!.shape as [number, number, number, number];
        const [sh, sw] = pair(cfg.strides, 1);
        const [dh, dw] = pair(cfg.dilation_rate, 1);
        const pads =
          cfg.padding === 'same'
            ? (() => {
                const [t, b] = samePads(shapeIn[0]!, kh, sh, dh);
                const [lft, r] = samePads(shapeIn[1]!, kw, sw, dw);
                return [t, lft, b, r];
              })()
            : [0, 0, 0, 0];
        const kernel = init(`${name}.weight`, [co, ci, kh, kw], transposeHost(ws.get('kernel')!, [kh, kw, ci, co], [3, 2, 0, 1]));
        const inputsConv = [x, kernel];
        if (ws.has('bias')) inputsConv.push(init(`${name}.bias`, [co], ws.get('bias')!));
        nodes.push({
          op_type: 'Conv',
          name,
          input: inputsConv,
          output: [name],
          attribute: [
            attrInts('kernel_shape', [kh, kw]),
            attrInts('strides', [sh, sw]),
            attrInts('dilations', [dh, dw]),
            attrInts('pads', pads),
            attrInt('group', 1),
          ],
        });
        out = activation(name, cfg.activation, name);
        break;
      }
      case 'BatchNormalization': {
        const ws = w();
        const axis = Number(cfg.axis ?? -1);
        const rank = inputShapeOf(layer).length;
        if (axis !== -1 && axis !== rank - 1) unsupported.push(`BatchNormalization over axis ${axis} (${name})`);
        const ch = ws.get('moving_mean')!.length;
        const ones = new Float32Array(ch).fill(1);
        nodes.push({
          op_type: 'BatchNormalization',
          name,
          input: [
            x,
            init(`${name}.weight`, [ch], ws.get('gamma') ?? ones),
            init(`${name}.bias`, [ch], ws.get('beta') ?? new Float32Array(ch)),
            init(`${name}.running_mean`, [ch], ws.get('moving_mean')!),
            init(`${name}.running_var`, [ch], ws.get('moving_variance')!),
          ],
          output: [name],
          attribute: [attrFloat('epsilon', Number(cfg.epsilon ?? 1e-3)), attrFloat('momentum', Number(cfg.momentum ?? 0.99))],
        });
        break;
      }
      case 'ReLU':
        nodes.push({ op_type: 'Relu', name, input: [x], output: [name] });
        break;
      case 'Activation':
        out = activation(name, cfg.activation, x);
        break;
      case 'Dropout':
      case 'SpatialDropout2D':
        out = x;
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const [kh, kw] = pair(cfg.pool_size, 2);
        const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, 2);
        const pads =
          cfg.padding === 'same'
            ? (() => {
                const [t, b] = samePads(shapeIn[0]!, kh, sh, 1);
                const [lft, r] = samePads(shapeIn[1]!, kw, sw, 1);
                return [t, lft, b, r];
              })()
            : [0, 0, 0, 0];
        const max = l.class_name === 'MaxPooling2D';
        nodes.push({
          op_type: max ? 'MaxPool' : 'AveragePool',
          name,
          input: [x],
          output: [name],
          attribute: [
            attrInts('kernel_shape', [kh, kw]),
            attrInts('strides', [sh, sw]),
            attrInts('pads', pads),
            ...(max ? [] : [attrInt('count_include_pad', 0)]),
          ],
        });
        break;
      }
      case 'GlobalAveragePooling2D':
        nodes.push({ op_type: 'GlobalAveragePool', name: `${name}/pool`, input: [x], output: [`${name}_pool`] });
        nodes.push({ op_type: 'Flatten', name, input: [`${name}_pool`], output: [name], attribute: [attrInt('axis', 1)] });
        break;
      case 'Flatten': {
        // Keras flattens in H, W, C order: transpose the NCHW tensor back first.
        const rank = inputShapeOf(layer).length;
        let src = x;
        if (rank === 4) {
          nodes.push({
            op_type: 'Transpose',
            name: `${name}/to_nhwc`,
            input: [x],
            output: [`${name}_nhwc`],
            attribute: [attrInts('perm', [0, 2, 3, 1])],
          });
          src = `${name}_nhwc`;
        }
        nodes.push({ op_type: 'Flatten', name, input: [src], output: [name], attribute: [attrInt('axis', 1)] });
        break;
      }
      case 'Dense': {
        const ws = w();
        const kernel = ws.get('kernel')!;
        const units = Number(cfg.units);
        const inDim = kernel.length / units;
        const gemmIn = [x, init(`${name}.weight`, [inDim, units], kernel)];
        if (ws.has('bias')) gemmIn.push(init(`${name}.bias`, [units], ws.get('bias')!));
        nodes.push({ op_type: 'Gemm', name, input: gemmIn, output: [name], attribute: [] });
        out = activation(name, cfg.activation, name);
        break;
      }
      case 'Add':
        nodes.push({ op_type: 'Add', name, input: inputs.slice(0, 2), output: [inputs.length > 2 ? `${name}_0` : name] });
        for (let i = 2; i < inputs.length; i++)
          nodes.push({
            op_type: 'Add',
            name: `${name}_${i - 1}`,
            input: [`${name}_${i - 2}`, inputs[i]!],
            output: [i === inputs.length - 1 ? name : `${name}_${i - 1}`],
          });
        break;
      default:
        unsupported.push(`${l.class_name} (${name})`);
    }
    outputOf.set(name, out);
    prev = out;
  }
  if (unsupported.length) throw new OnnxImportError(`the model cannot be converted to ONNX: unsupported layers ${unsupported.join(', ')}`);
  const last = sequential ? prev : outputOf.get(String((topology.config.output_layers as unknown[][])[0]![0]))!;
  // The output is called "logits"; a layer may already be (the built-ins' last Dense is).
  const taken = new Set(nodes.flatMap((n) => [...(n.output ?? []), n.name ?? '']));
  let outputName = 'logits';
  if (last !== outputName) {
    while (taken.has(outputName)) outputName = `${outputName}_`;
    nodes.push({ op_type: 'Identity', name: `${outputName}/identity`, input: [last], output: [outputName] });
  }
  const k = model.outputs[0]!.shape[1] as number;
  const dims = inputLayout === 'nchw' ? [C, H, W] : [H, W, C];
  const m: ModelProto = {
    ir_version: 7,
    producer_name: 'FIM Inspector',
    producer_version: pkg.version,
    opset_import: [{ version: EXPORT_OPSET }],
    graph: {
      name: topology.config.name ?? 'model',
      node: nodes,
      initializer: inits,
      input: [
        {
          name: inputName,
          type: {
            tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'batch' }, ...dims.map((d) => ({ dim_value: d }))] } },
          },
        },
      ],
      output: [
        {
          name: outputName,
          type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'batch' }, { dim_value: k }] } } },
        },
      ],
    },
  };
  return {
    bytes: encodeModel(m),
    kind: 'converted',
    inputName,
    outputName,
    inputShape: ['batch', ...dims],
    opset: EXPORT_OPSET,
    readBack: { inputLayout },
    notes: ['the graph outputs logits (no softmax); pixels are expected in [0, 1]'],
  };
}

/** A run's model as ONNX (see docs/models.md, "Export"). */
export function modelToOnnx(model: tfl.LayersModel, opts: { inputLayout?: 'nchw' | 'nhwc' } = {}): OnnxExport {
  const graphLayers = model.layers.filter((l): l is OnnxGraphLayer => l instanceof OnnxGraphLayer);
  if (graphLayers.length === 1 && model.layers.length <= 2) {
    const e = exportImported(graphLayers[0]!);
    if (opts.inputLayout && opts.inputLayout !== graphLayers[0]!.spec.options.inputLayout)
      e.notes.push(
        `--input-layout is ignored for an imported model: its graph keeps its own ${graphLayers[0]!.spec.options.inputLayout.toUpperCase()} input`,
      );
    if (graphLayers[0]!.spec.options.normalize)
      e.notes.push('the model was imported with --normalize: the exported graph, like the original, expects normalised input');
    return e;
  }
  return exportConverted(model, opts.inputLayout ?? 'nchw');
}

export function writeOnnx(file: string, e: OnnxExport): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, e.bytes);
  fs.renameSync(tmp, file);
}
