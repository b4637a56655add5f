import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendRequest } from '../../protocol/backend';
import type { ImportedModelInfo } from '../../protocol/engine';
import { mean, median } from '../../shared/stats';
import { RUN_FORMAT_VERSION, type ModelImportOptions, type RunConfig, type RunSummary } from '../../runs/types';
import { backendRequestFrom, initBackend } from '../backend/select';
import { limitDataset } from '../data/dataset';
import { loadDataset } from '../data/registry';
import { InputError } from '../errors';
import { outputStats } from '../fim/outputStats';
import { buildModel, resolveDefinition } from '../models/load';
import { predictLogits } from '../models/predict';
import { Adam } from './adam';
import { writeCheckpoint } from './checkpoint';
import { RunWriter } from './runWriter';

/** `fim import`: a model trained elsewhere becomes a run of the store. */
export interface ImportRequest {
  /** An .onnx file, or a tfjs Layers model.json with weights. */
  model: string;
  dataset: string;
  dataDir?: string;
  storeDir: string;
  name?: string;
  /** Measure the test accuracy on the first N test samples only. */
  limitTest?: number;
  modelOptions?: ModelImportOptions;
  backend?: BackendRequest;
}

/** What an import reports (declared once, in the engine protocol). */
export type ImportResult = ImportedModelInfo;

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Imports a model: reads and checks it against the dataset, measures its test accuracy, and only
 * then writes a run (config with `imported`, status completed, checkpoint epoch-0000, summary).
 * Every problem with the file or its fit to the dataset is raised before anything is written, so
 * a bad import leaves the store as it was.
 */
export async function importModel(req: ImportRequest): Promise<ImportResult> {
  await initBackend(req.backend ?? backendRequestFrom());
  const file = path.resolve(req.model);
  if (!fs.existsSync(file)) throw new InputError(`${file}: file not found`);
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.onnx' && ext !== '.json' && !fs.statSync(file).isDirectory())
    throw new InputError(`${file}: fim import takes an ONNX file (.onnx) or a tfjs Layers model.json with its weights`);
  if (req.limitTest !== undefined && (!Number.isInteger(req.limitTest) || req.limitTest < 1))
    throw new InputError(`--limit-test must be a positive integer (got ${req.limitTest})`);
  const data = await loadDataset(req.dataset, req.dataDir);
  const test = limitDataset(data.test, req.limitTest);
  const ctx = { inputShape: test.imageShape, numClasses: test.numClasses };
  const def = await resolveDefinition(file, ctx, req.modelOptions);
  if (def.kind !== 'onnx' && !def.weights)
    throw new InputError(`${file} has no weights (a topology-only model.json); fim import needs a trained model: save it with its weights`);
  const { model, notes } = await buildModel(def, { imageShape: test.imageShape, numClasses: test.numClasses, seed: 0 });
  try {
    const logits = predictLogits(model, test);
    const s = outputStats(logits, test.numClasses, test.labels);
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (s.predicted[i] === test.labels[i]) correct++;
    const format = def.kind === 'onnx' ? 'onnx' : 'tfjs-layers';
    const config: RunConfig = {
      formatVersion: RUN_FORMAT_VERSION,
      name: req.name ?? `${path.basename(file).replace(/\.(onnx|json)$/i, '')}-imported`,
      model: def.id,
      dataset: req.dataset,
      ...(req.dataDir ? { dataDir: req.dataDir } : {}),
      mu: 0,
      labelSmoothing: 0,
      epochs: 0,
      batchSize: 0,
      learningRate: 0,
      seed: 0,
      trainSamples: 0,
      testSamples: test.count,
      backendRequested: 'auto',
      createdAt: new Date().toISOString(),
      ...(req.modelOptions ? { modelOptions: req.modelOptions } : {}),
      imported: {
        source: file,
        format,
        sha256: sha256(def.kind === 'onnx' ? file : def.id),
        ...(def.onnx ? { opset: def.onnx.opset, inputLayout: def.onnx.inputLayout } : {}),
        importedAt: new Date().toISOString(),
      },
    };
    const result = {
      testAccuracy: correct / test.count,
      testMeanTraceGs: mean(s.traceGs),
      testMedianTraceGs: median(s.traceGs),
      testMeanLambdaMaxGs: mean(s.lambdaMaxGs),
    };
    const started = Date.now();
    const writer = RunWriter.create(req.storeDir, config, 0);
    try {
      for (const n of notes) writer.log('info', { msg: n });
      writer.log('info', {
        msg: `imported ${file} (${format}); test accuracy ${(100 * result.testAccuracy).toFixed(2)}% on ${test.count} samples`,
      });
      const checkpoint = await writeCheckpoint(writer.dir, model, new Adam(1e-3), {
        epoch: 0,
        epochStep: 0,
        step: 0,
        trainSeconds: 0,
        trainSamplesSeen: 0,
      });
      const summary: RunSummary = {
        runDir: writer.dir,
        name: config.name,
        state: 'completed',
        model: config.model,
        dataset: config.dataset,
        mu: 0,
        epochs: 0,
        epochsCompleted: 0,
        ...result,
        backend: tf.getBackend(),
        samplesPerSecond: null,
        wallSeconds: (Date.now() - started) / 1000,
        checkpoint,
        message: `imported from ${file}`,
      };
      writer.summary(summary);
      writer.updateStatus({ state: 'completed', latestCheckpoint: checkpoint, message: 'imported' });
    } catch (e) {
      // A half-written run would look like a real one: remove it, the store stays as it was.
      fs.rmSync(writer.dir, { recursive: true, force: true });
      throw e;
    }
    const count = (ws: { shape: (number | null)[] }[]) => ws.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
    return {
      runDir: writer.dir,
      model: def.id,
      format,
      ...result,
      testSamples: test.count,
      parameters: count(model.weights),
      trainableParameters: count(model.trainableWeights),
      ...(def.onnx ? { opset: def.onnx.opset, inputLayout: def.onnx.inputLayout } : {}),
      notes,
    };
  } finally {
    model.dispose();
  }
}
