import * as path from 'node:path';
import type { ShardSpec } from '../../runs/evals';
import type { ReproduceState, SlurmOptions } from '../../runs/reproduce';
import { SHARDABLE_KINDS, stageDone } from '../orchestrate';
import { fingerprint, type Stage } from '../plan';

/**
 * The Slurm jobs of a reproduction: its unfinished stages as job arrays with dependencies.
 * Generic over stage kinds — it reads only a stage's `needs` (trainings: afterok, so a failed
 * training's dependants are cancelled) and `after` (stages it reads whatever their outcome:
 * afterany) — so a new kind of stage needs no change here. Stages with the same dependencies
 * share one array; the trainings form the first. A shardable stage (SHARDABLE_KINDS) with
 * `shards` > 1 is one task per shard, and its dependants wait for all of them.
 */
export interface JobTask {
  stage: Stage;
  shard?: ShardSpec;
}

/** A task of a group, by position: `<group's job id>_<task>` once submitted. */
export interface TaskRef {
  group: number;
  task: number;
}

export interface JobGroup {
  name: string;
  tasks: JobTask[];
  afterOk: TaskRef[];
  afterAny: TaskRef[];
}

const trainKey = (n: { model: string; seed: number }) => `train:${n.model}:s${n.seed}`;

/** The tasks of an unfinished stage: the whole stage, or its shards not yet written. */
function tasksOf(stage: Stage, state: ReproduceState, shards: number): JobTask[] {
  if (shards <= 1 || !SHARDABLE_KINDS.has(stage.kind)) return [{ stage }];
  const rec = state.stages[stage.key];
  const written = rec?.fingerprint === fingerprint(stage.params) && rec.shards?.count === shards ? rec.shards.done : [];
  const todo = Array.from({ length: shards }, (_, i) => i + 1).filter((i) => !written.includes(i));
  // All written but not merged (the merging job died): one shard job finds its shard done and merges.
  return (todo.length ? todo : [shards]).map((index) => ({ stage, shard: { index, count: shards } }));
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.=+-]+/g, '-').replace(/^-+|-+$/g, '');

/** Job groups in submission order (every group after the groups it depends on). */
export function jobGroups(stages: Stage[], state: ReproduceState, outDir: string, opts: SlurmOptions = {}): JobGroup[] {
  const pending = stages.filter((s) => !stageDone(outDir, state, s));
  const pendingKeys = new Set(pending.map((s) => s.key));
  const bySignature = new Map<string, { stages: Stage[]; ok: string[]; any: string[] }>();
  for (const s of pending) {
    const ok = s.kind === 'train' ? [] : [...new Set(s.needs.map(trainKey))].filter((k) => pendingKeys.has(k)).sort();
    const any = [...new Set(s.after ?? [])].filter((k) => pendingKeys.has(k)).sort();
    const sig = s.kind === 'train' ? 'train' : JSON.stringify({ ok, any });
    const g = bySignature.get(sig) ?? { stages: [], ok, any };
    g.stages.push(s);
    bySignature.set(sig, g);
  }
  // Where each stage's tasks land, to resolve dependencies.
  const placed = new Map<string, TaskRef[]>();
  const groups: JobGroup[] = [];
  const names = new Set<string>();
  const nameOf = (sig: string, g: { ok: string[]; any: string[] }) => {
    const base =
      sig === 'train'
        ? 'train'
        : g.ok.length === 0 && g.any.length === 0
          ? 'ready'
          : `after-${g.ok.map((k) => k.replace(/^train:/, '')).join('+') || 'stages'}${g.any.length ? '-then' : ''}`;
    let name = safe(base).slice(0, 60) || 'group';
    for (let i = 2; names.has(name); i++) name = `${safe(base).slice(0, 56)}-${i}`;
    names.add(name);
    return name;
  };
  let remaining = [...bySignature.entries()];
  while (remaining.length > 0) {
    const ready = remaining.filter(([, g]) => [...g.ok, ...g.any].every((k) => placed.has(k)));
    // Dependencies only point to stages listed earlier, so some group is always ready.
    if (ready.length === 0) throw new Error(`the stages' dependencies form a cycle: ${remaining.map(([s]) => s).join('; ')}`);
    for (const [sig, g] of ready) {
      const index = groups.length;
      const tasks = g.stages.flatMap((s) => tasksOf(s, state, opts.shards ?? 1));
      const refs = (keys: string[]) => keys.flatMap((k) => placed.get(k)!);
      groups.push({ name: nameOf(sig, g), tasks, afterOk: refs(g.ok), afterAny: refs(g.any) });
      tasks.forEach((t, task) => placed.set(t.stage.key, [...(placed.get(t.stage.key) ?? []), { group: index, task }]));
    }
    remaining = remaining.filter((e) => !ready.includes(e));
  }
  return groups;
}

