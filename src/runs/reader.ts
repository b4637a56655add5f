import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointProblem, listCheckpoints } from './checkpoints';
import { holderAlive, readLockHolder, runLockFile } from './lock';
import { checkpointDir, evalFile, RUN_FILES, runFile } from './paths';
import type { EffectiveState, MetricRecord, RunConfig, RunInfo, RunState, RunStatus, RunSummary } from './types';

/** Reads a JSON file; returns null when absent and reports (does not throw) when corrupt. */
export function readJsonFile<T>(file: string, problems?: string[]): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems?.push(`${path.basename(file)}: ${(e as Error).message}`);
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    problems?.push(`${path.basename(file)} is not valid JSON (${(e as Error).message})`);
    return null;
  }
}

export interface MetricsRead {
  records: MetricRecord[];
  /** Lines that could not be parsed (a torn last line after a crash, or corruption). */
  skippedLines: number;
}

export function readMetrics(runDir: string): MetricsRead {
  let text: string;
  try {
    text = fs.readFileSync(runFile(runDir, 'metrics'), 'utf8');
  } catch {
    return { records: [], skippedLines: 0 };
  }
  const records: MetricRecord[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as MetricRecord;
      if (rec && (rec.kind === 'step' || rec.kind === 'epoch')) records.push(rec);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  return { records, skippedLines };
}

/** True when `pid` is a live process on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A `running` status whose owner process is gone (SIGKILL, crash, reboot) is reported as
 * `incomplete`: the run stays readable and `fim train --resume` continues it.
 */
export function effectiveState(status: RunStatus | null): RunState | 'unreadable' {
  if (!status) return 'unreadable';
  if (status.state !== 'running') return status.state;
  if (status.hostname && status.hostname !== os.hostname()) return 'running';
  if (status.pid === undefined || !processAlive(status.pid)) return 'incomplete';
  return 'running';
}

/**
 * An eval file's `kind`, read from its first bytes (the writers put `kind` first), so listings do
 * not parse multi-megabyte inspection files; null when unreadable.
 */
export function readEvalKindField(runDir: string, name: string): string | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(evalFile(runDir, name), 'r');
    const buf = Buffer.alloc(512);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return /"kind"\s*:\s*"([a-z-]+)"/.exec(buf.subarray(0, n).toString('utf8'))?.[1] ?? null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function listEvals(runDir: string): string[] {
  try {
    return fs
      .readdirSync(path.join(runDir, RUN_FILES.evals))
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The state of a run directory: as effectiveState, but a `running` run on this host counts as
 * running only while a live process holds its lock (runs written before there were locks fall
 * back to status.json's pid).
 */
function liveState(runDir: string, status: RunStatus | null): RunState | 'unreadable' {
  const state = effectiveState(status);
  if (state !== 'running' || !status || (status.hostname && status.hostname !== os.hostname())) return state;
  const holder = readLockHolder(runLockFile(runDir));
  if (!holder) return fs.existsSync(runLockFile(runDir)) ? 'incomplete' : state;
  return holderAlive(holder) === false ? 'incomplete' : 'running';
}

/**
 * What is wrong with the checkpoint a run's results depend on, or null: the newest listed
 * checkpoint must be whole, and a run whose status names a checkpoint must have one.
 */
export function runCheckpointProblem(runDir: string, status: RunStatus | null, summary: RunSummary | null): string | null {
  const names = listCheckpoints(runDir);
  const newest = names[names.length - 1];
  if (!newest) {
    const named = summary?.checkpoint ?? status?.latestCheckpoint;
    return named ? `its checkpoint ${named} is missing (checkpoints/ holds no checkpoint)` : null;
  }
  return checkpointProblem(checkpointDir(runDir, newest));
}

export function readRun(runDir: string): RunInfo {
  const problems: string[] = [];
  const config = readJsonFile<RunConfig>(runFile(runDir, 'config'), problems);
  const status = readJsonFile<RunStatus>(runFile(runDir, 'status'), problems);
  const summary = readJsonFile<RunSummary>(runFile(runDir, 'summary'), problems);
  if (!config && problems.length === 0) problems.push('config.json is missing');
  let state: EffectiveState = liveState(runDir, status);
  // A run created before status.json was written cannot exist any more (creation is one rename),
  // but one from an older version can: with its config it is an incomplete run, not unreadable.
  if (state === 'unreadable' && config && !fs.existsSync(runFile(runDir, 'status'))) state = 'incomplete';
  let damage: string | undefined;
  if (state !== 'running' && state !== 'unreadable') {
    const problem = runCheckpointProblem(runDir, status, summary);
    if (problem) {
      damage = problem;
      problems.push(problem);
      if (state === 'completed' || state === 'stopped') state = 'damaged';
    }
  }
  return {
    id: path.basename(runDir),
    dir: path.resolve(runDir),
    config,
    status,
    effectiveState: state,
    ...(damage ? { damage } : {}),
    summary,
    evals: listEvals(runDir),
    problems,
  };
}

/** True when the directory looks like a run (has a config or status file). */
export function isRunDir(dir: string): boolean {
  return fs.existsSync(runFile(dir, 'config')) || fs.existsSync(runFile(dir, 'status'));
}

/** All runs under a store directory, newest first. A missing store is an empty list. */
export function listRuns(storeDir: string): RunInfo[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(storeDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(storeDir, e.name))
    .filter(isRunDir)
    .map(readRun)
    .sort((a, b) => b.id.localeCompare(a.id));
}
