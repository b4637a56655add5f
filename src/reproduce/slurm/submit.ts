import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../runs/atomic';
import { acquireReproduceLock, holderAlive, readLockHolder } from '../../runs/lock';
import type {
  ReproducePlan,
  ReproduceStatus,
  SlurmJob,
  SlurmOptions,
  SlurmSubmission,
  SlurmTaskState,
  StageState,
  StageStatus,
} from '../../runs/reproduce';
import { FILES, outputsExist, stageDone } from '../orchestrate';
import { fingerprint, stagesOf } from '../plan';
import { readState, updateState } from '../stateStore';
import { readPlan } from '../stageJob';
import {
  activeSubmissionProblem,
  isActive,
  SlurmError,
  submissionJobIds,
  systemSlurm,
  type SlurmClient,
  type SlurmJobState,
} from './client';
import { dependencyOf, groupScript, jobGroups, reportScript, taskLog, type ScriptContext } from './jobs';
import { InputError } from '../../engine';

/**
 * `fim reproduce --executor slurm`: submits the unfinished stages of a reproduction as Slurm jobs
 * (slurm/jobs.ts) and records the submission in state.json; `--status`, `--cancel` and `--wait`
 * read it back. The jobs run `fim reproduce --stage` (stageJob.ts) on the compute nodes, against
 * the same directory, which must be on a file system the login node and the nodes share.
 */
export interface SubmitOptions extends SlurmOptions {
  /** Print the scripts and the sbatch calls instead of submitting. */
  dryRun?: boolean;
  /** The fim command on the nodes [this node binary, its flags and this CLI script]. */
  fimCommand?: string[];
}

export interface SubmittedScript {
  name: string;
  /** Where it was written (absent in a dry run). */
  file?: string;
  text: string;
  /** The sbatch arguments besides the script (the dependency, with placeholders in a dry run). */
  sbatchArgs: string[];
  tasks: number;
}

export interface SubmitResult {
  outDir: string;
  dryRun: boolean;
  /** Stages already done (not submitted) and stages submitted. */
  done: number;
  submitted: number;
  tasks: number;
  scripts: SubmittedScript[];
  submission?: SlurmSubmission;
}

/** The fim command line of this process, for the jobs to run the same installation. */
export function thisFimCommand(): string[] {
  return [process.execPath, ...process.execArgv, path.resolve(process.argv[1] ?? 'fim')];
}

const tagOf = (outDir: string) =>
  path
    .basename(outDir)
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, 24) || 'repro';

export function submitReproduce(
  plan: ReproducePlan,
  outDir: string,
  opts: SubmitOptions = {},
  client: SlurmClient = systemSlurm,
): SubmitResult {
  outDir = path.resolve(outDir);
  if (opts.shards !== undefined && !(Number.isInteger(opts.shards) && opts.shards >= 1))
    throw new InputError(`--shards must be an integer ≥ 1 (got ${opts.shards})`);
  const dry = Boolean(opts.dryRun);
  if (!dry) fs.mkdirSync(path.join(outDir, FILES.runs), { recursive: true });
  // One submission (or local run) per directory at a time: the run store's reproduction lock.
  const held = dry ? null : acquireReproduceLock(outDir, 'fim reproduce --executor slurm (submitting)');
  try {
    if (!dry) {
      const busy = activeSubmissionProblem(outDir, client);
      if (busy) throw new InputError(`${busy}; a second submission is refused`);
      writeJsonAtomic(path.join(outDir, FILES.plan), plan);
    }
    const state = readState(outDir);
    const stages = stagesOf(plan);
    const groups = jobGroups(stages, state, outDir, opts);
    const submittedStages = new Set(groups.flatMap((g) => g.tasks.map((t) => t.stage.key)));
    const result: SubmitResult = {
      outDir,
      dryRun: dry,
      done: stages.length - submittedStages.size,
      submitted: submittedStages.size,
      tasks: groups.reduce((n, g) => n + g.tasks.length, 0),
      scripts: [],
    };
    if (groups.length === 0) return result;
    const options: SlurmOptions = {
      ...(opts.partition ? { partition: opts.partition } : {}),
      ...(opts.account ? { account: opts.account } : {}),
      ...(opts.time ? { time: opts.time } : {}),
      ...(opts.cpusPerTask ? { cpusPerTask: opts.cpusPerTask } : {}),
      ...(opts.gpusPerTask ? { gpusPerTask: opts.gpusPerTask } : {}),
      ...(opts.sbatchArgs?.length ? { sbatchArgs: opts.sbatchArgs } : {}),
      ...(opts.shards ? { shards: opts.shards } : {}),
    };
    const ctx: ScriptContext = { outDir, fim: opts.fimCommand ?? thisFimCommand(), cwd: process.cwd(), options, tag: tagOf(outDir) };
    const submittedAt = new Date().toISOString();
    const scriptDir = path.join(outDir, 'slurm', submittedAt.replace(/[:.]/g, '-'));
    const ids: string[] = [];
    const jobs: SlurmJob[] = [];
    const submit = (name: string, text: string, args: string[], tasks: number): string => {
      const file = path.join(scriptDir, `${name}.sh`);
      result.scripts.push({ name, ...(dry ? {} : { file }), text, sbatchArgs: args, tasks });
      if (dry) return `<${name}>`;
      writeFileAtomic(file, text);
      return client.sbatch(file, args);
    };
    try {
      if (!dry) fs.mkdirSync(path.join(outDir, 'slurm', 'logs'), { recursive: true });
      for (const g of groups) {
        const dep = dependencyOf(g, ids);
        const id = submit(g.name, groupScript(ctx, g), dep ? [`--dependency=${dep}`] : [], g.tasks.length);
        ids.push(id);
        jobs.push({
          id,
          name: g.name,
          script: path.relative(outDir, path.join(scriptDir, `${g.name}.sh`)),
          tasks: g.tasks.map((t, i) => ({ stage: t.stage.key, ...(t.shard ? { shard: t.shard } : {}), log: taskLog(g.name, id, i) })),
          ...(dep ? { dependency: dep } : {}),
        });
      }
      const reportDep = `afterany:${ids.join(':')}`;
      const reportJob = submit('report', reportScript(ctx), [`--dependency=${reportDep}`], 0);
      const submission: SlurmSubmission = { submittedAt, host: os.hostname(), options, jobs, reportJob };
      result.submission = submission;
      if (!dry) updateState(outDir, (st) => (st.slurm = [...(st.slurm ?? []), submission]));
    } catch (e) {
      // Half a submission would run stages whose dependants are missing: take it back.
      if (!dry && ids.length > 0) {
        try {
          client.scancel(ids);
        } catch {
          /* reported below */
        }
        throw new InputError(`${(e as Error).message}; cancelled the ${ids.length} job(s) already submitted (${ids.join(', ')})`);
      }
      if (e instanceof SlurmError) throw new InputError(e.message);
      throw e;
    }
    return result;
  } finally {
    held?.release();
  }
}

