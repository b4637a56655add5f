/**
 * Reproduction directories (`fim reproduce --out DIR`, src/runs/reproduce.ts) as the extension
 * shows them: found under the workspace's `.fim/` and wherever VS Code started one, read from
 * their plan.json, state.json and progress.json. No `vscode` import, so it is tested directly.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processAlive, readJsonFile } from '../runs/reader';
import { executorArgs, type ReproduceExecutorChoice } from '../protocol/reproduce';
import {
  REPRODUCE_FILES,
  type ReproducePlan,
  type ReproduceProgress,
  type ReproduceState,
  type ReproduceStatus,
  type StageState,
} from '../runs/reproduce';

export interface ReproductionInfo {
  dir: string;
  /** The directory's name, e.g. `reproduce-quick`. */
  name: string;
  plan: ReproducePlan | null;
  progress: ReproduceProgress | null;
  state: ReproduceState | null;
  /** A `fim reproduce` is working here now (its pid is alive). */
  live: boolean;
  /** Stages finished (this or an earlier invocation) and in the plan, when known. */
  done: number;
  total: number | null;
  failed: number;
  hasReport: boolean;
  /** Why parts could not be read. */
  problems: string[];
}

/** A directory looks like a reproduction when it has a plan, a state or a progress file. */
export function isReproductionDir(dir: string): boolean {
  return [REPRODUCE_FILES.plan, REPRODUCE_FILES.state, REPRODUCE_FILES.progress].some((f) => fs.existsSync(path.join(dir, f)));
}

/** A `running` progress written on this host by a process that is gone was interrupted. */
export function progressLive(p: ReproduceProgress | null, alive: (pid: number) => boolean = processAlive): boolean {
  if (!p || p.state !== 'running') return false;
  if (p.hostname && p.hostname !== os.hostname()) return true;
  return alive(p.pid);
}

export function readReproduction(dir: string, alive: (pid: number) => boolean = processAlive): ReproductionInfo {
  const problems: string[] = [];
  const plan = readJsonFile<ReproducePlan>(path.join(dir, REPRODUCE_FILES.plan), problems);
  const state = readJsonFile<ReproduceState>(path.join(dir, REPRODUCE_FILES.state), problems);
  const progress = readJsonFile<ReproduceProgress>(path.join(dir, REPRODUCE_FILES.progress), problems);
  const stages = Object.values(state?.stages ?? {});
  const fromProgress = progress?.stages.length ? progress.stages : null;
  const done = fromProgress
    ? fromProgress.filter((s) => s.status === 'done' || s.status === 'reused').length
    : stages.filter((s) => s.status === 'done').length;
  const failed = fromProgress
    ? fromProgress.filter((s) => s.status === 'failed').length
    : stages.filter((s) => s.status === 'failed').length;
  return {
    dir: path.resolve(dir),
    name: path.basename(dir),
    plan,
    progress,
    state,
    live: progressLive(progress, alive),
    done,
    total: fromProgress ? fromProgress.length : null,
    failed,
    hasReport: fs.existsSync(path.join(dir, REPRODUCE_FILES.reportHtml)),
    problems,
  };
}

/** Reproductions among the sub-directories of `parent` (the workspace's `.fim/`) and the extra dirs, newest first by name. */
export function findReproductions(parent: string | null, extra: readonly string[] = []): string[] {
  const found = new Set<string>();
  if (parent) {
    try {
      for (const e of fs.readdirSync(parent, { withFileTypes: true })) {
        const d = path.join(parent, e.name);
        if (e.isDirectory() && !e.name.startsWith('.') && isReproductionDir(d)) found.add(path.resolve(d));
      }
    } catch {
      // no .fim folder yet
    }
  }
  for (const d of extra) if (isReproductionDir(d)) found.add(path.resolve(d));
  return [...found].sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
}

