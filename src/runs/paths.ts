import * as fs from 'node:fs';
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

/**
 * `rel` resolved against `dir`, or null when it leaves `dir` (`..`, an absolute path) or, once
 * symbolic links are resolved, points outside it. For file names that come from files a user
 * or a repository supplies (a model.json's weight paths).
 */
export function pathInside(dir: string, rel: string): string | null {
  if (typeof rel !== 'string' || rel === '' || path.isAbsolute(rel) || rel.includes('\0')) return null;
  const base = path.resolve(dir);
  const p = path.resolve(base, rel);
  if (!isWithin(p, base)) return null;
  const real = realPathOrNull(p);
  const realBase = realPathOrNull(base);
  if (real !== null && realBase !== null && !isWithin(real, realBase)) return null;
  return p;
}

/** Whether `p` is `root` or below it (both absolute and normalised). */
export function isWithin(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The real path (symbolic links resolved), or null when it does not exist. */
export function realPathOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * `p` when it exists and, with symbolic links resolved, lies inside one of `roots`; else null.
 * For paths that arrive from untrusted places (a webview message, a restored panel state).
 */
export function realPathWithin(p: unknown, roots: string[]): string | null {
  if (typeof p !== 'string' || p === '' || p.includes('\0')) return null;
  const real = realPathOrNull(path.resolve(p));
  if (real === null) return null;
  return roots.some((r) => {
    const rr = realPathOrNull(path.resolve(r));
    return rr !== null && isWithin(real, rr);
  })
    ? real
    : null;
}
