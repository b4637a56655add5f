import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeSynced } from '../../runs/atomic';
import { manifestBytes } from '../../runs/checkpoints';
import { pathInside } from '../../runs/paths';
import { errorMessage } from '../../shared/errors';
import { registerProjectLayers } from '../layers/register';
import type { LayersModelJson } from './builtin';
import { ModelDefinitionError } from './errors';

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

/** A model in tfjs Layers format, in memory: the model.json text and the weights.bin bytes. */
export interface SerializedModel {
  modelJson: string;
  weights: Uint8Array;
}

/** Serialises a model in memory, so that the files can then be written synchronously. */
export async function serializeModel(model: tfl.LayersModel, generatedBy = 'FIM Inspector'): Promise<SerializedModel> {
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
  return { modelJson: JSON.stringify(json) + '\n', weights: new Uint8Array(joinWeightData(artifacts.weightData)) };
}

/** Writes a serialised model into `dir` (which the caller publishes atomically). */
export function writeSerializedModel(m: SerializedModel, dir: string): void {
  writeSynced(path.join(dir, WEIGHTS_BIN), m.weights);
  writeSynced(path.join(dir, MODEL_JSON), m.modelJson);
}

/** Serialises a model into `dir` (which the caller publishes atomically). */
export async function writeModelFiles(model: tfl.LayersModel, dir: string, generatedBy = 'FIM Inspector'): Promise<void> {
  writeSerializedModel(await serializeModel(model, generatedBy), dir);
}

/**
 * Reads a model.json (path to the file or its directory) and the weight files it names. Weight
 * paths must stay inside the model's directory (a model.json from a repository could otherwise
 * make the engine read any file). Every problem is a ModelDefinitionError naming the file.
 */
export function readModelFiles(fileOrDir: string): ModelFiles {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, MODEL_JSON) : fileOrDir;
  let json: LayersModelJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as LayersModelJson;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelDefinitionError(
      code === 'ENOENT' ? `${file}: file not found` : `${file}: not a readable JSON model definition (${errorMessage(e)})`,
    );
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object') {
    throw new ModelDefinitionError(
      `${file}: not a tfjs Layers model.json (no "modelTopology"); convert Keras models with tensorflowjs_converter --output_format tfjs_layers_model`,
    );
  }
  const manifest: unknown = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new ModelDefinitionError(`${file}: "weightsManifest" must be a list`);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  const dir = path.dirname(file);
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw new ModelDefinitionError(`${file}: each "weightsManifest" entry needs "paths" and "weights" lists`);
    for (const p of group.paths as unknown[]) {
      const wf = typeof p === 'string' ? pathInside(dir, p) : null;
      if (!wf) throw new ModelDefinitionError(`${file}: weight file ${JSON.stringify(p)} is not inside the model's directory ${dir}`);
      try {
        chunks.push(fs.readFileSync(wf));
      } catch {
        throw new ModelDefinitionError(`${file}: weight file ${String(p)} not found next to it`);
      }
    }
    specs.push(...(group.weights as tf.io.WeightsManifestEntry[]));
  }
  if (specs.length === 0) return { json, weightSpecs: [], weightData: null, file };
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const expected = manifestBytes(specs);
  if (expected === null) throw new ModelDefinitionError(`${file}: the weights manifest names an unsupported dtype or an invalid shape`);
  if (total !== expected)
    throw new ModelDefinitionError(`${file}: weight files hold ${total} bytes but the manifest describes ${expected}`);
  const data = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    data.set(c, off);
    off += c.length;
  }
  return { json, weightSpecs: specs, weightData: data.buffer, file };
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
