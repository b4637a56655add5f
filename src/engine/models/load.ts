import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerProjectLayers } from '../layers/register';
import type { ModelImportOptions } from '../../runs/types';
import { findBuiltin, builtinDefinitions, type TopologyJson } from './builtin';
import { errorMessage } from '../../shared/errors';
import { ModelDefinitionError } from './errors';
import { readModelFiles } from './files';
import { onnxDefinition } from './onnx';
import { seedInitializers, stripFinalSoftmax } from './topology';

/**
 * Model definitions: a built-in name, a tfjs Layers model.json (topology only, or with weights to
 * fine-tune), or a JS/TS module whose default export builds a tf.LayersModel.
 */
export type DefinitionKind = 'builtin' | 'model-json' | 'module' | 'onnx';

export interface ResolvedDefinition {
  kind: DefinitionKind;
  /** Built-in name or absolute path. */
  id: string;
  topology: TopologyJson;
  /** Initial weights from a model.json that has them, or an ONNX model's (fine-tuning). */
  weights?: { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer };
  /** Things the user should know about the definition (an ONNX model's stripped softmax, opset). */
  notes?: string[];
  /** ONNX: the opset and the input layout used. */
  onnx?: { opset: number; inputLayout: 'nchw' | 'nhwc' };
}

export { ModelDefinitionError };

const MODULE_EXTS = new Set(['.js', '.cjs', '.mjs', '.ts', '.mts', '.cts']);

/** What a model module's default export is called with. */
export interface ModelModuleContext {
  inputShape: [number, number, number];
  numClasses: number;
  tf: typeof tf & typeof tfl;
}