/** One line for a tree item or a title: "quick · 12/40 stages · running". */
export function describeReproduction(r: ReproductionInfo): string {
  const parts: string[] = [];
  if (r.plan) parts.push(r.plan.mode);
  if (r.total !== null) parts.push(`${r.done}/${r.total} stages`);
  if (r.failed) parts.push(`${r.failed} failed`);
  if (r.live) {
    const c = r.progress?.current;
    parts.push(c ? `running: ${r.progress?.stages[c.index]?.title ?? c.key} ${Math.round(c.fraction * 100)}%` : 'running');
  } else if (r.progress?.state === 'running') parts.push('interrupted');
  else if (r.progress?.state === 'stopped') parts.push('stopped');
  else if (r.total !== null && r.done === r.total) parts.push('complete');
  return parts.join(' · ');
}

/** Overall fraction for a progress bar: finished stages plus the running stage's fraction. */
export function overallFraction(p: ReproduceProgress): number {
  if (p.stages.length === 0) return 0;
  const done = p.stages.filter((s) => s.status === 'done' || s.status === 'reused' || s.status === 'failed').length;
  return Math.min(1, (done + (p.current?.fraction ?? 0)) / p.stages.length);
}

/** What `fim reproduce` is run with from VS Code. */
export interface ReproduceChoice {
  mode: 'quick' | 'full' | 'custom';
  outDir: string;
  mus?: number[];
  seeds?: number;
  epochs?: number;
  samples?: number;
  tableSamples?: number;
  baselines?: boolean;
  /** Continue with the directory's own plan (`--plan DIR/plan.json`). */
  resume?: boolean;
}

/**
 * The CLI arguments for a choice (after `reproduce`), with where the stages run (`executorArgs`,
 * src/protocol/reproduce.ts); a Slurm submission is followed to its end (`--wait`).
 */
export function reproduceArgs(c: ReproduceChoice, backend: string, executor: ReproduceExecutorChoice = { executor: 'local' }): string[] {
  const where = executorArgs(executor);
  const args = ['reproduce', '--out', c.outDir, '--backend', backend, ...where, ...(where.length ? ['--wait'] : [])];
  if (c.resume) return [...args, '--plan', path.join(c.outDir, REPRODUCE_FILES.plan)];
  if (c.mode === 'quick') args.push('--quick');
  if (c.mus) args.push('--mu', c.mus.join(','));
  if (c.seeds !== undefined) args.push('--seeds', String(c.seeds));
  if (c.epochs !== undefined) args.push('--epochs', String(c.epochs));
  if (c.samples !== undefined) args.push('--samples', String(c.samples));
  if (c.tableSamples !== undefined) args.push('--table-samples', String(c.tableSamples));
  if (c.baselines === false) args.push('--no-baselines');
  return args;
}

/**
 * A Slurm reproduction's stages run on compute nodes, not in the `fim reproduce --wait` process
 * VS Code started, so its progress.json does not move: VS Code follows it with
 * `fim reproduce --status --json` (these arguments) and stops it with `--cancel`.
 */
export function statusArgs(outDir: string): string[] {
  return ['reproduce', '--status', '--json', '--out', outDir];
}

export function cancelArgs(outDir: string): string[] {
  return ['reproduce', '--cancel', '--out', outDir];
}

/** One progress line and the fraction of finished stages, from `fim reproduce --status --json`. */
export function describeStatus(st: ReproduceStatus): { message: string; fraction: number } {
  const n = st.stages.length;
  const finished = st.stages.filter((s) => s.state === 'done' || s.state === 'failed' || s.state === 'cancelled').length;
  const count = (k: StageState) => st.counts[k] ?? 0;
  const running = st.stages.filter((s) => s.state === 'running').map((s) => s.title);
  const parts = [
    `Slurm: ${count('done')}/${n} stages done`,
    ...(count('running')
      ? [`${count('running')} running${running.length ? ` (${running.slice(0, 2).join(', ')}${running.length > 2 ? ', …' : ''})` : ''}`]
      : []),
    ...(count('queued') ? [`${count('queued')} queued`] : []),
    ...(count('failed') ? [`${count('failed')} failed`] : []),
    ...(st.submission && !st.submission.active ? ['no job queued or running'] : []),
    ...(st.slurmProblem ? [`Slurm states unavailable: ${st.slurmProblem}`] : []),
  ];
  return { message: parts.join(' · '), fraction: n ? finished / n : 0 };
}