/** `--dependency=…` of a group, given the job ids of the groups before it (or placeholders). */
export function dependencyOf(g: JobGroup, ids: string[]): string | undefined {
  const list = (refs: TaskRef[]) => [...new Set(refs.map((r) => `${ids[r.group]}_${r.task}`))].join(':');
  const parts = [
    ...(g.afterOk.length ? [`afterok:${list(g.afterOk)}`] : []),
    ...(g.afterAny.length ? [`afterany:${list(g.afterAny)}`] : []),
  ];
  return parts.length ? parts.join(',') : undefined;
}

const quote = (a: string) => (/^[\w./=:@+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

export interface ScriptContext {
  outDir: string;
  /** The fim command line on the compute nodes (node, its flags, the CLI script). */
  fim: string[];
  /** Working directory of the jobs (the submission's). */
  cwd: string;
  options: SlurmOptions;
  /** Shown in squeue: fim-<tag>-<group>. */
  tag: string;
}

export const LOG_DIR = path.join('slurm', 'logs');

function header(ctx: ScriptContext, name: string, output: string, array?: number): string[] {
  const o = ctx.options;
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${quote(`fim-${ctx.tag}-${name}`)}`,
    ...(array !== undefined ? [`#SBATCH --array=0-${array - 1}`] : []),
    `#SBATCH --output=${quote(output)}`,
    `#SBATCH --chdir=${quote(ctx.cwd)}`,
    // A job whose afterok dependency failed is cancelled, not left pending forever.
    '#SBATCH --kill-on-invalid-dep=yes',
    ...(o.partition ? [`#SBATCH --partition=${quote(o.partition)}`] : []),
    ...(o.account ? [`#SBATCH --account=${quote(o.account)}`] : []),
    ...(o.time ? [`#SBATCH --time=${quote(o.time)}`] : []),
    ...(o.cpusPerTask ? [`#SBATCH --cpus-per-task=${o.cpusPerTask}`] : []),
    ...(o.gpusPerTask ? [`#SBATCH --gpus-per-task=${o.gpusPerTask}`] : []),
    ...(o.sbatchArgs ?? []).map((a) => `#SBATCH ${a}`),
    // The native kernels use as many threads as the job has CPUs (results do not depend on it).
    'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
  ];
}

/** The batch script of a group: array task i runs stage (or shard) tasks[i] with `fim reproduce --stage`. */
export function groupScript(ctx: ScriptContext, g: JobGroup): string {
  const logs = path.join(ctx.outDir, LOG_DIR);
  const lines = [
    ...header(ctx, g.name, path.join(logs, `${g.name}-%A_%a.out`), g.tasks.length),
    `export FIM_SLURM_LOG=${quote(logs)}/${g.name}-"$SLURM_ARRAY_JOB_ID"_"$SLURM_ARRAY_TASK_ID".out`,
    '# One stage of the reproduction per array task; state.json records each (fim reproduce --status).',
    'case "$SLURM_ARRAY_TASK_ID" in',
    ...g.tasks.map((t, i) => {
      const args = [
        ...ctx.fim,
        'reproduce',
        '--out',
        ctx.outDir,
        '--stage',
        t.stage.key,
        ...(t.shard ? ['--shard', `${t.shard.index}/${t.shard.count}`] : []),
      ];
      return `  ${i}) exec ${args.map(quote).join(' ')} ;;`;
    }),
    '  *) echo "no stage for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
    'esac',
    '',
  ];
  return lines.join('\n');
}

/** The last job: rebuilds report.html/json from whatever the others left (exit code 1 only means a stage failed). */
export function reportScript(ctx: ScriptContext): string {
  const args = [...ctx.fim, 'reproduce', '--out', ctx.outDir, '--report-only'];
  return [
    ...header(ctx, 'report', path.join(ctx.outDir, LOG_DIR, 'report-%j.out')),
    `${args.map(quote).join(' ')} && exit 0`,
    'rc=$?',
    '[ "$rc" -eq 1 ] && exit 0',
    'exit "$rc"',
    '',
  ].join('\n');
}

/** The log of array task `task` of job `id` in group `name`, relative to the reproduction directory. */
export const taskLog = (name: string, id: string, task: number) => path.join(LOG_DIR, `${name}-${id}_${task}.out`);
