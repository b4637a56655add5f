import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsyncDir, makeDirs, tempName } from './atomic';
import { RunStoreError } from './errors';

/**
 * Exclusive locks on run-store directories: one training (or resume) per run, one writer per
 * evaluation name, one `fim reproduce` per reproduction directory.
 *
 * A lock is a small JSON file naming its holder (pid, host, start time of the process). It is
 * created complete: written to a temp file, fsynced, then `link`ed to the lock name, which fails
 * when the name exists (the O_EXCL of a link), so no reader ever sees a half-written lock. A lock
 * is stale when its holder is dead on this host: the pid is gone, or it now belongs to a process
 * started at another time (pid reuse, checked through /proc where there is one). A stale lock is
 * taken over; a live one, or one held on another host (which cannot be checked from here), is
 * refused with a `RunLockedError` naming the holder.
 */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** What the holder is doing, for the message the next one gets ("training", "inspect"). */
  purpose: string;
  startedAt: string;
  /** Start time of the holder process (Linux /proc/<pid>/stat field 22), to detect pid reuse. */
  processStart?: string;
  /** Identifies this acquisition, so a release never removes a lock someone else took over. */
  token: string;
}

export interface Lock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock if it is still this one; safe to call twice. */
  release(): void;
}

/** Another process holds the lock. */
export class RunLockedError extends RunStoreError {
  constructor(
    message: string,
    readonly holder: LockHolder,
  ) {
    super(message);
    this.name = 'RunLockedError';
  }
}

/** The lock of a run directory (training, resume, and what marks a dead run incomplete). */
export function runLockFile(runDir: string): string {
  return path.join(runDir, '.lock');
}

/**
 * The lock of one evaluation name of a run, at the run's top level (a dot name, which readers
 * ignore), so that an evaluation refused before it starts leaves no evals/ folder behind.
 */
export function evalLockFile(runDir: string, name: string): string {
  return path.join(runDir, `.lock-eval-${name}`);
}

function processStartOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses; the fields after its last ')' are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the holder still runs: true, false, or 'unknown' for a holder on another host. */
export function holderAlive(h: LockHolder): boolean | 'unknown' {
  if (h.hostname && h.hostname !== os.hostname()) return 'unknown';
  if (!Number.isInteger(h.pid) || h.pid <= 0 || !pidAlive(h.pid)) return false;
  if (h.processStart !== undefined) {
    const now = processStartOf(h.pid);
    if (now !== undefined && now !== h.processStart) return false;
  }
  return true;
}

/** The holder named by a lock file, or null when there is none (or it is unreadable). */
export function readLockHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolder> | null;
    if (!h || typeof h !== 'object' || typeof h.pid !== 'number') return null;
    // Older lock files (the reproduction's before this module) hold only pid, hostname and startedAt.
    return { hostname: '', purpose: '', startedAt: '', token: '', ...h } as LockHolder;
  } catch {
    return null;
  }
}

/** Whether a live process (or one on another host) holds the lock. */
export function isLocked(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const h = readLockHolder(file);
  return h !== null && holderAlive(h) !== false;
}

/** "pid 12 on host h (training, since …)", with what the lock file says (older ones say less). */
export function describeHolder(h: LockHolder): string {
  const where = !h.hostname || h.hostname === os.hostname() ? '' : ` on host ${h.hostname}`;
  const what = [h.purpose, h.startedAt ? `since ${h.startedAt}` : ''].filter(Boolean).join(', ');
  return `pid ${h.pid}${where}${what ? ` (${what})` : ''}`;
}

let ownStart: string | undefined | null = null;

