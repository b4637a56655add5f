import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendLine, fileSize, fsyncDir, makeDirs, parseTempName, tempName, writeJsonAtomic, writeSynced } from '../../runs/atomic';
import { formatFimlogHeader, formatFimlogLine, type FimlogKind, type FimlogValue } from '../../runs/fimlog';
import { acquireRunLock, relocateLock, runLockFile, type Lock } from '../../runs/lock';
import { makeRunId, runFile } from '../../runs/paths';
import type { MetricRecord, RunConfig, RunStatus, RunSummary } from '../../runs/types';

/**
 * Writes one run directory while holding its lock. Every JSON file is replaced atomically; logs
 * are append-only and synced. `close()` releases the lock.
 */
export class RunWriter {
  private status: RunStatus;

  private constructor(
    readonly dir: string,
    status: RunStatus,
    private readonly lock: Lock,
    /** Receives every line written to train.fimlog (the CLI prints them, the engine forwards them). */
    private readonly onLine?: (line: string) => void,
  ) {
    this.status = status;
  }

  /**
   * Creates a new run directory under `storeDir` (a fresh, unique id) in one rename: config.json,
   * status.json, the log header and the run's lock are written into a temp directory first, so
   * a run directory never exists without its status, and is locked from its first moment.
   */
  static create(storeDir: string, config: RunConfig, totalSteps: number, onLine?: (line: string) => void): RunWriter {
    makeDirs(storeDir);
    sweepStoreLeftovers(storeDir);
    const base = makeRunId(config.name);
    const tmp = path.join(storeDir, tempName(base));
    fs.mkdirSync(tmp);
    let lock: Lock | undefined;
    try {
      lock = acquireRunLock(tmp, 'training');
      const now = new Date().toISOString();
      const status: RunStatus = {
        state: 'running',
        pid: process.pid,
        hostname: os.hostname(),
        startedAt: now,
        updatedAt: now,
        epoch: 0,
        step: 0,
        totalSteps,
      };
      const header = (id: string): string => {
        const h: Record<string, FimlogValue> = {
          run: id,
          model: path.basename(config.model),
          dataset: config.dataset,
          mu: config.mu,
          epochs: config.epochs,
          batch: config.batchSize,
          lr: config.learningRate,
          seed: config.seed,
        };
        if (config.labelSmoothing) h.label_smoothing = config.labelSmoothing;
        return formatFimlogHeader(h) + '\n';
      };
      writeSynced(runFile(tmp, 'config'), JSON.stringify(config, null, 2) + '\n');
      writeSynced(runFile(tmp, 'status'), JSON.stringify(status, null, 2) + '\n');
      let dir = '';
      for (let i = 1; !dir; i++) {
        const id = i === 1 ? base : `${base}-${i}`;
        const candidate = path.join(storeDir, id);
        if (fs.existsSync(candidate)) continue;
        fs.rmSync(runFile(tmp, 'log'), { force: true });
        writeSynced(runFile(tmp, 'log'), header(id));
        fsyncDir(tmp);
        try {
          fs.renameSync(tmp, candidate);
          dir = candidate;
        } catch (e) {
          // Another process took the same id in the same second: the rename onto its non-empty
          // directory fails, and the next suffix is tried.
          const code = (e as NodeJS.ErrnoException).code;
          if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || i > 1000) throw e;
        }
      }
      fsyncDir(storeDir);
      const moved = relocateLock(lock, runLockFile(dir));
      return new RunWriter(dir, status, moved, onLine);
    } catch (e) {
      lock?.release();
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Re-opens an existing run to continue it (its lock already held); it becomes `running` under this process. */
  static reopen(dir: string, prev: RunStatus, lock: Lock, onLine?: (line: string) => void): RunWriter {
    const w = new RunWriter(
      dir,
      { ...prev, state: 'running', pid: process.pid, hostname: os.hostname(), updatedAt: new Date().toISOString() },
      lock,
      onLine,
    );
    delete w.status.message;
    w.writeStatus();
    return w;
  }

  get id(): string {
    return path.basename(this.dir);
  }

  updateStatus(patch: Partial<RunStatus>): void {
    this.status = { ...this.status, ...patch, updatedAt: new Date().toISOString() };
    this.writeStatus();
  }

  currentStatus(): RunStatus {
    return { ...this.status };
  }

  private writeStatus(): void {
    writeJsonAtomic(runFile(this.dir, 'status'), this.status);
  }

  metric(rec: MetricRecord): void {
    appendLine(runFile(this.dir, 'metrics'), JSON.stringify(rec));
  }

  log(kind: FimlogKind, fields: Record<string, FimlogValue>): string {
    const line = formatFimlogLine(kind, fields);
    appendLine(runFile(this.dir, 'log'), line);
    this.onLine?.(line);
    return line;
  }

  summary(s: RunSummary): void {
    writeJsonAtomic(runFile(this.dir, 'summary'), s);
  }

  /** Where the logs end now: a checkpoint records it, and resume cuts the logs back to it. */
  logSizes(): { metricsBytes: number; fimlogBytes: number } {
    return { metricsBytes: fileSize(runFile(this.dir, 'metrics')), fimlogBytes: fileSize(runFile(this.dir, 'log')) };
  }

  /** Releases the run's lock (after the last write). */
  close(): void {
    this.lock.release();
  }
}

/** Run directories that a killed `create` left half-made (temp directories of dead processes). */
function sweepStoreLeftovers(storeDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(storeDir);
  } catch {
    return;
  }
  // Only directories that hold nothing but what `create` writes: --out may name a directory that
  // holds other things too.
  const ours = new Set<string>(['config.json', 'status.json', 'train.fimlog', '.lock']);
  for (const n of names) {
    const t = parseTempName(n);
    if (!t || t.pid === process.pid) continue;
    let inside: string[];
    try {
      inside = fs.readdirSync(path.join(storeDir, n));
    } catch {
      continue;
    }
    if (!inside.every((f) => ours.has(f) || f.startsWith('.tmp-'))) continue;
    try {
      process.kill(t.pid, 0);
      continue; // its creator is still at work
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') continue;
    }
    fs.rmSync(path.join(storeDir, n), { recursive: true, force: true });
  }
}
