import * as path from 'node:path';

/** File names inside a run directory (see types.ts for what each holds). */
export const RUN_FILES = {
  config: 'config.json',
  status: 'status.json',
  metrics: 'metrics.jsonl',
  log: 'train.fimlog',
  summary: 'summary.json',
  checkpoints: 'checkpoints',
  evals: 'evals',
} as const;

/** Default store location, relative to the working directory (CLI) or workspace folder (extension). */
export const DEFAULT_RUNS_DIR = path.join('.fim', 'runs');

export function runFile(runDir: string, key: keyof typeof RUN_FILES): string {
  return path.join(runDir, RUN_FILES[key]);
}

export function checkpointDir(runDir: string, name: string): string {
  return path.join(runDir, RUN_FILES.checkpoints, name);
}

export function evalFile(runDir: string, name: string): string {
  return path.join(runDir, RUN_FILES.evals, `${name}.json`);
}

/** A run id: sortable timestamp + a file-system-safe name. */
export function makeRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-').replace('T', 'T').slice(0, 19);
  const safe =
    name
      .replace(/[^A-Za-z0-9_.=-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'run';
  return `${stamp}-${safe}`;
}
