import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReproducePlan, ReproduceStatus, SlurmOptions, StageStatus } from '../../runs/reproduce';
import { duration } from '../../reproduce/report/html';
import { runStageJob } from '../../reproduce/stageJob';
import { cancelSubmission, reproduceStatus, submitReproduce, waitForSubmission } from '../../reproduce/slurm/submit';
import { int, UsageError, type FlagValues } from '../args';
import { bar, printJson, Progress, table } from '../output';
import { CANCELLED_EXIT, shardFlag } from './evalShared';
import { describeBackend, shardLabel } from '../../engine';

/**
 * The Slurm side of `fim reproduce`: submitting (--executor slurm), following (--status, --wait),
 * stopping (--cancel), and the stage jobs themselves (--stage KEY [--shard I/N]). Parsing and
 * printing only; the work is in src/reproduce/slurm and src/reproduce/stageJob.ts.
 */
export const SLURM_FLAGS = {
  executor: { type: 'string' },
  partition: { type: 'string' },
  account: { type: 'string' },
  time: { type: 'string' },
  'cpus-per-task': { type: 'string' },
  'gpus-per-task': { type: 'string' },
  'sbatch-arg': { type: 'string', multiple: true },
  shards: { type: 'string' },
  'slurm-dry-run': { type: 'boolean' },
  'fim-command': { type: 'string' },
  wait: { type: 'boolean' },
  status: { type: 'boolean' },
  cancel: { type: 'boolean' },
  stage: { type: 'string' },
  shard: { type: 'string' },
} as const;

export const SLURM_USAGE = `  --executor E     local | slurm [local]: slurm submits every unfinished stage as a Slurm job
                   (job arrays, afterok dependencies, the report last) and returns; the jobs run
                   fim on the compute nodes against the same --out directory, which must be on
                   a file system they share with this node. Rerunning it submits only what is
                   unfinished; a second submission while jobs are queued is refused.
  --partition P, --account A, --time T (e.g. 2:00:00), --cpus-per-task N, --gpus-per-task N
                   passed to sbatch for every job
  --sbatch-arg ARG more sbatch arguments for every job (repeatable), e.g. --sbatch-arg=--mem=8G
  --shards N       run each evaluation stage as N array tasks over slices of its samples, merged
                   by the last; the result is identical to one task [1]
  --slurm-dry-run  print the batch scripts and sbatch calls; submit nothing, write nothing
  --fim-command C  the fim command on the nodes [this node and this fim, by absolute path]
  --wait           after submitting, follow the jobs until they end (exit code as a local run)
  --status         each stage's state, with its Slurm job and squeue/sacct state, log and error
  --cancel         scancel the jobs of the latest submission (finished stages stay done)
  --stage KEY      run one stage (what each Slurm job does); --shard I/N: one shard of it`;

type SlurmValues = FlagValues<typeof SLURM_FLAGS> & { json?: boolean };

export function slurmOptionsFrom(v: SlurmValues): SlurmOptions {
  const flag = (name: string, x: string | undefined) => {
    if (x !== undefined && x.trim() === '') throw new UsageError(`--${name} needs a value`);
    return x;
  };
  const partition = flag('partition', v.partition);
  const account = flag('account', v.account);
  const time = flag('time', v.time);
  if (time !== undefined && !/^[\d:-]+$/.test(time))
    throw new UsageError(`--time takes sbatch's format, e.g. 90, 2:00:00 or 1-12:00:00 (got "${time}")`);
  return {
    ...(partition ? { partition } : {}),
    ...(account ? { account } : {}),
    ...(time ? { time } : {}),
    ...(v['cpus-per-task'] !== undefined ? { cpusPerTask: int('cpus-per-task', v['cpus-per-task']) } : {}),
    ...(v['gpus-per-task'] !== undefined ? { gpusPerTask: int('gpus-per-task', v['gpus-per-task']) } : {}),
    ...(v['sbatch-arg']?.length ? { sbatchArgs: v['sbatch-arg'] } : {}),
    ...(v.shards !== undefined ? { shards: int('shards', v.shards) } : {}),
  };
}

/** Flags that only make sense with --executor slurm. */
const SUBMIT_ONLY = [
  'partition',
  'account',
  'time',
  'cpus-per-task',
  'gpus-per-task',
  'sbatch-arg',
  'shards',
  'slurm-dry-run',
  'fim-command',
  'wait',
] as const;

