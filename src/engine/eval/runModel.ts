import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import pkg from '../../../package.json';
import type { EvalKind, EvalProvenance } from '../../runs/evals';
import { readRun } from '../../runs/reader';
import { errorMessage } from '../../shared/errors';
import type { RunConfig } from '../../runs/types';
import { batchLabels, batchPixels, type Dataset, type DatasetSplits } from '../data/dataset';
import { loadDataset } from '../data/registry';
import { InputError } from '../errors';
import { loadModelFiles } from '../models/files';
import { validateModel } from '../models/load';
import { listCheckpoints, readCheckpoint } from '../train/checkpoint';
import { assertRunConfigAllowed, TRUSTED, type TrustPolicy } from '../trust';

/** A trained run ready for evaluation: its newest checkpoint's model and its dataset. */
export interface EvalRun {
  runDir: string;
  config: RunConfig;
  checkpoint: string;
  checkpointSha256: string;
  model: tfl.LayersModel;
  data: DatasetSplits;
}

/**
 * Loads a run's newest checkpoint for evaluation. A damaged one (files cut short) is refused
 * with the reason rather than evaluated in place of the model the run ended with. `trust` (VS
 * Code's restricted mode) confines the run and the dataset directory its config names.
 */
export async function loadEvalRun(runDir: string, trust: TrustPolicy = TRUSTED): Promise<EvalRun> {
  const info = readRun(runDir);
  if (!info.config) throw new InputError(`${runDir} is not a readable run directory (${info.problems.join('; ') || 'no config.json'})`);
  assertRunConfigAllowed(trust, info.config, runDir);
  const ckpts = listCheckpoints(runDir);
  if (ckpts.length === 0)
    throw new InputError(`run ${runDir} has no checkpoint yet; train it first (fim train), or wait for its first epoch`);
  const name = ckpts[ckpts.length - 1]!;
  let ckpt;
  try {
    ckpt = readCheckpoint(runDir, name);
  } catch (e) {
    throw new InputError(`run ${runDir}: checkpoint ${name} cannot be read: ${errorMessage(e)}`);
  }
  if (!ckpt.files.weightData) throw new InputError(`run ${runDir}: checkpoint ${name} has no weights`);
  const data = await loadDataset(info.config.dataset, info.config.dataDir);
  let model: tfl.LayersModel;
  try {
    model = await loadModelFiles(ckpt.files);
  } catch (e) {
    throw new InputError(`run ${runDir}: checkpoint ${name} cannot be loaded as a tfjs model: ${errorMessage(e)}`);
  }
  validateModel(model, info.config.model, { imageShape: data.test.imageShape, numClasses: data.test.numClasses });
  const checkpointSha256 = createHash('sha256').update(new Uint8Array(ckpt.files.weightData)).digest('hex');
  return { runDir: info.dir, config: info.config, checkpoint: name, checkpointSha256, model, data };
}

/** Which samples of a split an evaluation uses. */
export interface SampleSelection {
  split: 'train' | 'test';
  /** First index and count; the evaluation uses [start, start + count). */
  start: number;
  count: number;
}

export function splitOf(run: EvalRun, split: 'train' | 'test'): Dataset {
  return split === 'train' ? run.data.train : run.data.test;
}

export function selectIndices(d: Dataset, sel: SampleSelection): number[] {
  if (!Number.isInteger(sel.start) || sel.start < 0) throw new InputError(`--start must be an integer ≥ 0 (got ${sel.start})`);
  if (!Number.isInteger(sel.count) || sel.count < 1) throw new InputError(`--samples must be an integer ≥ 1 (got ${sel.count})`);
  if (sel.start >= d.count) throw new InputError(`--start ${sel.start} is past the end of ${d.name} (${d.count} samples)`);
  const end = Math.min(d.count, sel.start + sel.count);
  return Array.from({ length: end - sel.start }, (_, i) => sel.start + i);
}

export function samplesOf(d: Dataset, indices: number[]): { x: Float32Array; labels: Int32Array } {
  return { x: batchPixels(d, indices), labels: batchLabels(d, indices) };
}

export function makeProvenance(
  kind: EvalKind,
  run: EvalRun,
  split: 'train' | 'test',
  sampleIndices: number[],
  seed: number,
  startedAt: number,
  command?: string,
): EvalProvenance {
  return {
    kind,
    createdAt: new Date().toISOString(),
    runDir: run.runDir,
    checkpoint: run.checkpoint,
    checkpointSha256: run.checkpointSha256,
    split,
    sampleIndices,
    seed,
    backend: tf.getBackend(),
    engineVersion: pkg.version,
    wallSeconds: (Date.now() - startedAt) / 1000,
    ...(command ? { command } : {}),
  };
}

/** Progress callback of the evaluations: a message and the fraction done. */
export type EvalProgress = (message: string, fraction: number) => void;

/** What every evaluation request has. */
export interface EvalRequestBase {
  selection: SampleSelection;
  /** Seed of random starts and random targets. */
  seed?: number;
  batchSize?: number;
  /** File name under evals/ (without .json). */
  name?: string;
  /** The command line, recorded in the provenance. */
  command?: string;
  onProgress?: EvalProgress;
  /** Stops the evaluation between batches (nothing is written then). */
  signal?: AbortSignal;
}