/** Slurm's view of every task of a submission (squeue while it knows them, then sacct). */
function slurmStates(sub: SlurmSubmission, client: SlurmClient, strict: boolean): { states: Map<string, SlurmJobState>; problem?: string } {
  const ids = [...sub.jobs.flatMap((j) => j.tasks.map((_, i) => `${j.id}_${i}`)), ...(sub.reportJob ? [sub.reportJob] : [])];
  try {
    const states = client.squeue(ids, true);
    // Jobs of a single-task array may be listed under the array id.
    for (const j of sub.jobs)
      if (j.tasks.length === 1 && !states.has(`${j.id}_0`) && states.has(j.id)) states.set(`${j.id}_0`, states.get(j.id)!);
    const unknown = ids.filter((id) => !states.has(id));
    if (unknown.length > 0) {
      const acct = client.sacct(unknown);
      for (const [id, s] of acct ?? []) if (!states.has(id)) states.set(id, s);
      if (!acct && unknown.length === ids.length)
        return {
          states,
          problem: 'Slurm no longer knows these jobs and has no accounting (sacct); state.json still says which stages finished',
        };
    }
    return { states };
  } catch (e) {
    if (strict) throw e;
    return { states: new Map(), problem: (e as Error).message };
  }
}

/** Whether a local `fim reproduce` holds the directory lock right now (it runs stages itself). */
function localRunAlive(outDir: string): boolean {
  const owner = readLockHolder(path.join(outDir, FILES.lock));
  return owner !== null && owner.pid !== process.pid && holderAlive(owner) === true;
}

