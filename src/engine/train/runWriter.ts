import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendLine, writeJsonAtomic } from '../../runs/atomic';
import { formatFimlogHeader, formatFimlogLine, type FimlogKind, type FimlogValue } from '../../runs/fimlog';
import { makeRunId, runFile } from '../../runs/paths';
import { readJsonFile } from '../../runs/reader';
import type { MetricRecord, RunConfig, RunStatus, RunSummary } from '../../runs/types';

/** Writes one run directory. Every JSON file is replaced atomically; logs are append-only. */
export class RunWriter {
  private status: RunStatus;

  private constructor(
    readonly dir: string,
    status: RunStatus,
    /** Receives every line written to train.fimlog (the CLI prints them, the engine forwards them). */
    private readonly onLine?: (line: string) => void,
  ) {
    this.status = status;
  }

  /** Creates a new run directory under `storeDir` (a fresh, unique id). */
  static create(storeDir: string, config: RunConfig, totalSteps: number, onLine?: (line: string) => void): RunWriter {
    fs.mkdirSync(storeDir, { recursive: true });
    let id = makeRunId(config.name);
    for (let i = 2; fs.existsSync(path.join(storeDir, id)); i++) id = `${makeRunId(config.name)}-${i}`;
    const dir = path.join(storeDir, id);
    fs.mkdirSync(dir);
    writeJsonAtomic(runFile(dir, 'config'), config);
    const now = new Date().toISOString();
    const w = new RunWriter(
      dir,
      { state: 'running', pid: process.pid, hostname: os.hostname(), startedAt: now, updatedAt: now, epoch: 0, step: 0, totalSteps },
      onLine,
    );
    w.writeStatus();
    const header: Record<string, FimlogValue> = {
      run: id,
      model: path.basename(config.model),
      dataset: config.dataset,
      mu: config.mu,
      epochs: config.epochs,
      batch: config.batchSize,
      lr: config.learningRate,
      seed: config.seed,
    };
    if (config.labelSmoothing) header.label_smoothing = config.labelSmoothing;
    appendLine(runFile(dir, 'log'), formatFimlogHeader(header));
    return w;
  }

  /** Re-opens an existing run to continue it; it becomes `running` under this process. */
  static reopen(dir: string, onLine?: (line: string) => void): RunWriter {
    const prev = readJsonFile<RunStatus>(runFile(dir, 'status'));
    if (!prev) throw new Error(`${dir} has no readable status.json; it is not a run directory`);
    const w = new RunWriter(
      dir,
      { ...prev, state: 'running', pid: process.pid, hostname: os.hostname(), updatedAt: new Date().toISOString() },
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
}
