import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonFile } from '../runs/reader';
import type { ShardSpec } from '../runs/evals';
import type { ReproducePlan, StageRecord } from '../runs/reproduce';
import { isBackendName } from '../protocol/backend';
import {
  environmentOf,
  FILES,
  runStage,
  saveState,
  SHARDABLE_KINDS,
  stageDone,
  takeOverTraining,
  type ReproduceHooks,
  type Runner,
} from './orchestrate';
import { fingerprint, stagesOf, type Stage } from './plan';
import { updateState } from './stateStore';
import { Cancelled, initBackend, InputError, mergeEvalShards, shardLabel, writtenShards } from '../engine';

/**
 * One stage of a reproduction, run by itself: what each Slurm job does
 * (`fim reproduce --out DIR --stage KEY [--shard I/N]`), on any node that sees the directory.
 * The plan is the directory's plan.json and state.json stays the truth: a job whose stage (or
 * shard) is already done exits at once; one whose trainings are not done fails and says which;
 * otherwise it records the attempt, runs the stage exactly as the local executor does
 * (orchestrate.ts runStage), and records the outcome. The job that writes the last shard of a
 * sharded stage merges the shards, which finishes the stage.
 */
export type StageJobOutcome = 'done' | 'already-done' | 'failed' | 'interrupted';

export interface StageJobResult {
  outcome: StageJobOutcome;
  stage: Stage;
  record?: StageRecord;
  /** Set when this job merged the shards. */
  merged?: boolean;
}

/** The Slurm job this process runs in, from the environment Slurm sets (and the log path the batch script exports). */
export function slurmJobOfEnv(env: NodeJS.ProcessEnv = process.env): { job: string; log?: string } | null {
  const array = env.SLURM_ARRAY_JOB_ID;
  const task = env.SLURM_ARRAY_TASK_ID;
  const job = array && task !== undefined ? `${array}_${task}` : env.SLURM_JOB_ID;
  if (!job) return null;
  return { job, ...(env.FIM_SLURM_LOG ? { log: env.FIM_SLURM_LOG } : {}) };
}

export function readPlan(outDir: string): ReproducePlan {
  const problems: string[] = [];
  const plan = readJsonFile<ReproducePlan>(path.join(outDir, FILES.plan), problems);
  if (!plan || !Array.isArray(plan.models))
    throw new InputError(
      `${path.join(outDir, FILES.plan)} ${problems.length ? `cannot be read (${problems.join('; ')})` : 'is missing'}: a stage job runs a stage of a submitted reproduction (fim reproduce --executor slurm)`,
    );
  return plan;
}

