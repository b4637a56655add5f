import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { nativeStatus } from '../src/engine/backend/native/addon';
import { initBackend } from '../src/engine/backend/select';
import type { Dataset } from '../src/engine/data/dataset';

/** A fresh temporary directory, removed when the process exits. */
export function tmpDir(prefix = 'fim-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The backend under test (wasm unless FIM_BACKEND says otherwise), with the project's kernels. */
export async function useEngineBackend(): Promise<string> {
  const r = await initBackend();
  return r.tfBackend;
}

/** Runs `f` on tfjs's pure-JS cpu backend (the reference), then switches back. */
export async function onCpu<T>(f: () => T): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  try {
    return f();
  } finally {
    await tf.setBackend(prev);
  }
}

/**
 * Runs `f` once per instruction-set level of the native kernels that this CPU runs (avx512, avx2,
 * generic: native/src/dispatch.cc), with that level active, and returns the results by level; the
 * active level is restored afterwards. Without the addon (or on another backend) `f` runs once,
 * under the label "portable". So a kernel test compares every path with its reference.
 */
export function forEachNativeLevel<T>(f: (level: string) => T): { level: string; result: T }[] {
  const addon = tf.getBackend() === 'wasm' ? nativeStatus().addon : null;
  if (!addon) return [{ level: 'portable', result: f('portable') }];
  const active = addon.info().level;
  try {
    return addon
      .info()
      .levels.filter((l) => l.supported)
      .map(({ name }) => {
        if (!addon.setLevel(name)) throw new Error(`the addon refused its own level ${name}`);
        return { level: name, result: f(name) };
      });
  } finally {
    addon.setLevel(active);
  }
}

/** Deterministic pseudo-random numbers in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** A small synthetic dataset: two classes separable by mean brightness of the left half. */
export function toyDataset(n: number, shape: [number, number, number] = [8, 8, 1], seed = 1, numClasses = 2): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const pixels = new Uint8Array(n * size);
  const labels = new Int32Array(n);
  const r = randomArray(n * size, seed, 0, 1);
  for (let i = 0; i < n; i++) {
    const label = i % numClasses;
    labels[i] = label;
    for (let k = 0; k < size; k++) {
      const col = Math.floor(k / shape[2]) % shape[1];
      const bright = Math.floor((col * numClasses) / shape[1]) === label ? 0.6 : 0;
      pixels[i * size + k] = Math.round(255 * Math.min(1, 0.4 * r[i * size + k]! + bright));
    }
  }
  return {
    name: 'toy',
    pixels,
    labels,
    count: n,
    imageShape: shape,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, i) => String(i)),
  };
}

/**
 * A digest of a directory tree: every path, and every file's bytes. Two equal digests mean the
 * tree is byte-for-byte the same. `skip` leaves out names (transient lock files, while other
 * processes may hold them).
 */
export function treeDigest(dir: string, skip: (name: string) => boolean = () => false): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      h.update(`missing ${rel}\n`);
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (skip(e.name)) continue;
      const p = path.join(d, e.name);
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        h.update(`dir ${r}\n`);
        walk(p, r);
      } else {
        h.update(`file ${r}\n`);
        h.update(fs.readFileSync(p));
      }
    }
  };
  walk(dir, '');
  return h.digest('hex');
}
