import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { compileGraph, type CompileOptions, type Env, type Program } from '../onnx/compile';
import { packJson, unpackJson, type GraphJson } from '../onnx/graph';
import '../onnx/ops';

/** What the layer's config holds (packed, see graph.ts packJson). */
export interface OnnxLayerSpec {
  graph: GraphJson;
  options: CompileOptions;
  /** The engine's input images [H, W, C]. */
  imageShape: [number, number, number];
}

interface LayerVariableLike {
  read(): tf.Tensor;
  write(t: tf.Tensor): void;
}

/**
 * An imported ONNX graph as one tfjs-layers layer: it owns the graph's float initialisers as its
 * weights (trainable or not, compile.ts decides) and runs the compiled program on NHWC images.
 * Everything downstream (trainer, checkpoints, FIM statistics, attacks) sees an ordinary
 * LayersModel; a checkpoint's model.json carries the graph in this layer's config, so it
 * reloads without the original file and exports back to the same ONNX graph.
 */
export class OnnxGraphLayer extends tfl.layers.Layer {
  static readonly className = 'FimOnnxGraph';
  readonly spec: OnnxLayerSpec;
  readonly program: Program;
  private readonly vars = new Map<string, LayerVariableLike>();
  private constantTensors: tf.Tensor[] | null = null;

  constructor(args: LayerArgs & { onnx?: string; spec?: OnnxLayerSpec }) {
    super(args);
    const spec = args.spec ?? (args.onnx ? unpackJson<OnnxLayerSpec>(args.onnx) : undefined);
    if (!spec) throw new Error('FimOnnxGraph layer without its graph');
    this.spec = spec;
    this.program = compileGraph(spec.graph, spec.options, spec.imageShape);
  }

  override build(): void {
    for (const w of this.program.weights) {
      const v = this.addWeight(w.key, w.shape, 'float32', tfl.initializers.zeros(), undefined, w.trainable);
      this.vars.set(w.key, v);
    }
    this.built = true;
  }

  /** Sets weights by their key (tfjs orders layer.weights trainable first, not as the program does). */
  setWeightsByKey(values: Map<string, tf.Tensor>): void {
    for (const [key, t] of values) {
      const v = this.vars.get(key);
      if (!v) throw new Error(`FimOnnxGraph has no weight ${key}`);
      v.write(t);
    }
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [s[0] ?? null, this.program.numClasses];
  }

  private constants(): tf.Tensor[] {
    if (!this.constantTensors) this.constantTensors = this.program.constants.map((c) => tf.keep(tf.tensor(c.data, c.shape)));
    return this.constantTensors;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const training = kwargs['training'] === true;
    const consts = this.constants();
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      const env: Env = {
        training,
        get: (name) => {
          const t = values.get(name);
          if (!t) throw new Error(`ONNX program: value ${name} is not computed yet`);
          return t;
        },
        set: (name, t) => void values.set(name, t),
        weight: (key) => this.vars.get(key)!.read(),
        assign: (key, t) => this.vars.get(key)!.write(t),
        constant: (id) => consts[id]!,
      };
      values.set(this.program.input, x);
      for (const step of this.program.steps) step(env);
      return env.get(this.program.output);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), onnx: packJson(this.spec) };
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    const r = super.dispose();
    if (this.constantTensors && r.refCountAfterDispose === 0) {
      tf.dispose(this.constantTensors);
      this.constantTensors = null;
    }
    return r;
  }
}