export async function runStageJob(
  outDir: string,
  key: string,
  opts: { shard?: ShardSpec; hooks?: ReproduceHooks; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<StageJobResult> {
  outDir = path.resolve(outDir);
  const plan = readPlan(outDir);
  const stage = stagesOf(plan).find((s) => s.key === key);
  if (!stage) throw new InputError(`the plan in ${outDir} has no stage "${key}"`);
  const shard = opts.shard;
  if (shard && !SHARDABLE_KINDS.has(stage.kind)) throw new InputError(`stage ${key} (${stage.kind}) cannot run as shards`);
  const slurm = slurmJobOfEnv(opts.env);
  const backendReq = plan.backend === 'auto' || isBackendName(plan.backend) ? plan.backend : 'auto';
  const fp = fingerprint(stage.params);
  const shardDone = (rec: StageRecord | undefined) =>
    Boolean(
      shard &&
      rec?.fingerprint === fp &&
      rec.shards?.count === shard.count &&
      rec.shards.done.includes(shard.index) &&
      writtenShards(path.join(outDir, rec.shards.runDir), rec.shards.name).some((s) => s.index === shard.index && s.count === shard.count),
    );

  // Decide under the state lock, so that two jobs never both start the same attempt.
  let rec: StageRecord | undefined;
  let skip: 'stage' | 'shard' | null = null;
  let missing: string[] = [];
  const state = updateState(outDir, (st) => {
    if (stageDone(outDir, st, stage)) {
      skip = 'stage';
      return;
    }
    const prev = st.stages[key];
    if (shardDone(prev)) {
      skip = 'shard';
      rec = prev;
      return;
    }
    missing = stage.needs
      .filter((n) => st.stages[`train:${n.model}:s${n.seed}`]?.status !== 'done')
      .map((n) => `train:${n.model}:s${n.seed} (${st.stages[`train:${n.model}:s${n.seed}`]?.status ?? 'not started'})`);
    const same = prev?.fingerprint === fp;
    // Shards of one attempt (tasks of one job array, or shards run by hand) join its record;
    // anything else starts a new attempt.
    const arrayOf = (job: string | undefined) => job?.split('_')[0];
    const joining = Boolean(
      shard &&
      same &&
      (slurm
        ? arrayOf(prev.slurmJob) === arrayOf(slurm.job) && prev.status !== 'done'
        : prev.status === 'started' && (!prev.shards || prev.shards.count === shard.count)),
    );
    if (joining && prev && missing.length === 0) {
      // A sibling shard's failure stays on the record until that shard runs again.
      rec = { ...prev, ...(slurm ? { slurmJob: slurm.job } : {}), ...(slurm?.log ? { log: path.relative(outDir, slurm.log) } : {}) };
      st.stages[key] = rec;
      return;
    }
    rec = {
      key,
      kind: stage.kind,
      status: 'started',
      fingerprint: fp,
      ...(stage.kind === 'train' && same && prev?.runDir ? { runDir: prev.runDir } : {}),
      ...(shard && same && prev?.shards?.count === shard.count ? { shards: prev.shards } : {}),
      wallSeconds: same ? prev.wallSeconds : 0,
      attempts: (same ? prev.attempts : 0) + (joining ? 0 : 1),
      ...(slurm ? { slurmJob: slurm.job } : {}),
      ...(slurm?.log ? { log: path.relative(outDir, slurm.log) } : {}),
    };
    if (missing.length > 0) {
      rec.status = 'failed';
      rec.message = `its training(s) did not finish: ${missing.join(', ')}`;
      rec.finishedAt = new Date().toISOString();
    }
    st.stages[key] = rec;
  });
  if (skip === 'stage') return { outcome: 'already-done', stage, record: state.stages[key]! };
  if (missing.length > 0) return { outcome: 'failed', stage, record: rec! };

  const record = rec!;
  const r: Runner = {
    plan,
    outDir,
    state,
    hooks: opts.hooks ?? {},
    signal: opts.signal,
    backend: backendReq,
    cache: new Map(),
    records: new Map([[key, record]]),
    ...(shard ? { shard } : {}),
  };
  let outcome: StageJobOutcome = 'done';
  let jobSeconds = 0;
  if (skip !== 'shard') {
    const t0 = Date.now();
    try {
      // Inside the try: a backend that cannot start is this stage's failure, recorded as such.
      const backend = await initBackend(backendReq);
      opts.hooks?.onBackend?.(backend);
      r.session = {
        ...environmentOf(backend, plan),
        startedAt: new Date().toISOString(),
        stagesRun: 1,
        ...(slurm ? { slurmJob: slurm.job } : {}),
      };
      if (stage.kind === 'train') takeOverTraining(r, record, slurm ? `by Slurm job ${slurm.job}` : 'by fim reproduce --stage');
      opts.hooks?.onStageStart?.(
        stage,
        0,
        1,
        shard ? `shard ${shardLabel(shard)}` : record.attempts > 1 ? `attempt ${record.attempts}` : '',
      );
      await runStage(r, stage, record);
      // A whole stage may end failed or stopped without throwing (a training); a shard throws.
      if (!shard && record.status === 'failed') outcome = 'failed';
      else if (!shard && record.status === 'started') outcome = 'interrupted';
    } catch (e) {
      if (e instanceof Cancelled) outcome = 'interrupted';
      else {
        outcome = 'failed';
        record.status = 'failed';
        record.message = `${shard ? `shard ${shardLabel(shard)}: ` : ''}${(e as Error).message}`;
      }
    }
    jobSeconds = (Date.now() - t0) / 1000;
    if (r.session) {
      r.session.endedAt = new Date().toISOString();
      r.session.loadEnd = os.loadavg();
    }
  }
  if (!shard) {
    record.wallSeconds += jobSeconds;
    if (record.status !== 'started') record.finishedAt = new Date().toISOString();
    saveState(r);
    opts.hooks?.onStageEnd?.(stage, record, 0, 1);
    return { outcome, stage, record };
  }
  // Shards of one stage finish concurrently: fold this one into the record on disk, under the
  // lock, and the job that completes the set merges it (exactly one does).
  let merged = false;
  const session = r.session;
  r.state = updateState(outDir, (st) => {
    const disk = st.stages[key];
    const sameAttempt = disk?.fingerprint === fp && disk.shards?.count === shard.count;
    const done = new Set([...(sameAttempt ? disk.shards!.done : []), ...(outcome === 'done' ? [shard.index] : [])]);
    const where = record.shards ?? (sameAttempt ? disk.shards : undefined);
    const next: StageRecord = {
      ...record,
      wallSeconds: (disk?.fingerprint === fp ? disk.wallSeconds : 0) + jobSeconds,
      ...(where ? { shards: { ...where, done: [...done].sort((a, b) => a - b) } } : {}),
    };
    if (outcome === 'done') {
      // Another shard's failure stays visible until that shard is run again.
      const otherFailed = disk?.status === 'failed' && disk.fingerprint === fp;
      next.status = otherFailed ? 'failed' : 'started';
      if (otherFailed && disk.message) next.message = disk.message;
      if (where && done.size === shard.count) {
        try {
          const m = mergeEvalShards(
            path.join(outDir, where.runDir),
            where.name,
            `fim reproduce (${key}, merged from ${shard.count} shards)`,
          );
          next.files = m.files.map((f) => path.relative(outDir, f));
          next.status = 'done';
          delete next.message;
          merged = true;
        } catch (e) {
          next.status = 'failed';
          next.message = `merging the ${shard.count} shards failed: ${(e as Error).message}`;
          outcome = 'failed';
        }
      }
    }
    if (next.status !== 'started') next.finishedAt = new Date().toISOString();
    st.stages[key] = next;
    if (session) st.sessions.push(session);
    Object.assign(record, next);
  });
  opts.hooks?.onStageEnd?.(stage, record, 0, 1);
  return { outcome, stage, record, merged };
}
