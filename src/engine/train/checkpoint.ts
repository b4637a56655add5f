import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { writeDirAtomic } from '../../runs/atomic';
import { checkpointDir, RUN_FILES } from '../../runs/paths';
import { readModelFiles, writeModelFiles, type ModelFiles } from '../models/files';
import type { Adam, AdamState } from './adam';

/**
 * A checkpoint is a directory under checkpoints/: the model in tfjs Layers format, the optimiser
 * state and where training stood. It is published with one directory rename, so a process killed
 * while saving leaves the previous checkpoint intact and no torn one.
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
  /** Adam's step count and its moments (m_0..m_n, v_0..v_n in optimizer.bin). */
  optimizer: { file: string; step: number; specs: tf.io.WeightsManifestEntry[] };
  savedAt: string;
}

const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.bin';

export function checkpointName(state: Pick<CheckpointState, 'epoch' | 'epochStep' | 'step'>): string {
  return state.epochStep === 0 ? `epoch-${String(state.epoch).padStart(4, '0')}` : `step-${String(state.step).padStart(7, '0')}`;
}

export async function writeCheckpoint(
  runDir: string,
  model: tfl.LayersModel,
  optimizer: Adam,
  state: Omit<CheckpointState, 'optimizer' | 'savedAt'>,
): Promise<string> {
  const name = checkpointName(state);
  // Moments are matched to variables by position, not by tfjs variable names (which depend on
  // what else the process has built).
  const opt = optimizer.getState();
  const encoded = await tf.io.encodeWeights([
    ...opt.m.map((t, i) => ({ name: `m_${i}`, tensor: t })),
    ...opt.v.map((t, i) => ({ name: `v_${i}`, tensor: t })),
  ]);
  const optData = new Uint8Array(tf.io.CompositeArrayBuffer.join(encoded.data));
  // Serialise before touching the disk; the directory write below is then synchronous.
  const tmpModelDir = fs.mkdtempSync(path.join(runDir, '.model-'));
  try {
    await writeModelFiles(model, tmpModelDir);
    writeDirAtomic(checkpointDir(runDir, name), (dir) => {
      for (const f of fs.readdirSync(tmpModelDir)) fs.copyFileSync(path.join(tmpModelDir, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, OPTIMIZER_FILE), optData);
      const full: CheckpointState = {
        ...state,
        optimizer: { file: OPTIMIZER_FILE, step: opt.step, specs: encoded.specs },
        savedAt: new Date().toISOString(),
      };
      fs.writeFileSync(path.join(dir, STATE_FILE), JSON.stringify(full, null, 2) + '\n');
    });
  } finally {
    fs.rmSync(tmpModelDir, { recursive: true, force: true });
  }
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

/** Checkpoint directory names, oldest first (epoch/step names sort by step). */
export function listCheckpoints(runDir: string): string[] {
  try {
    return fs
      .readdirSync(path.join(runDir, RUN_FILES.checkpoints))
      .filter((n) => !n.startsWith('.') && fs.existsSync(path.join(runDir, RUN_FILES.checkpoints, n, STATE_FILE)))
      .map((n) => ({ n, step: readStep(runDir, n) }))
      .sort((a, b) => a.step - b.step)
      .map((x) => x.n);
  } catch {
    return [];
  }
}

function readStep(runDir: string, name: string): number {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.checkpoints, name, STATE_FILE), 'utf8')) as CheckpointState).step;
  } catch {
    return -1;
  }
}

/** Keeps the newest `keep` checkpoints (plus `protect`); bigger models make old ones costly. */
export function pruneCheckpoints(runDir: string, keep: number, protect: string[] = []): void {
  const all = listCheckpoints(runDir);
  for (const name of all.slice(0, Math.max(0, all.length - keep))) {
    if (!protect.includes(name)) fs.rmSync(checkpointDir(runDir, name), { recursive: true, force: true });
  }
}
