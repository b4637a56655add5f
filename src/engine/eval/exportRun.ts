import * as tf from '@tensorflow/tfjs-core';
import type { ExportedModelInfo } from '../../protocol/engine';
import type { BackendRequest } from '../../protocol/backend';
import { backendRequestFrom, initBackend } from '../backend/select';
import { batchPixels, range } from '../data/dataset';
import { InputError } from '../errors';
import { buildModel, resolveDefinition } from '../models/load';
import { modelToOnnx, writeOnnx } from '../models/exportOnnx';
import { logitsOf } from '../models/predict';
import { loadEvalRun } from './runModel';

export interface ExportRequest {
  runDir: string;
  out: string;
  format: 'onnx';
  /** Converted models: the ONNX input layout (NCHW, PyTorch's, by default). */
  inputLayout?: 'nchw' | 'nhwc';
  backend?: BackendRequest;
}

/** What an export reports (declared once, in the engine protocol). */
export type ExportResult = ExportedModelInfo;

/**
 * Writes a run's newest checkpoint as an ONNX file, then reads the file back with the importer
 * and compares its logits with the run's on the first test samples, so a broken export is an
 * error rather than a file that silently computes something else.
 */
export async function exportRun(req: ExportRequest): Promise<ExportResult> {
  if (req.format !== 'onnx') throw new InputError(`--format ${String(req.format)} is not supported; use --format onnx`);
  await initBackend(req.backend ?? backendRequestFrom());
  const run = await loadEvalRun(req.runDir);
  try {
    const e = modelToOnnx(run.model, req.inputLayout ? { inputLayout: req.inputLayout } : {});
    writeOnnx(req.out, e);
    const test = run.data.test;
    const n = Math.min(16, test.count);
    const x = tf.tensor4d(batchPixels(test, range(0, n)), [n, ...test.imageShape]);
    const def = await resolveDefinition(req.out, { inputShape: test.imageShape, numClasses: test.numClasses }, e.readBack).catch(
      (err: unknown) => {
        x.dispose();
        throw new Error(`the exported file ${req.out} cannot be read back: ${(err as Error).message}`);
      },
    );
    const back = await buildModel(def, { imageShape: test.imageShape, numClasses: test.numClasses, seed: 0 });
    let maxRel = 0;
    try {
      const ours = logitsOf(run.model, x);
      const theirs = logitsOf(back.model, x);
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < ours.length; i++) {
        scale = Math.max(scale, Math.abs(ours[i]!));
        diff = Math.max(diff, Math.abs(ours[i]! - theirs[i]!));
      }
      maxRel = diff / Math.max(scale, 1e-12);
    } finally {
      back.model.dispose();
      x.dispose();
    }
    if (!(maxRel <= 1e-4))
      throw new Error(`export check failed: the exported graph's logits differ from the run's by ${maxRel} (relative)`);
    return {
      file: req.out,
      runDir: run.runDir,
      checkpoint: run.checkpoint,
      kind: e.kind,
      inputName: e.inputName,
      outputName: e.outputName,
      inputShape: e.inputShape,
      opset: e.opset,
      bytes: e.bytes.length,
      maxRelativeDifference: maxRel,
      checkedSamples: n,
      notes: e.notes,
    };
  } finally {
    run.model.dispose();
  }
}
