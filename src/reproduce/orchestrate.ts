import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pkg from '../../package.json';
import { makeDirs, writeFileAtomic, writeJsonAtomic } from '../runs/atomic';
import { acquireReproduceLock } from '../runs/lock';
import type { InspectEval } from '../runs/evals';
import { processAlive, readJsonFile, readRun } from '../runs/reader';
import { markRunIncomplete } from '../runs/status';
import {
  REPRODUCE_FILES,
  type FimRow,
  type ReproducePlan,
  type ReproduceReport,
  type ReproduceSession,
  type ReproduceState,
  type StageRecord,
} from '../runs/reproduce';
import type { RunSummary } from '../runs/types';
import type { ShardSpec } from '../runs/evals';
import { isBackendName, type BackendReport, type BackendRequest } from '../protocol/backend';
import { fig5Budget, fingerprint, modelOf, runName, stagesOf, type Stage } from './plan';
import { buildReport, fimRowOf } from './report/report';
import { renderHtml } from './report/html';
import { trackProgress } from './progress';
import { runSanityCheck } from './sanity';
import { runAutoAttackStage } from './autoattackStage';
import { runDefenceStage } from './defencesRun';
import { readState, updateState } from './stateStore';
import { activeSubmissionProblem, type SlurmClient } from './slurm/client';
import {
  Cancelled,
  distanceRun,
  InputError,
  distanceShard,
  initBackend,
  inspectRun,
  inspectShard,
  loadEvalRun,
  resume,
  samplesOf,
  sweepRun,
  sweepShard,
  train,
  TrainingError,
  transferRun,
  transferShard,
  type EvalRun,
  type ShardWritten,
  type TrainHooks,
} from '../engine';

/**
 * Runs a reproduction stage by stage in one directory (layout in src/runs/reproduce.ts). Every
 * finished stage is recorded in state.json with a fingerprint of its parameters, so a second
 * invocation — after Ctrl-C, a crash or a kill — reuses what finished, resumes an interrupted
 * training from its last checkpoint, and runs only the rest. The report is rebuilt from the files
 * at the end of every invocation, complete or not.
 */
export interface ReproduceHooks {
  /** `isDone` tells which stages an earlier invocation finished (they are reused). */
  onStages?(stages: Stage[], reusable: number, isDone?: (s: Stage) => boolean): void;
  onStageStart?(stage: Stage, index: number, total: number, note: string): void;
  onStageProgress?(stage: Stage, message: string, fraction: number): void;
  onStageEnd?(stage: Stage, record: StageRecord, index: number, total: number): void;
  onBackend?(report: BackendReport): void;
}

export interface ReproduceResult {
  outDir: string;
  report: ReproduceReport;
  htmlFile: string;
  jsonFile: string;
  cancelled: boolean;
  failed: number;
}

/** The directory's files: declared once in src/runs/reproduce.ts (state.json is stateStore's STATE_FILE). */
export const FILES = REPRODUCE_FILES;

export const INSPECT_EVAL = 'repro-inspect';
export const TABLE1_EVAL = 'repro-table1';
export const sweepEval = (attack: string) => (attack === 'ossa' ? 'repro-fig3-ossa' : `repro-fig5-${attack}`);
export const transferEval = (attack: string) => `repro-table2-${attack}`;

export { readState };

/** Stage kinds that can run as shards (`--shards N` under Slurm): their evaluation is sharded and merged (engine eval/shard.ts). */
export const SHARDABLE_KINDS: ReadonlySet<string> = new Set(['inspect', 'sweep', 'distance', 'transfer']);

