import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunStoreError } from './errors';

/**
 * The run store's writers. Every write follows the same order, so that a process killed at any
 * point, and (as far as the file system keeps its promises) a power loss, leaves either the old
 * or the new state, never a torn one: write the data to a temp name, fsync it, rename it into
 * place, fsync the directory that holds the name. Temp names start with `.tmp-`, which readers
 * ignore and `sweep.ts` removes when the run is next opened for writing.
 */

/** `.tmp-<base>-<pid>-<ms>`: the pid lets a sweep tell a dead writer's leftovers from a live one's. */
export function tempName(base: string): string {
  return `.tmp-${base}-${process.pid}-${Date.now()}`;
}

/** Parses a temp name: the base it stands for and the pid of its writer (null when it is not one). */
export function parseTempName(name: string): { base: string; pid: number } | null {
  const m = /^\.tmp-(.*)-(\d+)-(\d+)(?:-old)?$/.exec(name);
  return m ? { base: m[1]!, pid: Number(m[2]) } : null;
}

/** fsync of a directory, so that the names created, renamed or removed in it survive a power loss. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // a directory that cannot be opened for reading (Windows) cannot be synced either
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    // Some file systems and platforms refuse fsync on a directory; the rename itself was done.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'EBADF') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `mkdir -p` that fails with a clear message instead of Node's recursive mkdir, which spins
 * forever under /proc and reports a file in the way as a bare EEXIST. Each created directory's
 * parent is synced.
 */
export function makeDirs(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a file further up; the walk finds it and says so.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new RunStoreError(`cannot use ${abs}: ${cur} is not accessible (${code ?? (e as Error).message})`);
    }
    if (st) {
      if (!st.isDirectory()) throw new RunStoreError(`cannot use ${abs}: ${cur} is a file, not a directory`);
      break;
    }
    missing.push(cur);
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(d).isDirectory()) continue; // made meanwhile by another process
      throw new RunStoreError(`cannot create the directory ${d} (${code ?? (e as Error).message})`);
    }
    fsyncDir(path.dirname(d));
  }
}

/** Writes `data` to a new file and fsyncs it (no rename: the caller publishes it). */
export function writeSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'wx');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces a file so that readers see either the old or the new content, never a torn one:
 * write a sibling temp file, fsync it, rename it over the target, fsync the directory.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  makeDirs(dir);
  const tmp = path.join(dir, tempName(path.basename(file)));
  try {
    writeSynced(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** fsyncs every file and directory under `dir` (what `fill` wrote before a directory is published). */
export function fsyncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) {
      const fd = fs.openSync(p, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}

/**
 * Publishes a directory with one rename: `fill` writes into a temp directory next to `target`,
 * everything is fsynced, then the temp directory is renamed to `target` and the parent synced.
 * `target` must not exist (a rename cannot replace a non-empty directory atomically); callers
 * that replace one use a fresh name per version (evaluation images) or keep the existing one
 * (a checkpoint of the same training position).
 */
export function writeDirAtomic(target: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(target);
  makeDirs(parent);
  if (fs.existsSync(target)) throw new RunStoreError(`${target} already exists`);
  const tmp = path.join(parent, tempName(path.basename(target)));
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    fsyncTree(tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
}

/**
 * Removes a directory so that readers never see it half-deleted: one rename to a temp name
 * (readers ignore it from then on), a sync of the parent, then the recursive delete. A process
 * killed during the delete leaves only the temp directory, which the next sweep removes.
 */
export function removeDirAtomic(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const parent = path.dirname(dir);
  const doomed = path.join(parent, tempName(`del-${path.basename(dir)}`));
  fs.renameSync(dir, doomed);
  fsyncDir(parent);
  fs.rmSync(doomed, { recursive: true, force: true });
}

/**
 * Appends one line and fsyncs it (the directory too, when the file is new). A crash can tear only
 * the last line, which readers skip and resume truncates away.
 */
export function appendLine(file: string, line: string): void {
  const isNew = !fs.existsSync(file);
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line.endsWith('\n') ? line : line + '\n');
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (isNew) fsyncDir(path.dirname(file));
}

/** Cuts a file back to `bytes` (records written after a checkpoint), synced. */
export function truncateSynced(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Size of a file in bytes, 0 when it does not exist. */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