/** Each stage's state, with its Slurm tasks' states, for `fim reproduce --status`. */
export function reproduceStatus(outDir: string, client: SlurmClient = systemSlurm, opts: { strict?: boolean } = {}): ReproduceStatus {
  outDir = path.resolve(outDir);
  const plan = readPlan(outDir);
  const state = readState(outDir);
  const sub = state.slurm?.at(-1);
  const { states, problem } = sub
    ? slurmStates(sub, client, Boolean(opts.strict))
    : { states: new Map<string, SlurmJobState>(), problem: undefined };
  const tasksOf = new Map<string, SlurmTaskState[]>();
  for (const j of sub?.jobs ?? [])
    j.tasks.forEach((t, i) => {
      const id = `${j.id}_${i}`;
      const s = states.get(id);
      const list = tasksOf.get(t.stage) ?? [];
      list.push({
        job: id,
        state: s?.state ?? 'UNKNOWN',
        ...(s?.reason ? { reason: s.reason } : {}),
        log: t.log,
        ...(t.shard ? { shard: t.shard } : {}),
      });
      tasksOf.set(t.stage, list);
    });
  const local = localRunAlive(outDir);
  const stages: StageStatus[] = stagesOf(plan).map((s) => {
    const rec = state.stages[s.key];
    const current = rec && rec.fingerprint === fingerprint(s.params) ? rec : undefined;
    const tasks = tasksOf.get(s.key);
    const anyIn = (...names: string[]) => tasks?.some((t) => names.includes(t.state.split(' ')[0]!)) ?? false;
    let st: StageState;
    let message = current?.message;
    if (current && stageDone(outDir, state, s)) st = 'done';
    else if (current?.status === 'done' && !outputsExist(outDir, current)) {
      st = 'pending';
      message = 'its outputs were deleted; it runs again';
    } else if (current?.status === 'failed') st = 'failed';
    else if (anyIn('RUNNING', 'COMPLETING', 'CONFIGURING')) st = 'running';
    // A local run refuses while a submission has jobs, so a live local run runs its started stage.
    else if (current?.status === 'started') st = local ? 'running' : anyIn('PENDING', 'REQUEUED') ? 'queued' : 'interrupted';
    else if (anyIn('PENDING', 'REQUEUED', 'SUSPENDED')) st = 'queued';
    else if (anyIn('CANCELLED')) st = 'cancelled';
    else if (anyIn('FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL')) {
      st = 'failed';
      message ??= 'its Slurm job ended before the stage could record anything; see the log';
    } else st = 'pending';
    const log = current?.log ?? tasks?.find((t) => !['COMPLETED', 'UNKNOWN', 'PENDING'].includes(t.state))?.log ?? tasks?.[0]?.log;
    return {
      key: s.key,
      kind: s.kind,
      title: s.title,
      state: st,
      attempts: current?.attempts ?? 0,
      wallSeconds: current?.wallSeconds ?? 0,
      ...(message ? { message } : {}),
      ...(log && st !== 'done' ? { log } : {}),
      ...(current?.shards ? { shards: { count: current.shards.count, done: current.shards.done } } : {}),
      ...(tasks ? { slurm: tasks } : {}),
    };
  });
  const counts: Partial<Record<StageState, number>> = {};
  for (const s of stages) counts[s.state] = (counts[s.state] ?? 0) + 1;
  const subIds = sub ? submissionJobIds(sub.jobs, sub.reportJob) : [];
  const reportState = sub?.reportJob ? states.get(sub.reportJob) : undefined;
  const active =
    Boolean(sub) &&
    (stages.some((s) => s.slurm?.some((t) => isActive(t.state) && t.state !== 'UNKNOWN')) ||
      (reportState ? isActive(reportState.state) : false));
  const html = path.join(outDir, FILES.reportHtml);
  return {
    outDir,
    mode: plan.mode,
    complete: stages.every((s) => s.state === 'done'),
    counts,
    stages,
    ...(sub
      ? {
          submission: {
            submittedAt: sub.submittedAt,
            host: sub.host,
            jobs: subIds,
            active,
            ...(sub.cancelledAt ? { cancelledAt: sub.cancelledAt } : {}),
            ...(sub.reportJob ? { reportJob: sub.reportJob } : {}),
          },
        }
      : {}),
    ...(problem ? { slurmProblem: problem } : {}),
    report: { html, exists: fs.existsSync(html) },
  };
}

/** `fim reproduce --cancel`: scancel every job of the latest submission still queued or running. */
export function cancelSubmission(outDir: string, client: SlurmClient = systemSlurm): { cancelled: string[]; submittedAt?: string } {
  outDir = path.resolve(outDir);
  const sub = readState(outDir).slurm?.at(-1);
  if (!sub) throw new InputError(`${outDir} has no Slurm submission to cancel`);
  const ids = submissionJobIds(sub.jobs, sub.reportJob);
  let active: string[];
  try {
    active = [...client.squeue(ids, false)].filter(([, s]) => isActive(s.state)).map(([id]) => id);
    // scancel takes array ids and cancels all their tasks.
    active = [...new Set(active.map((id) => id.split('_')[0]!))];
    client.scancel(active);
  } catch (e) {
    if (e instanceof SlurmError) throw new InputError(e.message);
    throw e;
  }
  updateState(outDir, (st) => {
    const last = st.slurm?.at(-1);
    if (last && last.submittedAt === sub.submittedAt) last.cancelledAt = new Date().toISOString();
  });
  return { cancelled: active, submittedAt: sub.submittedAt };
}

/**
 * Follows a submission until none of its jobs is queued or running, calling `onChange` whenever a
 * stage's state changes. Resolves to the final status (a stopped wait leaves the jobs running).
 */
export async function waitForSubmission(
  outDir: string,
  opts: { intervalMs?: number; onChange?: (s: StageStatus, before: StageState | undefined) => void; signal?: AbortSignal } = {},
  client: SlurmClient = systemSlurm,
): Promise<ReproduceStatus> {
  const seen = new Map<string, StageState>();
  let failures = 0;
  for (;;) {
    let st: ReproduceStatus;
    try {
      st = reproduceStatus(outDir, client, { strict: true });
      failures = 0;
    } catch (e) {
      // squeue can fail for a moment on a busy controller; give up after a few tries.
      if (!(e instanceof SlurmError) || ++failures > 5) throw new InputError(`cannot follow the submission: ${(e as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 10_000));
      continue;
    }
    for (const s of st.stages) {
      const before = seen.get(s.key);
      if (before !== s.state) opts.onChange?.(s, before);
      seen.set(s.key, s.state);
    }
    if (!st.submission?.active || opts.signal?.aborted) return st;
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 10_000));
  }
}
