import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { removeDirAtomic, writeDirAtomic, writeSynced } from '../../runs/atomic';
import { CHECKPOINT_FILES, checkpointProblem, listCheckpoints } from '../../runs/checkpoints';
import { checkpointDir } from '../../runs/paths';
import { readModelFiles, serializeModel, writeSerializedModel, type ModelFiles } from '../models/files';
import type { Adam, AdamState } from './adam';

export { listCheckpoints };

/**
 * A checkpoint is a directory under checkpoints/: the model in tfjs Layers format, the optimiser
 * state and where training stood. It is published with one directory rename after every file in
 * it is fsynced, so a process killed while saving leaves the previous checkpoint intact and no
 * torn one.
 */
export interface CheckpointState {
  /** Fully completed epochs. */
  epoch: number;
  /** Batches already done in epoch `epoch + 1` (0 at an epoch boundary). */
  epochStep: number;
  /** Global optimiser steps done. */
  step: number;
  /** Training time so far (seconds), excluding evaluation. */
  trainSeconds: number;
  trainSamplesSeen: number;
  /**
   * Sizes of metrics.jsonl and train.fimlog when the checkpoint was taken. Resume cuts the logs
   * back to them, so the records of steps it trains again are not written twice (absent in
   * checkpoints of older versions; resume then cuts by step numbers).
   */
  logs?: { metricsBytes: number; fimlogBytes: number };
  /** Adam's step count and its moments (m_0..m_n, v_0..v_n in optimizer.bin). */
  optimizer: { file: string; step: number; specs: tf.io.WeightsManifestEntry[] };
  savedAt: string;
}

const STATE_FILE = CHECKPOINT_FILES.state;
const OPTIMIZER_FILE = CHECKPOINT_FILES.optimizer;

export function checkpointName(state: Pick<CheckpointState, 'epoch' | 'epochStep' | 'step'>): string {
  return state.epochStep === 0 ? `epoch-${String(state.epoch).padStart(4, '0')}` : `step-${String(state.step).padStart(7, '0')}`;
}

/**
 * Writes the checkpoint of the current training position. A whole checkpoint of the same name
 * already there is the same position (a run stopped, resumed and stopped again before its next
 * step) and is kept as it is: replacing a directory cannot be done in one rename.
 */
export async function writeCheckpoint(
  runDir: string,
  model: tfl.LayersModel,
  optimizer: Adam,
  state: Omit<CheckpointState, 'optimizer' | 'savedAt'>,
): Promise<string> {
  const name = checkpointName(state);
  const target = checkpointDir(runDir, name);
  if (fs.existsSync(target)) {
    if (checkpointProblem(target) === null) return name;
    removeDirAtomic(target);
  }
  // Moments are matched to variables by position, not by tfjs variable names (which depend on
  // what else the process has built).
  const opt = optimizer.getState();
  const encoded = await tf.io.encodeWeights([
    ...opt.m.map((t, i) => ({ name: `m_${i}`, tensor: t })),
    ...opt.v.map((t, i) => ({ name: `v_${i}`, tensor: t })),
  ]);
  const optData = new Uint8Array(tf.io.CompositeArrayBuffer.join(encoded.data));
  // Serialise before touching the disk; the directory write below is then synchronous.
  const serialized = await serializeModel(model);
  writeDirAtomic(target, (dir) => {
    writeSerializedModel(serialized, dir);
    writeSynced(path.join(dir, OPTIMIZER_FILE), optData);
    const full: CheckpointState = {
      ...state,
      optimizer: { file: OPTIMIZER_FILE, step: opt.step, specs: encoded.specs },
      savedAt: new Date().toISOString(),
    };
    writeSynced(path.join(dir, STATE_FILE), JSON.stringify(full, null, 2) + '\n');
  });
  return name;
}

export interface LoadedCheckpoint {
  name: string;
  dir: string;
  files: ModelFiles;
  state: CheckpointState;
}

export function readCheckpoint(runDir: string, name: string): LoadedCheckpoint {
  const dir = checkpointDir(runDir, name);
  const problem = checkpointProblem(dir);
  if (problem) throw new Error(problem);
  const files = readModelFiles(dir);
  let state: CheckpointState;
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as CheckpointState;
  } catch (e) {
    throw new Error(`checkpoint ${dir} has no readable ${STATE_FILE} (${(e as Error).message})`, { cause: e });
  }
  return { name, dir, files, state };
}

/** The saved Adam state (tensors owned by the caller until passed to Adam.setState). */
export function readOptimizerState(ckpt: LoadedCheckpoint): AdamState {
  const data = fs.readFileSync(path.join(ckpt.dir, ckpt.state.optimizer.file));
  const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const map = tf.io.decodeWeights(buf, ckpt.state.optimizer.specs);
  const n = ckpt.state.optimizer.specs.length / 2;
  const get = (k: string) => {
    const t = map[k];
    if (!t) throw new Error(`checkpoint ${ckpt.dir}: optimizer state lacks ${k}`);
    return t;
  };
  return {
    step: ckpt.state.optimizer.step,
    m: Array.from({ length: n }, (_, i) => get(`m_${i}`)),
    v: Array.from({ length: n }, (_, i) => get(`v_${i}`)),
  };
}

/**
 * Keeps the newest `keep` epoch checkpoints and, of the mid-epoch ones (a stopped run), only those
 * newer than the newest epoch checkpoint, plus `protect`. So a run that was stopped and resumed
 * ends with the same checkpoints as one that ran through. Each is removed with a rename first,
 * so no half-deleted checkpoint is ever listed.
 */
export function pruneCheckpoints(runDir: string, keep: number, protect: string[] = []): void {
  const all = listCheckpoints(runDir);
  const epochs = all.filter((n) => n.startsWith('epoch-'));
  const newestEpoch = epochs[epochs.length - 1];
  const keepSet = new Set([...epochs.slice(-keep), ...protect]);
  const afterEpoch = newestEpoch === undefined ? all : all.slice(all.indexOf(newestEpoch) + 1);
  for (const n of afterEpoch) keepSet.add(n);
  for (const name of all) if (!keepSet.has(name)) removeDirAtomic(checkpointDir(runDir, name));
}