export function checkSlurmFlags(v: SlurmValues): 'local' | 'slurm' {
  const executor = v.executor ?? 'local';
  if (executor !== 'local' && executor !== 'slurm') throw new UsageError(`--executor must be local or slurm, got "${executor}"`);
  if (executor === 'local') {
    const stray = SUBMIT_ONLY.filter((k) => v[k] !== undefined);
    if (stray.length) throw new UsageError(`${stray.map((k) => `--${k}`).join(', ')} need --executor slurm`);
  }
  const modes = (['status', 'cancel', 'stage'] as const).filter((k) => v[k] !== undefined);
  if (modes.length > 1) throw new UsageError(`give one of ${modes.map((k) => `--${k}`).join(', ')}`);
  if (modes.length && executor === 'slurm') throw new UsageError(`--${modes[0]} does not take --executor`);
  if (v.shard !== undefined && v.stage === undefined)
    throw new UsageError('--shard I/N goes with --stage KEY (to shard a stage when submitting: --shards N)');
  return executor;
}

function stateCell(s: StageStatus): string {
  const shards = s.shards ? ` (${s.shards.done.length}/${s.shards.count} shards)` : '';
  return `${s.state}${shards}`;
}

function slurmCell(s: StageStatus): string {
  if (!s.slurm) return '-';
  const shown = s.slurm.slice(0, 3).map((t) => `${t.job} ${t.state}${t.reason ? ` (${t.reason})` : ''}`);
  return shown.join(', ') + (s.slurm.length > 3 ? `, +${s.slurm.length - 3}` : '');
}

