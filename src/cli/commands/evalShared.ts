import * as path from 'node:path';
import { type AttackOptions } from '../../runs/evals';
import { evalNameProblem } from '../../protocol/names';
import { backendFlag, int, UsageError } from '../args';
import { bar, pct, printJson, type Progress } from '../output';
import type { ShardSpec } from '../../runs/evals';
import { onOutputClosed } from '../outputClosed';
import {
  ATTACK_NAMES,
  Cancelled,
  describeBackend,
  getAttack,
  initBackend,
  isInputError,
  loadEvalRun,
  parseShardSpec,
  shardLabel,
  type EvalRequestBase,
  type EvalRun,
  type SampleSelection,
  type ShardWritten,
} from '../../engine';

/** Flags and helpers shared by `fim inspect`, `fim attack` and `fim eval …`. */

export const SAMPLE_FLAGS = {
  samples: { type: 'string' },
  start: { type: 'string' },
  split: { type: 'string' },
  seed: { type: 'string' },
  batch: { type: 'string' },
  backend: { type: 'string' },
  name: { type: 'string' },
  shard: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const SAMPLE_USAGE = `  --samples N     number of samples, the first N from --start [%DEFAULT%]
  --start K       first sample index [0]
  --split S       test | train [test]
  --seed S        seed of random starts and random targets [0]
  --batch N       samples per batch [attack-dependent]
  --name NAME     evaluation file name under the run's evals/ [%NAME%]
  --shard I/N     compute only slice I of N (whole batches) into evals/.shards/NAME/; once all N
                  are written, fim eval merge makes the evaluation, identical to an unsharded run
  --backend B     auto | tfjs-node-gpu | tfjs-node | wasm | cpu [auto, or $FIM_BACKEND]
  --json          print the result as one JSON object on stdout (progress stays on stderr)`;

export function sampleUsage(defaultSamples: number, defaultName: string): string {
  return SAMPLE_USAGE.replace('%DEFAULT%', String(defaultSamples)).replace('%NAME%', defaultName);
}

export function selectionFrom(v: { samples?: string; start?: string; split?: string }, defaultSamples: number): SampleSelection {
  const split = v.split ?? 'test';
  if (split !== 'test' && split !== 'train') throw new UsageError(`--split must be test or train, got "${split}"`);
  return { split, start: int('start', v.start, 0, 0), count: int('samples', v.samples, defaultSamples) };
}

/**
 * Budgets: comma-separated numbers ≥ 0, `inf` for unbounded (minimization attacks only).
 * An empty list or a negative value is a usage error (exit code 2).
 */
export function budgetList(flag: string, v: string | undefined): number[] {
  if (v === undefined || v.trim() === '') throw new UsageError(`--${flag} needs a comma-separated list of budgets, e.g. --${flag} 1,2,4,6`);
  return v.split(',').map((s) => {
    const t = s.trim().toLowerCase();
    if (t === 'inf' || t === 'infinity') return Infinity;
    const n = Number(t);
    if (t === '' || !Number.isFinite(n)) throw new UsageError(`--${flag}: "${s}" is not a number`);
    if (n < 0) throw new UsageError(`--${flag}: budgets must be ≥ 0, got ${n}`);
    return n;
  });
}

export function attackList(v: string | undefined, flag = 'attacks'): string[] {
  if (v === undefined || v.trim() === '')
    throw new UsageError(`--${flag} needs a comma-separated list of attacks: ${ATTACK_NAMES.join(', ')}`);
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) getAttack(n);
  return names;
}

/**
 * `--option key=value` (one attack) or `--option attack.key=value` (several), repeatable. Values
 * are typed against the attack's defaults when it runs.
 */
