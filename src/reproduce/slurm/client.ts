import { spawnSync } from 'node:child_process';
import { readState } from '../stateStore';

/**
 * The Slurm commands the executor uses — sbatch, squeue, sacct, scancel — behind one interface,
 * so that the unit tests can stand in for a cluster (the real one is tested by
 * scripts/slurm-ci.sh). Slurm's own state is only ever asked, never copied: state.json says
 * which stages finished, Slurm says what its jobs are doing.
 */
export interface SlurmJobState {
  state: string;
  reason?: string;
}

export interface SlurmClient {
  /** Submits a batch script; returns the job id. */
  sbatch(script: string, args: string[]): string;
  /** States of the given jobs (array tasks as `<id>_<task>`) that Slurm still knows; finished ones too with `all`. */
  squeue(ids: string[], all: boolean): Map<string, SlurmJobState>;
  /** States from the accounting database, or null where accounting is disabled. */
  sacct(ids: string[]): Map<string, SlurmJobState> | null;
  scancel(ids: string[]): void;
}

/** A Slurm command that cannot be run here or that failed: its message says which and why. */
export class SlurmError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
    this.name = 'SlurmError';
  }
}

/** States after which a job will not run again (squeue's and sacct's long names). */
const FINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED',
  'SPECIAL_EXIT',
  'REVOKED',
]);

/** Whether a job in this state may still run (or is running). sacct writes "CANCELLED by 0". */
export function isActive(state: string): boolean {
  return !FINAL.has(state.split(' ')[0]!);
}

function run(cmd: string, args: string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SlurmError(
      missing
        ? `${cmd} is not on the PATH: run this on a Slurm login node (or where the Slurm client commands work)`
        : `${cmd}: ${r.error.message}`,
      missing,
    );
  }
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? 1 };
}

function parseStates(text: string): Map<string, SlurmJobState> {
  const out = new Map<string, SlurmJobState>();
  for (const line of text.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (!id || !state) continue;
    out.set(id, { state, ...(reason && reason !== 'None' ? { reason } : {}) });
  }
  return out;
}

export const systemSlurm: SlurmClient = {
  sbatch(script, args) {
    const r = run('sbatch', ['--parsable', ...args, script]);
    const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (r.status !== 0 || !id) throw new SlurmError(`sbatch ${script} failed: ${(r.stderr || r.stdout).trim() || `exit code ${r.status}`}`);
    return id;
  },
  squeue(ids, all) {
    if (ids.length === 0) return new Map();
    const r = run('squeue', ['-h', '-r', ...(all ? ['-t', 'all'] : []), '-o', '%i|%T|%r', '-j', ids.join(',')]);
    // Jobs Slurm has forgotten make squeue fail with "Invalid job id specified" when none is left.
    if (r.status !== 0) {
      if (/Invalid job id/i.test(r.stderr)) return new Map();
      throw new SlurmError(`squeue failed: ${r.stderr.trim() || `exit code ${r.status}`}`);
    }
    return parseStates(r.stdout);
  },
  sacct(ids) {
    if (ids.length === 0) return new Map();
    let r;
    try {
      r = run('sacct', ['-n', '-P', '-X', '-o', 'JobID,State,Reason', '-j', ids.join(',')]);
    } catch {
      return null;
    }
    if (r.status !== 0) return null;
    return parseStates(r.stdout);
  },
  scancel(ids) {
    if (ids.length === 0) return;
    const r = run('scancel', ids);
    if (r.status !== 0) throw new SlurmError(`scancel failed: ${r.stderr.trim() || `exit code ${r.status}`}`);
  },
};

/** Every job id of a submission: its arrays and the report job. */
export function submissionJobIds(jobs: { id: string }[], reportJob?: string): string[] {
  return [...jobs.map((j) => j.id), ...(reportJob ? [reportJob] : [])];
}

/**
 * Why this reproduction directory is busy with Slurm jobs (the latest submission has jobs queued
 * or running), or null. Where the Slurm commands are missing, nothing can be queued from here.
 */
export function activeSubmissionProblem(outDir: string, client: SlurmClient = systemSlurm): string | null {
  const sub = readState(outDir).slurm?.at(-1);
  if (!sub) return null;
  const ids = submissionJobIds(sub.jobs, sub.reportJob);
  let states: Map<string, SlurmJobState>;
  try {
    states = client.squeue(ids, false);
  } catch (e) {
    // No Slurm here: nothing can be queued from this machine. Slurm failing: it may be.
    if (e instanceof SlurmError && e.missing) return null;
    return `cannot tell whether the Slurm submission of ${outDir} (${sub.submittedAt}) still has jobs queued (${(e as Error).message.trim()}); run this where squeue works, or stop it with fim reproduce --cancel`;
  }
  const active = [...states].filter(([, s]) => isActive(s.state));
  if (active.length === 0) return null;
  return `a Slurm submission of ${outDir} (${sub.submittedAt}) still has ${active.length} job(s) queued or running (${active
    .slice(0, 4)
    .map(([id, s]) => `${id} ${s.state}`)
    .join(', ')}${active.length > 4 ? ', …' : ''}); follow it with fim reproduce --status, or stop it with fim reproduce --cancel`;
}