export function printStatus(st: ReproduceStatus): void {
  const rows = st.stages.map((s) => [
    s.key,
    stateCell(s),
    s.attempts || '-',
    s.wallSeconds ? duration(s.wallSeconds) : '-',
    slurmCell(s),
    [s.message, s.log && s.state !== 'done' && s.state !== 'pending' ? `log ${s.log}` : ''].filter(Boolean).join('; '),
  ]);
  const counts = Object.entries(st.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const sub = st.submission;
  const lines = [
    `reproduction (${st.mode}) in ${st.outDir}: ${st.stages.length} stages, ${counts}`,
    ...(sub
      ? [
          `Slurm submission of ${sub.submittedAt} from ${sub.host}: jobs ${sub.jobs.join(', ')}; ${sub.active ? 'still queued or running' : 'no job queued or running'}${sub.cancelledAt ? `; cancelled ${sub.cancelledAt}` : ''}`,
        ]
      : []),
    ...(st.slurmProblem ? [`Slurm states unavailable: ${st.slurmProblem}`] : []),
    '',
    table(['stage', 'state', 'attempts', 'wall', 'Slurm job', 'note'], rows),
    '',
    st.report.exists ? `report: ${st.report.html}${st.complete ? '' : ' (partial)'}` : 'no report yet',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function statusCommand(outDir: string, json: boolean): number {
  const st = reproduceStatus(outDir);
  if (json) printJson(st);
  else printStatus(st);
  return 0;
}

export function cancelCommand(outDir: string, json: boolean): number {
  const r = cancelSubmission(outDir);
  const progress = new Progress();
  progress.line(
    r.cancelled.length
      ? `cancelled ${r.cancelled.length} Slurm job(s) of the submission of ${r.submittedAt}: ${r.cancelled.join(', ')}`
      : `no job of the submission of ${r.submittedAt} was still queued or running`,
  );
  if (json) printJson(r);
  return 0;
}

export async function submitCommand(v: SlurmValues, plan: ReproducePlan, outDir: string): Promise<number> {
  const options = slurmOptionsFrom(v);
  const fimCommand = v['fim-command']?.trim().split(/\s+/).filter(Boolean);
  if (fimCommand && fimCommand.length === 0)
    throw new UsageError('--fim-command needs a command, e.g. "/shared/node/bin/node /shared/fim/bin/fim.js"');
  const progress = new Progress();
  const r = submitReproduce(plan, outDir, { ...options, dryRun: Boolean(v['slurm-dry-run']), ...(fimCommand ? { fimCommand } : {}) });
  if (r.dryRun) {
    for (const s of r.scripts) {
      process.stdout.write(
        `# sbatch ${[...s.sbatchArgs, `${s.name}.sh`].join(' ')}   (${s.tasks ? `${s.tasks} task(s)` : 'the report'})\n${s.text}\n`,
      );
    }
    progress.line(
      `dry run: ${r.scripts.length} job(s), ${r.tasks} stage task(s) for ${r.submitted} unfinished stage(s) (${r.done} done); nothing submitted`,
    );
    return 0;
  }
  if (r.submitted === 0) {
    progress.line(`every stage of ${outDir} is done; nothing to submit (fim reproduce --report-only --out ${outDir} rebuilds the report)`);
    if (v.json) printJson(r);
    return 0;
  }
  const sub = r.submission!;
  for (const j of sub.jobs)
    progress.line(`submitted ${j.name}: job ${j.id}, ${j.tasks.length} task(s)${j.dependency ? `, after ${j.dependency}` : ''}`);
  progress.line(`submitted the report: job ${sub.reportJob}, after every other job`);
  progress.line(`${r.submitted} stage(s) in ${r.tasks} task(s) (${r.done} already done); logs in ${path.join(outDir, 'slurm', 'logs')}`);
  progress.line(`follow with: fim reproduce --status --out ${outDir}   stop with: fim reproduce --cancel --out ${outDir}`);
  if (!v.wait) {
    if (v.json) printJson({ ...r, scripts: r.scripts.map(({ text: _text, ...s }) => s) });
    return 0;
  }
  const ac = new AbortController();
  const onSignal = () => {
    progress.line('stopped waiting; the jobs keep running (fim reproduce --status, --cancel)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const interval = Number(process.env.FIM_SLURM_POLL_MS) || 10_000;
    const st = await waitForSubmission(outDir, {
      intervalMs: interval,
      signal: ac.signal,
      onChange: (s, before) =>
        before !== undefined &&
        progress.line(`${s.key}: ${stateCell(s)}${s.slurm?.length ? ` [${slurmCell(s)}]` : ''}${s.message ? ` — ${s.message}` : ''}`),
    });
    if (v.json) printJson(st);
    else printStatus(st);
    if (ac.signal.aborted) return CANCELLED_EXIT;
    return st.complete ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** One stage (what a Slurm job runs). Exit 0 when it is done (now or before), 1 when it failed, 130 when interrupted. */
export async function stageCommand(v: SlurmValues, outDir: string): Promise<number> {
  const shard = shardFlag(v.shard);
  const progress = new Progress();
  const ac = new AbortController();
  let presses = 0;
  // scancel and time limits send SIGTERM: stop after the current step (a training writes a checkpoint).
  const onSignal = () => {
    presses++;
    if (presses > 1) process.exit(CANCELLED_EXIT);
    progress.line('stopping after the current step (trainings write a checkpoint)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let current = '';
  try {
    if (!fs.existsSync(outDir)) throw new UsageError(`--out ${outDir} does not exist`);
    const r = await runStageJob(outDir, v.stage!, {
      ...(shard ? { shard } : {}),
      signal: ac.signal,
      hooks: {
        onBackend: (b) => progress.line(describeBackend(b).split('\n')[0]!),
        onStageStart: (s, _i, _n, note) => {
          current = s.title;
          progress.line(`${s.key}: ${s.title}${note ? ` (${note})` : ''}`);
        },
        onStageProgress: (_s, message, fraction) => progress.update(`${current} ${bar(fraction)} ${message}`, 15_000),
      },
    });
    progress.clear();
    const rec = r.record;
    const what = `${r.stage.key}${shard ? ` shard ${shardLabel(shard)}` : ''}`;
    if (r.outcome === 'already-done') progress.line(`${what}: already done`);
    else
      progress.line(
        `${what}: ${r.outcome}${rec?.wallSeconds ? ` (${duration(rec.wallSeconds)} over ${rec.attempts} attempt(s))` : ''}${r.merged ? `; merged the ${shard!.count} shards` : ''}${rec?.message ? ` — ${rec.message}` : ''}`,
      );
    if (v.json) printJson(r.record ?? {});
    return r.outcome === 'failed' ? 1 : r.outcome === 'interrupted' ? CANCELLED_EXIT : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
