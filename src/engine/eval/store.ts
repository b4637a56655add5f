import { AsyncLocalStorage } from 'node:async_hooks';
import * as path from 'node:path';
import { makeDirs, removeDirAtomic, writeDirAtomic, writeJsonAtomic, writeSynced } from '../../runs/atomic';
import type { AnyEval } from '../../runs/evals';
import { acquireEvalLock, evalLockFile, type Lock } from '../../runs/lock';
import { evalFile, isWithin, RUN_FILES } from '../../runs/paths';
import { sweepEvalLeftovers } from '../../runs/sweep';
import { evalNameProblem } from '../../protocol/names';
import { InputError } from '../errors';

/**
 * The evaluation locks held by the current call chain (by lock file), so writeEval inside
 * withEvalLock reuses them. Per async context, not per process: two jobs of the engine process
 * evaluating the same name must still exclude each other.
 */
const held = new AsyncLocalStorage<Set<string>>();

/**
 * Runs an evaluation while holding the lock of its name (`<run>/.lock-eval-<name>`), from before its
 * first computation until it is written: a second evaluation of the same name is refused at
 * once with "in use by pid N", not after minutes of work. Evaluations of other names, and
 * training, go on meanwhile.
 */
export async function withEvalLock<T>(runDir: string, name: string, purpose: string, f: () => Promise<T> | T): Promise<T> {
  assertEvalName(name);
  const file = evalLockFile(runDir, name);
  const mine = held.getStore();
  if (mine?.has(file)) return f();
  const lock: Lock = acquireEvalLock(runDir, name, purpose);
  try {
    return await held.run(new Set([...(mine ?? []), file]), f);
  } finally {
    lock.release();
  }
}

/**
 * Writes `evals/<name>.json` and its images. The images go to a fresh version folder
 * `evals/<name>/<version>/`, published before the JSON; the JSON then switches to it in one
 * atomic rename, and older versions are removed after. So at every moment the JSON on disk
 * points at images that exist, also while an evaluation of the same name is replaced.
 *
 * Image keys are paths relative to evals/ starting with `<name>/` (e.g. `name/sample-3.png`);
 * every string in `value` equal to a key is rewritten in place to the versioned path, so the
 * caller's result and the file agree. Takes the name's lock unless withEvalLock holds it.
 */
export function writeEval(runDir: string, name: string, value: AnyEval, images: Map<string, Uint8Array> = new Map()): string {
  assertEvalName(name);
  const lockFile = evalLockFile(runDir, name);
  const own = held.getStore()?.has(lockFile) ? null : acquireEvalLock(runDir, name, 'writing an evaluation');
  try {
    // Image keys are checked before anything is written.
    const inner = new Map<string, string>();
    for (const rel of images.keys()) {
      const r = path.relative(name, rel);
      if (r === '' || !isWithin(path.resolve('/', name, r), path.resolve('/', name)))
        throw new Error(`image path ${rel} is not under ${name}/`);
      inner.set(rel, r);
    }
    const evalsDir = path.join(runDir, RUN_FILES.evals);
    makeDirs(evalsDir);
    const imgDir = path.join(evalsDir, name);
    let version: string | undefined;
    if (images.size > 0) {
      const v = `v${Date.now().toString(36)}-${process.pid}`;
      version = v;
      const renamed = new Map<string, string>();
      makeDirs(imgDir);
      writeDirAtomic(path.join(imgDir, v), (tmp) => {
        for (const [rel, data] of images) {
          const r = inner.get(rel)!;
          const file = path.join(tmp, r);
          makeDirs(path.dirname(file));
          writeSynced(file, data);
          renamed.set(rel, path.posix.join(name, v, ...r.split(path.sep)));
        }
      });
      rewriteStrings(value, renamed);
    }
    const file = evalFile(runDir, name);
    writeJsonAtomic(file, value);
    if (version === undefined) removeDirAtomic(imgDir);
    sweepEvalLeftovers(runDir, name, version);
    return file;
  } finally {
    own?.release();
  }
}

/** Replaces, in place, every string value of `v` (deeply) that `map` has a replacement for. */
function rewriteStrings(v: unknown, map: Map<string, string>): void {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') v[i] = map.get(x) ?? x;
      else rewriteStrings(x, map);
    }
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (typeof x === 'string') o[k] = map.get(x) ?? x;
      else rewriteStrings(x, map);
    }
  }
}

/** Refuses a name that is not a single safe path component (see protocol/names.ts); call it before any work. */
export function assertEvalName(name: string | undefined): void {
  if (name === undefined) return;
  const problem = evalNameProblem(name);
  if (problem) throw new InputError(problem);
}