export function attackOptions(values: string[] | undefined, attacks: string[]): Record<string, AttackOptions> {
  const out: Record<string, AttackOptions> = {};
  for (const raw of values ?? []) {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option expects key=value or attack.key=value, got "${raw}"`);
    let key = raw.slice(0, eq);
    const value = raw.slice(eq + 1);
    let attack = attacks.length === 1 ? attacks[0]! : '';
    const dot = key.indexOf('.');
    if (dot > 0) {
      attack = key.slice(0, dot);
      key = key.slice(dot + 1);
    }
    if (!attack)
      throw new UsageError(`--option ${raw}: with several attacks, name the attack: --option ${attacks[0] ?? 'cw'}.${key}=${value}`);
    if (!attacks.includes(attack)) throw new UsageError(`--option ${raw}: ${attack} is not among the attacks (${attacks.join(', ')})`);
    (out[attack] ??= {})[key] = value;
  }
  return out;
}

export async function startBackend(flag: string | undefined, progress: Progress): Promise<void> {
  const req = backendFlag(flag);
  const report = await initBackend(req);
  progress.line(describeBackend(report).split('\n')[0]!);
}

export async function openRun(dir: string | undefined, flag: string, progress: Progress): Promise<EvalRun> {
  if (!dir) throw new UsageError(`--${flag} DIR is required`);
  const run = await loadEvalRun(path.resolve(dir));
  progress.line(`run ${run.runDir}: checkpoint ${run.checkpoint} (sha256 ${run.checkpointSha256.slice(0, 12)}…)`);
  return run;
}

export function progressHook(progress: Progress): (message: string, fraction: number) => void {
  return (message, fraction) => progress.update(`${bar(fraction)} ${message}`, 5_000);
}

/** The command line, recorded in each result's provenance. */
export function commandLine(command: string, argv: string[]): string {
  return ['fim', command, ...argv].map((a) => (/^[\w./,=:@+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * The request fields every evaluation command takes from its flags: samples, seed, batch, name,
 * the command line for the provenance, and progress on stderr. Parsed before any work starts, so
 * a bad value fails at once.
 */
export function requestBase(
  v: { samples?: string; start?: string; split?: string; seed?: string; batch?: string; name?: string; shard?: string },
  defaultSamples: number,
  command: string,
  argv: string[],
  progress: Progress,
  /** Whether the command handles --shard (with shardFlag and runShardEvaluation); otherwise --shard is refused. */
  shardable = false,
): Omit<EvalRequestBase, 'signal'> {
  if (v.shard !== undefined && !shardable) throw new UsageError('--shard: this evaluation cannot run as shards yet');
  const seed = optionalInt('seed', v.seed, 0);
  const nameProblem = v.name === undefined ? null : evalNameProblem(v.name);
  if (nameProblem) throw new UsageError(`--name: ${nameProblem}`);
  const batchSize = optionalInt('batch', v.batch);
  return {
    selection: selectionFrom(v, defaultSamples),
    ...(seed !== undefined ? { seed } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(v.name !== undefined ? { name: v.name } : {}),
    command: commandLine(command, argv),
    onProgress: progressHook(progress),
  };
}

export function optionalInt(name: string, v: string | undefined, min = 1): number | undefined {
  return v === undefined ? undefined : int(name, v, undefined, min);
}

/**
 * Runs an evaluation with Ctrl-C wired to its AbortSignal: the first Ctrl-C stops it between
 * batches (nothing is written; the caller exits with 130), a second one exits at once.
 * Resolves to null when cancelled.
 */
export async function cancellable<T>(progress: Progress, f: (signal: AbortSignal) => Promise<T>): Promise<T | null> {
  const ac = new AbortController();
  let presses = 0;
  const onSigint = () => {
    presses++;
    if (presses > 1) process.exit(130);
    progress.line('stopping after the current batch (Ctrl-C again to quit at once)');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  const unsubscribe = onOutputClosed(() => ac.abort());
  try {
    return await f(ac.signal);
  } catch (e) {
    if (e instanceof Cancelled) {
      progress.line(e.message);
      return null;
    }
    throw e;
  } finally {
    unsubscribe();
    process.off('SIGINT', onSigint);
  }
}

/** Exit code of a cancelled evaluation (as for SIGINT). */
export const CANCELLED_EXIT = 130;

/**
 * The common course of an evaluation command: start the backend, run the evaluation (Ctrl-C
 * cancels it), say which files were written, and with --json print the result (`toJson` shapes it).
 * Resolves to null when cancelled.
 */
export async function runEvaluation<T extends { file?: string; files?: string[]; result: object }>(
  progress: Progress,
  v: { backend?: string; json?: boolean },
  f: (signal: AbortSignal) => Promise<T>,
  toJson: (done: T) => object = (d) => ({ ...(d.file ? { file: d.file } : { files: d.files }), ...d.result }),
): Promise<T | null> {
  await startBackend(v.backend, progress);
  const done = await cancellable(progress, f);
  if (!done) return null;
  progress.clear();
  for (const file of done.files ?? [done.file!]) progress.line(`wrote ${file}`);
  if (v.json) printJson(toJson(done));
  return done;
}

/** A 95% interval as text, e.g. "[31.5%, 44.3%]". */
export function ciText(c: [number, number]): string {
  return `[${pct(c[0], 1)}, ${pct(c[1], 1)}]`;
}

/** `--shard I/N`, or undefined without the flag. */
export function shardFlag(v: string | undefined): ShardSpec | undefined {
  if (v === undefined) return undefined;
  try {
    return parseShardSpec(v);
  } catch (e) {
    if (isInputError(e)) throw new UsageError(`--shard: ${(e as Error).message}`);
    throw e;
  }
}

/**
 * The course of an evaluation command with --shard: like runEvaluation, but what it writes is one
 * shard, and it says how to merge. Resolves to the exit code.
 */
export async function runShardEvaluation(
  progress: Progress,
  v: { backend?: string; json?: boolean },
  f: (signal: AbortSignal) => Promise<ShardWritten>,
): Promise<number> {
  await startBackend(v.backend, progress);
  const done = await cancellable(progress, f);
  if (!done) return CANCELLED_EXIT;
  progress.clear();
  const [u0, u1] = done.units;
  progress.line(`wrote shard ${shardLabel(done.shard)} (units ${u0}–${u1} of ${done.totalUnits}) to ${done.file}`);
  if (v.json) printJson(done);
  else
    process.stdout.write(
      `shard ${shardLabel(done.shard)} of "${done.name}": ${u1 - u0} of ${done.totalUnits} units; when all ${done.shard.count} are written: fim eval merge --run ${done.runDir} --name ${done.name}\n`,
    );
  return 0;
}
