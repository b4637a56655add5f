import * as fs from 'node:fs';
import * as path from 'node:path';
import { AttributeType, DataType, encodeModel } from '../../../src/engine/onnx/onnxSchema';
import { modelFromGraph, type AttrJson, type GraphJson, type InitJson, type NodeJson } from '../../../src/engine/onnx/graph';
import { randomArray, tmpDir } from '../../helpers';

/**
 * Hand-built ONNX graphs for the operator tests: any opset (PyTorch 1.13 here writes at most
 * 17), written with the importer's own encoder and checked by onnxruntime, which validates the
 * model before it runs it.
 */
export const attr = {
  int: (name: string, i: number): AttrJson => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: number[]): AttrJson => ({ name, type: AttributeType.INTS, ints }),
  float: (name: string, f: number): AttrJson => ({ name, type: AttributeType.FLOAT, f }),
  str: (name: string, s: string): AttrJson => ({ name, type: AttributeType.STRING, s }),
};

export class GraphBuilder {
  readonly nodes: NodeJson[] = [];
  readonly inits: InitJson[] = [];
  readonly weights = new Map<string, Float32Array>();
  private n = 0;
  private seed = 1;

  constructor(
    readonly opset: number,
    /** The engine's image [H, W, C]; the ONNX input is NCHW unless `nhwc`. */
    readonly image: [number, number, number],
    readonly nhwc = false,
    /** A fixed batch size in the input's declared shape (an export without dynamic_axes). */
    readonly fixedBatch: number | null = null,
  ) {}

  get input(): string {
    return 'x';
  }

  node(op: string, inputs: string[], attrs: AttrJson[] = [], outputs = 1): string {
    const out = Array.from({ length: outputs }, () => `t${++this.n}`);
    this.nodes.push({ opType: op, name: `${op.toLowerCase()}_${this.n}`, inputs, outputs: out, attrs });
    return out[0]!;
  }

  weight(dims: number[], scale = 0.5, offset = 0): string {
    const name = `w${++this.n}`;
    const size = dims.reduce((a, b) => a * b, 1);
    this.weights.set(
      name,
      Float32Array.from(randomArray(size, ++this.seed * 7919, -scale, scale), (v) => v + offset),
    );
    this.inits.push({ name, dims, dataType: DataType.FLOAT });
    return name;
  }

  ints(values: number[], dims = [values.length]): string {
    const name = `i${++this.n}`;
    this.inits.push({ name, dims, dataType: DataType.INT64, values });
    return name;
  }

  scalar(v: number): string {
    const name = `s${++this.n}`;
    this.weights.set(name, Float32Array.of(v));
    this.inits.push({ name, dims: [], dataType: DataType.FLOAT });
    return name;
  }

  /** Flatten → Gemm to `classes` logits, then the graph. */
  head(x: string, features: number, classes = 5): string {
    const f = this.node('Flatten', [x], [attr.int('axis', 1)]);
    return this.node('Gemm', [f, this.weight([classes, features], 0.3), this.weight([classes], 0.1)], [attr.int('transB', 1)]);
  }

  graph(output: string, classes = 5): GraphJson {
    const [h, w, c] = this.image;
    const last = this.nodes.find((n) => n.outputs.includes(output))!;
    last.outputs = last.outputs.map((o) => (o === output ? 'y' : o));
    for (const n of this.nodes) n.inputs = n.inputs.map((i) => (i === output ? 'y' : i));
    return {
      irVersion: 8,
      opsets: [{ domain: '', version: this.opset }],
      name: 'test',
      inputs: [{ name: 'x', elemType: DataType.FLOAT, dims: [this.fixedBatch ?? 'batch', ...(this.nhwc ? [h, w, c] : [c, h, w])] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, dims: [this.fixedBatch ?? 'batch', classes] }],
      nodes: this.nodes,
      initializers: this.inits,
    };
  }

  /** Writes the model; returns its path and bytes. */
  write(output: string, classes = 5, name = 'graph'): { file: string; bytes: Uint8Array } {
    const bytes = encodeModel(modelFromGraph(this.graph(output, classes), this.weights));
    const file = path.join(tmpDir('fim-onnx-'), `${name}.onnx`);
    fs.writeFileSync(file, bytes);
    return { file, bytes };
  }
}
