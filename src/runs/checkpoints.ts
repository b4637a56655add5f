import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkpointDir, pathInside, RUN_FILES } from './paths';

/**
 * Checkpoints as the store lists and checks them, without tfjs: which exist, in which order, and
 * whether one is whole (its files as long as their manifests say). The engine reads and writes
 * their contents (src/engine/train/checkpoint.ts).
 */
export const CHECKPOINT_FILES = {
  state: 'state.json',
  model: 'model.json',
  weights: 'weights.bin',
  optimizer: 'optimizer.bin',
} as const;

/** A tensor in a weights manifest (tfjs's WeightsManifestEntry, the fields sizes depend on). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, int16: 2, uint8: 1, bool: 1 };

/** Bytes a manifest describes, or null when it names a dtype or shape that has no size. */
export function manifestBytes(specs: WeightSpec[]): number | null {
  let total = 0;
  for (const s of specs) {
    const per = DTYPE_BYTES[s?.dtype];
    if (per === undefined || !Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0)) return null;
    total += s.shape.reduce((a, b) => a * b, 1) * per;
  }
  return total;
}

function readStep(dir: string): number | null {
  try {
    const step = (JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_FILES.state), 'utf8')) as { step?: unknown }).step;
    return typeof step === 'number' && Number.isFinite(step) ? step : null;
  } catch {
    return null;
  }
}

/**
 * Checkpoint directory names, oldest first by their state.json's step. Only directories whose
 * names do not start with a dot (temp and half-deleted ones do) and that hold a readable
 * state.json count.
 */
export function listCheckpoints(runDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(runDir, RUN_FILES.checkpoints));
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.'))
    .map((n) => ({ n, step: readStep(checkpointDir(runDir, n)) }))
    .filter((x): x is { n: string; step: number } => x.step !== null)
    .sort((a, b) => a.step - b.step || a.n.localeCompare(b.n))
    .map((x) => x.n);
}

function sizeOf(file: string): number | null {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/**
 * Why a checkpoint directory is not whole, or null when it is: its model.json and state.json
 * parse, and its weight and optimizer files have the sizes their manifests describe. Cheap (two
 * small JSON reads and a few stats), so `fim runs` and the runs tree can check every run.
 */
export function checkpointProblem(dir: string): string | null {
  const name = path.basename(dir);
  let state: { optimizer?: { file?: unknown; specs?: unknown } };
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_FILES.state), 'utf8')) as typeof state;
  } catch (e) {
    return `checkpoint ${name}: ${CHECKPOINT_FILES.state} is missing or corrupt (${(e as Error).message})`;
  }
  let model: { weightsManifest?: { paths?: unknown; weights?: unknown }[] };
  try {
    model = JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_FILES.model), 'utf8')) as typeof model;
  } catch (e) {
    return `checkpoint ${name}: ${CHECKPOINT_FILES.model} is missing or corrupt (${(e as Error).message})`;
  }
  let have = 0;
  const specs: WeightSpec[] = [];
  for (const group of Array.isArray(model?.weightsManifest) ? model.weightsManifest : []) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) return `checkpoint ${name}: malformed weightsManifest`;
    for (const p of group.paths as unknown[]) {
      const file = typeof p === 'string' ? pathInside(dir, p) : null;
      if (!file) return `checkpoint ${name}: weight file ${JSON.stringify(p)} is not inside the checkpoint`;
      const size = sizeOf(file);
      if (size === null) return `checkpoint ${name}: weight file ${String(p)} is missing`;
      have += size;
    }
    specs.push(...(group.weights as WeightSpec[]));
  }
  if (specs.length === 0) return `checkpoint ${name}: model.json lists no weights`;
  const want = manifestBytes(specs);
  if (want === null) return `checkpoint ${name}: the weights manifest has an unknown dtype or shape`;
  if (have !== want) return `checkpoint ${name}: weight files hold ${have} bytes but the manifest describes ${want} (truncated or damaged)`;
  const opt = state.optimizer;
  if (opt && typeof opt.file === 'string' && Array.isArray(opt.specs)) {
    const file = pathInside(dir, opt.file);
    const size = file ? sizeOf(file) : null;
    const optWant = manifestBytes(opt.specs as WeightSpec[]);
    if (size === null) return `checkpoint ${name}: optimizer state ${opt.file} is missing`;
    if (optWant !== null && size !== optWant)
      return `checkpoint ${name}: ${opt.file} holds ${size} bytes but its specs describe ${optWant} (truncated or damaged)`;
  }
  return null;
}
