import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerProjectLayers } from '../layers/register';
import type { LayersModelJson } from './builtin';

/**
 * tfjs Layers format on disk (model.json + weights.bin), written and read without tfjs-node's
 * `file://` handler so it works on every backend.
 */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export interface ModelFiles {
  json: LayersModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer | null;
  /** The model.json path, for messages. */
  file: string;
}

function joinWeightData(data: tf.io.WeightData): ArrayBuffer {
  return tf.io.CompositeArrayBuffer.join(data);
}

/** Serialises a model into `dir` (which the caller publishes atomically). */
export async function writeModelFiles(model: tfl.LayersModel, dir: string, generatedBy = 'FIM Inspector'): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('model produced no weights to save');
  const json: LayersModelJson = {
    format: 'layers-model',
    generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology as LayersModelJson['modelTopology'],
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
  };
  fs.writeFileSync(path.join(dir, WEIGHTS_BIN), new Uint8Array(joinWeightData(artifacts.weightData)));
  fs.writeFileSync(path.join(dir, MODEL_JSON), JSON.stringify(json) + '\n');
}

/**
 * Reads a model.json (path to the file or its directory) and the weight files it names.
 * Missing weight files or a size mismatch are errors naming the file.
 */
export function readModelFiles(fileOrDir: string): ModelFiles {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, MODEL_JSON) : fileOrDir;
  let json: LayersModelJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as LayersModelJson;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT' ? `${file}: file not found` : `${file}: not a readable JSON model definition (${(e as Error).message})`,
      { cause: e },
    );
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object') {
    throw new Error(
      `${file}: not a tfjs Layers model.json (no "modelTopology"); convert Keras models with tensorflowjs_converter --output_format tfjs_layers_model`,
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      const wf = path.join(path.dirname(file), p);
      try {
        chunks.push(fs.readFileSync(wf));
      } catch {
        throw new Error(`${file}: weight file ${p} not found next to it`);
      }
    }
    specs.push(...(group.weights as tf.io.WeightsManifestEntry[]));
  }
  if (specs.length === 0) return { json, weightSpecs: [], weightData: null, file };
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const expected = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) * bytesPerElement(s.dtype), 0);
  if (total !== expected) throw new Error(`${file}: weight files hold ${total} bytes but the manifest describes ${expected}`);
  const data = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    data.set(c, off);
    off += c.length;
  }
  return { json, weightSpecs: specs, weightData: data.buffer, file };
}

function bytesPerElement(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool' || dtype === 'uint8') return 1;
  if (dtype === 'float16' || dtype === 'int16') return 2;
  throw new Error(`unsupported weight dtype ${dtype}`);
}

/** Builds the model a model.json describes, with its weights when it has them. */
export async function loadModelFiles(files: ModelFiles): Promise<tfl.LayersModel> {
  registerProjectLayers();
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: files.json.modelTopology as unknown as object,
      weightSpecs: files.weightSpecs,
      weightData: files.weightData ?? undefined,
    }),
  );
}