export async function resolveDefinition(
  spec: string,
  ctx: Omit<ModelModuleContext, 'tf'>,
  options?: ModelImportOptions,
): Promise<ResolvedDefinition> {
  const builtin = findBuiltin(spec);
  if (builtin) return { kind: 'builtin', id: builtin.name, topology: builtin.modelJson.modelTopology };
  const file = path.resolve(spec);
  if (!fs.existsSync(file)) {
    const names = builtinDefinitions()
      .map((b) => b.name)
      .join(', ');
    throw new ModelDefinitionError(`model "${spec}" is neither a built-in definition (${names}) nor an existing file`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json' || fs.statSync(file).isDirectory()) {
    const files = readModelFiles(file);
    const weights = files.weightData ? { specs: files.weightSpecs, data: files.weightData } : undefined;
    return { kind: 'model-json', id: files.file, topology: files.json.modelTopology, ...(weights ? { weights } : {}) };
  }
  if (MODULE_EXTS.has(ext)) return { kind: 'module', id: file, topology: await topologyFromModule(file, ctx) };
  if (ext === '.onnx') {
    const d = await onnxDefinition(file, ctx, options);
    return {
      kind: 'onnx',
      id: d.model.file,
      topology: d.topology,
      weights: d.weights,
      notes: d.notes,
      onnx: { opset: d.model.opset, inputLayout: d.inputLayout },
    };
  }
  throw new ModelDefinitionError(
    `${file}: unsupported model definition; expected an ONNX file (.onnx), a tfjs Layers model.json or a .js/.ts module`,
  );
}

/**
 * Bundles a user's model module with esbuild (so TypeScript and imports work) and runs its
 * default export. Its tfjs imports are mapped to the engine's own tfjs instance: a second copy
 * would register its tensors with a different engine and fail in confusing ways.
 */
async function topologyFromModule(file: string, ctx: Omit<ModelModuleContext, 'tf'>): Promise<TopologyJson> {
  const esbuild = await import('esbuild');
  let code: string;
  try {
    const out = await esbuild.build({
      entryPoints: [file],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['@tensorflow/*'],
      logLevel: 'silent',
    });
    code = out.outputFiles[0]!.text;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new ModelDefinitionError(`${file}: cannot be compiled: ${first?.text ?? errorMessage(e)}${where}`);
  }
  const tfUnion = { ...tf, ...tfl } as typeof tf & typeof tfl;
  const realRequire = createRequire(file);
  const shim = (id: string): unknown => {
    if (id === '@tensorflow/tfjs' || id === '@tensorflow/tfjs-node' || id === '@tensorflow/tfjs-node-gpu') return tfUnion;
    if (id === '@tensorflow/tfjs-core') return tf;
    if (id === '@tensorflow/tfjs-layers') return tfl;
    return realRequire(id);
  };
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  let built: unknown;
  try {
    // The module runs as CommonJS with our `require` shim, so its tfjs imports get the engine's tfjs.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const run = new Function('require', 'module', 'exports', '__filename', '__dirname', code) as (...args: unknown[]) => void;
    run(shim, mod, mod.exports, file, path.dirname(file));
    const exported = (mod.exports.default ?? mod.exports) as unknown;
    built = typeof exported === 'function' ? await (exported as (c: ModelModuleContext) => unknown)({ ...ctx, tf: tfUnion }) : exported;
  } catch (e) {
    throw new ModelDefinitionError(`${file}: its default export failed while building the model: ${errorMessage(e)}`);
  }
  if (!(built instanceof tfl.LayersModel)) {
    throw new ModelDefinitionError(
      `${file}: the default export must be a tf.LayersModel or a function returning one (got ${describe(built)})`,
    );
  }
  const topology = built.toJSON(null, false) as unknown as TopologyJson;
  built.dispose();
  return topology;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}

export interface BuildOptions {
  imageShape: [number, number, number];
  numClasses: number;
  seed: number;
}

export interface BuiltModel {
  model: tfl.LayersModel;
  /** Things the user should know (a stripped softmax, loaded weights). */
  notes: string[];
}

/** Builds, seeds and validates a definition for a dataset; errors say exactly what does not fit. */
export async function buildModel(def: ResolvedDefinition, opts: BuildOptions): Promise<BuiltModel> {
  const notes: string[] = [...(def.notes ?? [])];
  const stripped = stripFinalSoftmax(def.topology);
  if (stripped.note) notes.push(stripped.note);
  const topology = seedInitializers(stripped.topology, opts.seed);
  let model: tfl.LayersModel;
  // model.json names Keras classes; ours (fast BatchNormalization, Conv2D) must be registered first.
  registerProjectLayers();
  try {
    model = await tfl.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
  } catch (e) {
    throw new ModelDefinitionError(`model ${def.id} cannot be built: ${errorMessage(e)}`);
  }
  try {
    validateModel(model, def.id, opts);
    if (def.weights) {
      const named = tf.io.decodeWeights(def.weights.data, def.weights.specs);
      const values = model.weights.map((w) => {
        const v = named[w.originalName] ?? named[w.name];
        if (!v) throw new ModelDefinitionError(`model ${def.id}: weights have no entry for ${w.originalName}`);
        if (v.shape.join() !== w.shape.join())
          throw new ModelDefinitionError(
            `model ${def.id}: weight ${w.originalName} has shape [${v.shape}] but the layer needs [${w.shape}]`,
          );
        return v;
      });
      model.setWeights(values);
      tf.dispose(Object.values(named));
      // An ONNX model always brings its weights; saying so is noise there.
      if (def.kind !== 'onnx') notes.push('initial weights loaded from the definition (fine-tuning)');
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, notes };
}

export function validateModel(model: tfl.LayersModel, id: string, opts: Pick<BuildOptions, 'imageShape' | 'numClasses'>): void {
  if (model.inputs.length !== 1)
    throw new ModelDefinitionError(`model ${id} has ${model.inputs.length} inputs; FIM Inspector needs one image input`);
  if (model.outputs.length !== 1)
    throw new ModelDefinitionError(`model ${id} has ${model.outputs.length} outputs; FIM Inspector needs one logits output`);
  const inShape = model.inputs[0]!.shape.slice(1);
  if (inShape.length !== 3 || inShape.some((d, i) => d !== null && d !== opts.imageShape[i])) {
    throw new ModelDefinitionError(
      `model ${id} expects input shape [${inShape.map((d) => d ?? '?').join(', ')}] but the dataset's images are [${opts.imageShape.join(', ')}] (height, width, channels)`,
    );
  }
  const outShape = model.outputs[0]!.shape;
  if (outShape.length !== 2 || outShape[1] !== opts.numClasses) {
    throw new ModelDefinitionError(
      `model ${id} outputs shape [${outShape.map((d) => d ?? '?').join(', ')}] but the dataset has ${opts.numClasses} classes (expected [?, ${opts.numClasses}])`,
    );
  }
}
