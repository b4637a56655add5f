import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../runs/atomic';
import { processAlive, readJsonFile } from '../runs/reader';
import { REPRODUCE_FORMAT_VERSION, type ReproduceState } from '../runs/reproduce';

/**
 * state.json is the one record of which stages finished. Under the Slurm executor many jobs, on
 * several nodes, update it at once, each its own stage's record; so every update is a
 * read-modify-write under a short exclusive lock (`state.json.lock`, created with O_EXCL, which
 * shared file systems honour), and each writer only replaces what it owns. The write itself is
 * atomic, so readers (`--status`, the report) never need the lock.
 *
 * The lock is held for milliseconds (a shard job that completes its stage holds it while it merges,
 * seconds). A lock whose owner died on this host, or that is older than STALE_MS whoever holds it
 * (another node's process cannot be checked), is broken.
 */
export const STATE_FILE = 'state.json';
const LOCK_FILE = 'state.json.lock';
const STALE_MS = 120_000;
const WAIT_MS = 10 * 60_000;

export function readState(outDir: string): ReproduceState {
  const s = readJsonFile<ReproduceState>(path.join(outDir, STATE_FILE));
  if (s && s.formatVersion === REPRODUCE_FORMAT_VERSION && s.stages) return { ...s, sessions: s.sessions ?? [] };
  return { formatVersion: REPRODUCE_FORMAT_VERSION, stages: {}, sessions: [] };
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function takeLock(file: string): void {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify({ host: os.hostname(), pid: process.pid, at: new Date().toISOString() }));
      fs.closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readJsonFile<{ host?: string; pid?: number }>(file);
    let age: number;
    try {
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    const deadHere = owner?.host === os.hostname() && owner.pid !== undefined && owner.pid !== process.pid && !processAlive(owner.pid);
    if (deadHere || age > STALE_MS) {
      // Rename first: of two processes breaking the same stale lock, only one succeeds.
      const broken = `${file}.broken-${process.pid}-${Date.now()}`;
      try {
        fs.renameSync(file, broken);
        fs.rmSync(broken, { force: true });
      } catch {
        /* another process broke it first */
      }
      continue;
    }
    if (Date.now() - started > WAIT_MS)
      throw new Error(
        `${file} has been held for ${Math.round(age / 1000)} s by ${owner?.host ?? '?'} pid ${owner?.pid ?? '?'}; remove it if that process is gone`,
      );
    sleep(Math.min(200, 10 + attempt * 10));
  }
}

/**
 * Reads state.json, lets `update` change it, and writes it back, all under the lock. Returns the
 * state as written (with everyone else's latest records).
 */
export function updateState(outDir: string, update: (state: ReproduceState) => void): ReproduceState {
  fs.mkdirSync(outDir, { recursive: true });
  const lock = path.join(outDir, LOCK_FILE);
  takeLock(lock);
  try {
    const state = readState(outDir);
    update(state);
    writeJsonAtomic(path.join(outDir, STATE_FILE), state);
    return state;
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