function tryCreate(file: string, holder: LockHolder): boolean {
  const dir = path.dirname(file);
  const tmp = path.join(dir, tempName(path.basename(file)));
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, JSON.stringify(holder) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
    fsyncDir(dir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes a stale lock, unless it changed since it was judged stale. Breakers take turns through
 * a second lock file, so two processes that both found the same stale lock cannot remove each
 * other's fresh one. A breaker that died while holding that file leaves it for a few seconds only.
 */
function breakStale(file: string, stale: LockHolder | null): void {
  const guard = `${file}.break`;
  let fd: number;
  try {
    fd = fs.openSync(guard, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.rmSync(guard, { force: true });
    } catch {
      // gone meanwhile
    }
    return;
  }
  try {
    const now = readLockHolder(file);
    const same = JSON.stringify(now) === JSON.stringify(stale);
    if (same) fs.rmSync(file, { force: true });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(guard, { force: true });
  }
}

function lockHandle(file: string, holder: LockHolder): Lock {
  let released = false;
  return {
    file,
    holder,
    release() {
      if (released) return;
      released = true;
      if (readLockHolder(file)?.token === holder.token) {
        fs.rmSync(file, { force: true });
        fsyncDir(path.dirname(file));
      }
    },
  };
}

export interface LockOptions {
  /** What the holder does, shown to whoever finds the lock taken. */
  purpose: string;
  /** The error message when a live process holds the lock. */
  busy: (holder: LockHolder) => string;
}

/** Takes the lock at `file` (its directory must exist), or throws RunLockedError. */
export function acquireLock(file: string, opts: LockOptions): Lock {
  if (ownStart === null) ownStart = processStartOf(process.pid);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    purpose: opts.purpose,
    startedAt: new Date().toISOString(),
    ...(ownStart !== undefined ? { processStart: ownStart } : {}),
    token: crypto.randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, holder)) return lockHandle(file, holder);
    const other = readLockHolder(file);
    if (other && holderAlive(other) !== false) throw new RunLockedError(opts.busy(other), other);
    breakStale(file, other);
  }
  const other = readLockHolder(file);
  throw new RunLockedError(
    other ? opts.busy(other) : `cannot take the lock ${file}; remove it if no process uses it`,
    other ?? { pid: 0, hostname: '', purpose: 'unknown', startedAt: '', token: '' },
  );
}

/**
 * The same lock after the directory holding it was renamed (a run created in a temp directory
 * and published): the holder is unchanged, only its path.
 */
export function relocateLock(lock: Lock, newFile: string): Lock {
  return lockHandle(newFile, lock.holder);
}

/** The lock of a run for training, resume or marking it incomplete. */
export function acquireRunLock(runDir: string, purpose: string): Lock {
  return acquireLock(runLockFile(runDir), {
    purpose,
    busy: (h) =>
      `run ${path.basename(runDir)} is in use by ${describeHolder(h)}; wait for it to finish or stop it${h.hostname === os.hostname() ? '' : `, or remove ${runLockFile(runDir)} if that process is gone`}`,
  });
}

/** The lock of one evaluation name of a run, held from before the evaluation starts until it is written. */
export function acquireEvalLock(runDir: string, name: string, purpose: string): Lock {
  return acquireLock(evalLockFile(runDir, name), {
    purpose,
    busy: (h) => `evaluation ${name} of run ${path.basename(runDir)} is in use by ${describeHolder(h)}; wait for it or use another --name`,
  });
}

/**
 * The lock of a `fim reproduce` directory (`<dir>/.lock`): one reproduction, or one submission of
 * its stages to a cluster, per directory at a time.
 */
export function acquireReproduceLock(outDir: string, purpose = 'fim reproduce'): Lock {
  makeDirs(outDir);
  return acquireLock(path.join(outDir, '.lock'), {
    purpose,
    busy: (h) =>
      `another fim reproduce (pid ${h.pid}${h.hostname && h.hostname !== os.hostname() ? ` on host ${h.hostname}` : ''}${h.startedAt ? `, since ${h.startedAt}` : ''}) is working in ${outDir}; wait for it or stop it`,
  });
}

/** Runs `f` while holding a lock, releasing it however `f` ends. */
export async function withLock<T>(lock: Lock, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } finally {
    lock.release();
  }
}