export function environmentOf(backend: BackendReport | null, plan: ReproducePlan): Omit<ReproduceSession, 'startedAt' | 'stagesRun'> {
  return {
    host: os.hostname(),
    pid: process.pid,
    backend: backend?.name ?? plan.backend,
    backendDetails: backend?.details ?? [],
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadStart: os.loadavg(),
    loadEnd: [],
    node: process.version,
    engineVersion: pkg.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

/** Whether a finished stage's outputs are still there. */
export function outputsExist(outDir: string, r: StageRecord): boolean {
  if (r.runDir && !fs.existsSync(path.join(outDir, r.runDir))) return false;
  return (r.files ?? []).every((f) => fs.existsSync(path.join(outDir, f)));
}

/** Whether stage `s` finished with its current parameters and its outputs are still there. */
export function stageDone(outDir: string, state: ReproduceState, s: Stage): boolean {
  const rec = state.stages[s.key];
  return rec?.status === 'done' && rec.fingerprint === fingerprint(s.params) && outputsExist(outDir, rec);
}

export interface Runner {
  plan: ReproducePlan;
  outDir: string;
  state: ReproduceState;
  hooks: ReproduceHooks;
  signal: AbortSignal | undefined;
  backend: BackendRequest;
  cache: Map<string, EvalRun>;
  /** The records this process writes (live objects) and its session; saveState merges only these into state.json. */
  records: Map<string, StageRecord>;
  session?: ReproduceSession;
  /** Set in a shard job: evaluation stages compute this shard only (stageJob.ts merges). */
  shard?: ShardSpec;
}

const rel = (r: Runner, p: string) => path.relative(r.outDir, p);

/** Merges this process's records and session into state.json (other processes may be writing theirs; stateStore.ts). */
export function saveState(r: Runner): void {
  r.state = updateState(r.outDir, (disk) => {
    for (const [key, rec] of r.records) disk.stages[key] = rec;
    const s = r.session;
    if (s) {
      const i = disk.sessions.findIndex((x) => x.startedAt === s.startedAt && x.host === s.host && x.pid === s.pid);
      if (i >= 0) disk.sessions[i] = s;
      else disk.sessions.push(s);
    }
  });
}

/**
 * Runs an evaluation stage whole, or only shard `r.shard` of it (a Slurm shard job; the job that
 * writes the last shard merges them, see stageJob.ts).
 */
async function evaluation(
  r: Runner,
  rec: StageRecord,
  whole: () => Promise<string[]>,
  shard: (s: ShardSpec) => Promise<ShardWritten>,
): Promise<void> {
  if (!r.shard) {
    rec.files = (await whole()).map((f) => rel(r, f));
    return;
  }
  const w = await shard(r.shard);
  const prev = rec.shards?.count === r.shard.count ? rec.shards.done : [];
  rec.shards = {
    count: r.shard.count,
    done: [...new Set([...prev, r.shard.index])].sort((a, b) => a - b),
    runDir: rel(r, w.runDir),
    name: w.name,
  };
}

function trainedRun(r: Runner, model: string, seed: number): string | null {
  const rec = r.state.stages[`train:${model}:s${seed}`];
  return rec?.status === 'done' && rec.runDir ? path.join(r.outDir, rec.runDir) : null;
}

async function evalRun(r: Runner, model: string, seed: number): Promise<EvalRun> {
  const dir = trainedRun(r, model, seed);
  if (!dir) throw new Error(`the training of ${model} seed ${seed} has not finished`);
  let run = r.cache.get(dir);
  if (!run) {
    run = await loadEvalRun(dir);
    r.cache.set(dir, run);
  }
  return run;
}

/**
 * A training whose run is marked running by a process that is gone — a Slurm job killed by
 * scancel, a time limit or a node failure, possibly on another node, where its pid cannot be
 * checked — is taken over (marked incomplete, then resumed). Callers make sure no other process
 * runs this stage: the local executor refuses while a Slurm submission has jobs, and a
 * submission never runs two jobs of one stage at once.
 */
export function takeOverTraining(r: Runner, rec: StageRecord, by: string): void {
  if (!rec.runDir) return;
  const dir = path.join(r.outDir, rec.runDir);
  const status = readRun(dir).status;
  if (status?.state !== 'running') return;
  const here = !status.hostname || status.hostname === os.hostname();
  if (here && status.pid !== undefined && status.pid !== process.pid && processAlive(status.pid))
    throw new InputError(`the training in ${dir} is still running here (pid ${status.pid})`);
  markRunIncomplete(
    dir,
    status.pid,
    `its process (${status.hostname ?? '?'} pid ${status.pid ?? '?'}) ended without finishing; resumed ${by}`,
  );
}

async function runTrain(r: Runner, s: Stage, rec: StageRecord): Promise<void> {
  const spec = modelOf(r.plan, s.model!);
  const hooks: TrainHooks = {
    onStart: (runDir) => {
      rec.runDir = rel(r, runDir);
      saveState(r);
    },
    onProgress: (p) =>
      r.hooks.onStageProgress?.(
        s,
        `epoch ${p.epoch}/${p.epochs} step ${p.epochStep}/${p.epochSteps}${p.loss !== undefined ? ` loss ${p.loss.toFixed(3)}` : ''} ${Math.round(p.samplesPerSecond)} samples/s`,
        p.step / p.totalSteps,
      ),
  };
  let summary: RunSummary;
  const existing = rec.runDir ? readRun(path.join(r.outDir, rec.runDir)) : null;
  try {
    if (existing?.config && existing.effectiveState === 'completed' && existing.summary) {
      summary = existing.summary;
    } else if (existing?.config && existing.effectiveState === 'failed') {
      throw new TrainingError(existing.summary?.message ?? 'the training failed', existing.summary ?? undefined);
    } else if (existing?.config) {
      summary = await resume(existing.dir, { backend: r.backend }, hooks, r.signal);
    } else {
      summary = await train(
        {
          model: r.plan.model,
          dataset: r.plan.dataset,
          mu: spec.mu,
          labelSmoothing: spec.labelSmoothing,
          ...(spec.adversarialTraining ? { adversarialTraining: spec.adversarialTraining } : {}),
          ...(spec.defence ? { defence: spec.defence } : {}),
          epochs: r.plan.epochs,
          batchSize: r.plan.batchSize,
          learningRate: r.plan.learningRate,
          seed: s.seed!,
          limitTrain: r.plan.trainSamples,
          limitTest: r.plan.testSamples,
          storeDir: path.join(r.outDir, FILES.runs),
          name: runName(spec.key, s.seed!),
          backend: r.backend,
        },
        hooks,
        r.signal,
      );
    }
  } catch (e) {
    if (e instanceof TrainingError) {
      rec.status = 'failed';
      rec.message = e.message;
      return;
    }
    throw e;
  }
  if (summary.state === 'completed') rec.status = 'done';
  else if (summary.state === 'stopped') throw new Cancelled();
  else {
    rec.status = 'failed';
    rec.message = summary.message ?? `training ended ${summary.state}`;
  }
}

export async function runStage(r: Runner, s: Stage, rec: StageRecord): Promise<void> {
  const progress = (message: string, fraction: number) => r.hooks.onStageProgress?.(s, message, fraction);
  const common = { seed: 0, onProgress: progress, ...(r.signal ? { signal: r.signal } : {}), command: `fim reproduce (${s.key})` };
  const selection = (count: number) => ({ split: 'test' as const, start: 0, count });
  if (s.kind !== 'train' && s.key.startsWith('defences:')) {
    await runDefenceStage(
      {
        plan: r.plan,
        outDir: r.outDir,
        evalRun: (model, seed) => evalRun(r, model, seed),
        inspectFile: (model, seed) => {
          const done = r.state.stages[`defences:inspect:${model}:s${seed}`];
          const f = done?.status === 'done' ? done.files?.[0] : undefined;
          return f ? path.join(r.outDir, f) : null;
        },
        common,
        evaluation: (whole, shard) => evaluation(r, rec, whole, shard),
        wrote: (files) => {
          rec.files = files.map((f) => rel(r, f));
        },
      },
      s,
    );
    if (!r.shard) rec.status = 'done';
    return;
  }
  switch (s.kind) {
    case 'train':
      return runTrain(r, s, rec);
    case 'inspect': {
      const run = await evalRun(r, s.model!, s.seed!);
      const req = {
        ...common,
        selection: selection(r.plan.inspect.samples),
        heldOut: r.plan.inspect.heldOut,
        images: 4,
        name: INSPECT_EVAL,
      };
      await evaluation(
        r,
        rec,
        async () => [(await inspectRun(run, req)).file],
        (shard) => inspectShard(run, req, shard),
      );
      break;
    }
    case 'sweep': {
      const run = await evalRun(r, s.model!, s.seed!);
      const ossa = s.attack === 'ossa';
      const size = run.data.test.imageShape.reduce((a, b) => a * b, 1);
      const budgets = ossa ? r.plan.fig3.budgets : r.plan.fig5.budgets.map((e) => fig5Budget(s.attack!, e, size));
      const req = {
        ...common,
        attack: s.attack!,
        budgets,
        selection: selection(ossa ? r.plan.fig3.samples : r.plan.fig5.samples),
        ...(ossa ? { clip: r.plan.fig3.clip } : {}),
        examples: 2,
        name: sweepEval(s.attack!),
      };
      await evaluation(
        r,
        rec,
        async () => [(await sweepRun(run, req)).file],
        (shard) => sweepShard(run, req, shard),
      );
      break;
    }
    case 'distance': {
      const run = await evalRun(r, s.model!, s.seed!);
      const attacks = r.plan.table1.attacks;
      const options = Object.fromEntries(Object.entries(r.plan.table1.options).filter(([a]) => attacks.includes(a)));
      const req = { ...common, attacks, options, selection: selection(r.plan.table1.samples), name: TABLE1_EVAL };
      await evaluation(
        r,
        rec,
        async () => [(await distanceRun(run, req)).file],
        (shard) => distanceShard(run, req, shard),
      );
      break;
    }
    case 'transfer': {
      const [a, b] = s.needs;
      const from = await evalRun(r, a!.model, a!.seed);
      const to = await evalRun(r, b!.model, b!.seed);
      const attack = s.attack!;
      const options = r.plan.table2.options[attack];
      const req = {
        ...common,
        attack,
        ...(attack === 'ossa' ? { budget: r.plan.table2.ossaBudget } : {}),
        ...(options ? { options } : {}),
        selection: selection(r.plan.table2.samples),
        name: transferEval(attack),
      };
      await evaluation(
        r,
        rec,
        async () => (await transferRun(from, to, req)).files,
        (shard) => transferShard(from, to, req, shard),
      );
      break;
    }
    case 'sanity': {
      const [a, b] = s.needs;
      const base = await evalRun(r, a!.model, a!.seed);
      const def = await evalRun(r, b!.model, b!.seed);
      const d = base.data.test;
      const idx = Array.from({ length: Math.min(r.plan.sanity.samples, d.count) }, (_, i) => i);
      const { x, labels } = samplesOf(d, idx);
      const fim = fimPair(r, a!.model, b!.model);
      const check = runSanityCheck(
        s.check!,
        {
          baseline: base.model,
          defended: def.model,
          baselineLabel: modelOf(r.plan, a!.model).label,
          defendedLabel: modelOf(r.plan, b!.model).label,
          x,
          labels,
          shape: d.imageShape,
        },
        r.plan.sanity,
        { seed: 0, onProgress: progress, ...(r.signal ? { signal: r.signal } : {}), ...(fim ? { fim } : {}) },
      );
      const file = path.join(r.outDir, FILES.sanity, `${s.check}.json`);
      writeJsonAtomic(file, check);
      rec.files = [rel(r, file)];
      break;
    }
    case 'autoattack': {
      const run = await evalRun(r, s.model!, s.seed!);
      rec.files = (await runAutoAttackStage(run, s, common)).map((f) => rel(r, f));
      break;
    }
    case 'robust':
      throw new Error(`the ${s.kind} stage ${s.key} belongs to the defence comparison (defencesRun.ts)`);
  }
  // A shard is not the stage: it is done when its last shard is merged (stageJob.ts).
  if (!r.shard) rec.status = 'done';
}

function fimPair(r: Runner, base: string, def: string): { baseline: FimRow; defended: FimRow } | null {
  const row = (key: string) => {
    const rec = r.state.stages[`inspect:${key}:s${modelOf(r.plan, key).seeds[0]}`];
    const file = rec?.status === 'done' ? rec.files?.[0] : undefined;
    const ev = file ? readJsonFile<InspectEval>(path.join(r.outDir, file)) : null;
    return ev ? fimRowOf(modelOf(r.plan, key), ev) : null;
  };
  const b = row(base);
  const d = row(def);
  return b && d ? { baseline: b, defended: d } : null;
}

/** report.json and report.html from what the directory holds now. */
async function writeReport(
  plan: ReproducePlan,
  state: ReproduceState,
  outDir: string,
  session: ReproduceSession,
): Promise<{ report: ReproduceReport; htmlFile: string; jsonFile: string }> {
  const report = buildReport(plan, state, outDir, session);
  const jsonFile = path.join(outDir, FILES.reportJson);
  const htmlFile = path.join(outDir, FILES.reportHtml);
  writeJsonAtomic(jsonFile, report);
  writeFileAtomic(htmlFile, await renderHtml(report));
  return { report, htmlFile, jsonFile };
}

export interface ReproduceOptions {
  /** Only rebuild the report from what is already there. */
  reportOnly?: boolean;
  /** Asked whether an earlier Slurm submission still has jobs (tests stand in for Slurm). */
  slurm?: SlurmClient;
}

export async function runReproduce(
  plan: ReproducePlan,
  outDir: string,
  hooks: ReproduceHooks = {},
  signal?: AbortSignal,
  opts: ReproduceOptions = {},
): Promise<ReproduceResult> {
  outDir = path.resolve(outDir);
  makeDirs(path.join(outDir, FILES.runs));
  // One reproduction per directory at a time (the run store's lock: O_EXCL, stale when its owner is dead).
  const lock = acquireReproduceLock(outDir);
  try {
    if (!opts.reportOnly) {
      // Slurm jobs of an earlier submission would work on the same stages.
      const busy = activeSubmissionProblem(outDir, opts.slurm);
      if (busy) throw new InputError(busy);
    }
    const backendReq = plan.backend === 'auto' || isBackendName(plan.backend) ? plan.backend : 'auto';
    const backend = await initBackend(backendReq);
    hooks.onBackend?.(backend);
    // Rebuilding a report uses the plan the reproduction ran with, whatever the flags say now.
    if (opts.reportOnly) plan = readJsonFile<ReproducePlan>(path.join(outDir, FILES.plan)) ?? plan;
    else writeJsonAtomic(path.join(outDir, FILES.plan), plan);
    const state = readState(outDir);
    const tracker = opts.reportOnly ? null : trackProgress(outDir, plan.mode, hooks);
    if (tracker) hooks = tracker.hooks;
    const session: ReproduceSession = { ...environmentOf(backend, plan), startedAt: new Date().toISOString(), stagesRun: 0 };
    const r: Runner = { plan, outDir, state, hooks, signal, backend: backendReq, cache: new Map(), records: new Map() };
    if (!opts.reportOnly) r.session = session;
    const stages = stagesOf(plan);
    const isDone = (s: Stage) => stageDone(outDir, r.state, s);
    hooks.onStages?.(stages, stages.filter(isDone).length, isDone);
    let cancelled = false;
    if (!opts.reportOnly) {
      for (let i = 0; i < stages.length; i++) {
        const s = stages[i]!;
        if (isDone(s)) continue;
        if (signal?.aborted) {
          cancelled = true;
          break;
        }
        const missing = s.needs.filter((n) => !trainedRun(r, n.model, n.seed));
        if (missing.length > 0) continue;
        const fp = fingerprint(s.params);
        const prev = r.state.stages[s.key];
        // A training keeps its run directory across attempts (resume); other stages start over.
        const rec: StageRecord = {
          key: s.key,
          kind: s.kind,
          status: 'started',
          fingerprint: fp,
          ...(s.kind === 'train' && prev?.fingerprint === fp && prev.runDir ? { runDir: prev.runDir } : {}),
          wallSeconds: prev?.fingerprint === fp ? prev.wallSeconds : 0,
          attempts: (prev?.fingerprint === fp ? prev.attempts : 0) + 1,
        };
        r.state.stages[s.key] = rec;
        r.records.set(s.key, rec);
        saveState(r);
        hooks.onStageStart?.(
          s,
          i,
          stages.length,
          rec.attempts > 1 ? `attempt ${rec.attempts}${rec.runDir ? ', resuming the training' : ''}` : '',
        );
        const t0 = Date.now();
        try {
          // A training left "running" by a Slurm job of an earlier submission (none is active now).
          if (s.kind === 'train' && r.state.slurm?.length) takeOverTraining(r, rec, 'by a local fim reproduce');
          await runStage(r, s, rec);
        } catch (e) {
          if (e instanceof Cancelled) {
            cancelled = true;
          } else {
            rec.status = 'failed';
            rec.message = (e as Error).message;
          }
        }
        rec.wallSeconds += (Date.now() - t0) / 1000;
        if (rec.status !== 'started') rec.finishedAt = new Date().toISOString();
        session.stagesRun++;
        saveState(r);
        hooks.onStageEnd?.(s, rec, i, stages.length);
        if (cancelled) break;
        // The report follows the reproduction: open report.html (or its VS Code panel) while it runs.
        // A failure here is not lost: the final rebuild below fails the same way and reports it.
        if (i < stages.length - 1) await writeReport(plan, r.state, outDir, { ...session, loadEnd: os.loadavg() }).catch(() => undefined);
      }
      session.endedAt = new Date().toISOString();
      session.loadEnd = os.loadavg();
      saveState(r);
    }
    const current = opts.reportOnly ? { ...session, loadEnd: os.loadavg() } : session;
    const { report, htmlFile, jsonFile } = await writeReport(plan, r.state, outDir, current);
    tracker?.finish(cancelled ? 'stopped' : 'finished');
    const failed = Object.values(r.state.stages).filter((x) => x.status === 'failed').length;
    return { outDir, report, htmlFile, jsonFile, cancelled, failed };
  } finally {
    lock.release();
  }
}
