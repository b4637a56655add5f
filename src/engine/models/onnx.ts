import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelImportOptions } from '../../runs/types';
import { OnnxGraphLayer, type OnnxLayerSpec } from '../layers/onnxGraph';
import { registerProjectLayers } from '../layers/register';
import { inputDims, type InputLayout } from '../onnx/compile';
import { OnnxImportError } from '../onnx/errors';
import { applyOpsHost } from '../onnx/layout';
import { readOnnx, type OnnxModel } from '../onnx/read';
import type { TopologyJson } from './builtin';

/** The name of the graph layer inside an imported model (its weights are `onnx/w0`, …). */
export const ONNX_LAYER = 'onnx';

export interface OnnxDefinition {
  topology: TopologyJson;
  weights: { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer };
  model: OnnxModel;
  inputLayout: InputLayout;
  notes: string[];
}

function describeDims(d: (number | string | null)[]): string {
  return `[${d.map((x) => (x === null ? '?' : x)).join(', ')}]`;
}

/**
 * The input layout of an ONNX image model for images [H, W, C]: the one asked for, else the one
 * its declared input shape matches (NCHW first, PyTorch's). Dynamic non-batch dimensions and
 * shapes that fit neither are errors that say what to do.
 */
export function detectLayout(m: OnnxModel, image: [number, number, number], asked?: InputLayout): InputLayout {
  const input = m.graph.inputs[0]!;
  const dims = input.dims;
  const [h, w, c] = image;
  const imageText = `the dataset's images are ${h}×${w} with ${c} channel${c > 1 ? 's' : ''}`;
  if (!dims) {
    if (!asked) throw new OnnxImportError(`${m.file}: input "${input.name}" has no declared shape; pass --input-layout nchw or nhwc`);
    return asked;
  }
  if (dims.length !== 4)
    throw new OnnxImportError(
      `${m.file}: input "${input.name}" has shape ${describeDims(dims)}; an image model's input is 4-D (batch, and C, H, W or H, W, C)`,
    );
  const rest = dims.slice(1);
  const dynamic = rest.findIndex((d) => typeof d !== 'number');
  if (dynamic >= 0)
    throw new OnnxImportError(
      `${m.file}: input "${input.name}" has shape ${describeDims(dims)}, with dimension ${dynamic + 1} dynamic; FIM Inspector needs fixed image sizes: re-export with dynamic_axes on the batch axis only (dynamic_axes={"${input.name}": {0: "batch"}})`,
    );
  const fits = (layout: InputLayout) => inputDims(layout, image).join() === rest.join();
  if (asked) {
    if (!fits(asked))
      throw new OnnxImportError(
        `${m.file}: input "${input.name}" has shape ${describeDims(dims)}, which as ${asked.toUpperCase()} does not fit: ${imageText} (expected ${describeDims(['N', ...inputDims(asked, image)])})`,
      );
    return asked;
  }
  if (fits('nchw')) return 'nchw';
  if (fits('nhwc')) return 'nhwc';
  throw new OnnxImportError(
    `${m.file}: input "${input.name}" has shape ${describeDims(dims)}, but ${imageText} (expected [N, ${c}, ${h}, ${w}] or [N, ${h}, ${w}, ${c}]); choose the dataset the model was trained on, or --image-size for folder datasets`,
  );
}

/**
 * A tfjs Layers definition (an input layer and the ONNX graph layer) with the model's weights in
 * the engine's layout, ready for buildModel: the same path as a model.json with weights, so
 * fine-tuning, checkpoints and resume treat it like any other definition.
 */
export async function onnxDefinition(
  file: string,
  ctx: { inputShape: [number, number, number]; numClasses: number },
  options: ModelImportOptions = {},
): Promise<OnnxDefinition> {
  const m = readOnnx(file);
  const inputLayout = detectLayout(m, ctx.inputShape, options.inputLayout);
  if (options.normalize) {
    const { mean, std } = options.normalize;
    const ch = ctx.inputShape[2];
    for (const [what, v] of [
      ['mean', mean],
      ['std', std],
    ] as const)
      if (v.length !== 1 && v.length !== ch)
        throw new OnnxImportError(
          `--normalize ${what} has ${v.length} values; the images have ${ch} channel${ch > 1 ? 's' : ''} (give 1 or ${ch})`,
        );
    if (std.some((s) => !(s > 0))) throw new OnnxImportError('--normalize std values must be > 0');
  }
  const spec: OnnxLayerSpec = {
    graph: m.graph,
    options: {
      inputLayout,
      ...(options.normalize ? { normalize: options.normalize } : {}),
      ...(options.freezeBatchNorm ? { freezeBatchNorm: true } : {}),
    },
    imageShape: ctx.inputShape,
  };
  registerProjectLayers();
  const input = tfl.input({ shape: ctx.inputShape, name: 'image' });
  const layer = new OnnxGraphLayer({ name: ONNX_LAYER, spec });
  const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor, name: 'onnx_model' });
  try {
    const k = layer.program.numClasses;
    if (k !== ctx.numClasses)
      throw new OnnxImportError(
        `${m.file}: the model outputs ${k} classes but the dataset has ${ctx.numClasses}; choose the dataset the model was trained on`,
      );
    const tensors = layer.program.weights.map((w) => {
      const values = m.weights.get(w.init);
      if (!values) throw new OnnxImportError(`${m.file}: initialiser ${w.init} has no values`);
      return { key: w.key, name: `${ONNX_LAYER}/${w.key}`, tensor: tf.tensor(applyOpsHost(values, w.dims, w.ops), w.shape) };
    });
    const encoded = await tf.io.encodeWeights(tensors.map(({ name, tensor }) => ({ name, tensor })));
    layer.setWeightsByKey(new Map(tensors.map((t) => [t.key, t.tensor])));
    tf.dispose(tensors.map((t) => t.tensor));
    checkLogits(model, m.file, ctx.inputShape);
    return {
      topology: model.toJSON(null, false) as unknown as TopologyJson,
      weights: { specs: encoded.specs, data: tf.io.CompositeArrayBuffer.join(encoded.data) },
      model: m,
      inputLayout,
      notes: [...m.notes, ...layer.program.notes],
    };
  } finally {
    model.dispose();
  }
}

/**
 * Refuses a model whose outputs are already probabilities (every row non-negative and summing to
 * 1 on random images): the trace term and the FIM statistics need logits (design §1).
 */
function checkLogits(model: tfl.LayersModel, file: string, image: [number, number, number]): void {
  const n = 8;
  const rows = tf.tidy(() => {
    const x = tf.randomUniform([n, ...image], 0, 1, 'float32', 7);
    return model.predict(x) as tf.Tensor2D;
  });
  const data = rows.dataSync();
  const k = rows.shape[1];
  rows.dispose();
  let probabilities = true;
  for (let r = 0; r < n && probabilities; r++) {
    let sum = 0;
    for (let i = 0; i < k; i++) {
      const v = data[r * k + i]!;
      if (!(v >= 0)) probabilities = false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) probabilities = false;
  }
  if (probabilities)
    throw new OnnxImportError(
      `${file}: the model's outputs are probabilities (each row sums to 1), but the engine needs the logits before the softmax; export the model without its final softmax, or make Softmax its last node`,
    );
}
