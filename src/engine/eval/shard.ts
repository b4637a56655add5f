import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic, writeJsonAtomic } from '../../runs/atomic';
import type { EvalKind, EvalProvenance, EvalShardFile, ShardSpec } from '../../runs/evals';
import { RUN_FILES } from '../../runs/paths';
import { readJsonFile } from '../../runs/reader';
import { InputError } from '../errors';
import { assertEvalName } from './store';

/**
 * Sharded evaluations (`--shard I/N`, then `fim eval merge`), for evaluations too large for one
 * job. An evaluation works through a list of units (the samples it attacks or inspects, in order)
 * batch by batch. Shard I of N takes a contiguous run of whole batches and computes their
 * per-unit results exactly as the whole evaluation would: the same batches, seeded by their
 * position in the whole list (`RunSettings.firstSample`). What comes before the units (the clean
 * pass that picks the correctly classified samples, the temperature fit) every shard repeats in
 * full. The merge concatenates the shards' units in order and runs the same aggregation as an
 * unsharded run, so the merged evaluation is the unsharded one: the same per-sample results,
 * counts, means, medians and intervals.
 *
 * Each kind of evaluation provides a `ShardPlan` (its header and a `compute(u0, u1)` of per-unit
 * results) and a merger (eval/merge.ts); its `…Run` function is `compute(0, all)` then the same
 * aggregation, so the two paths cannot drift apart.
 */
export interface ShardPlan<H, P> {
  kind: EvalKind;
  /** The evaluation's name under the run's evals/ (the shards go under evals/.shards/<name>/). */
  name: string;
  /** The run the shards are stored in. */
  runDir: string;
  /** Everything the aggregation needs besides the units' results; identical in every shard. */
  header: H;
  units: number;
  /** Shards cover multiples of this many units: the batch size (of every attack involved). */
  block: number;
  /** Per-unit results of units [u0, u1); images it draws go into `images` (paths relative to evals/). */
  compute(u0: number, u1: number, images: Map<string, Uint8Array>): P;
  /** Provenance of the computation, taken when it ends (wall time from the request's start). */
  provenance(): EvalProvenance;
}

/** What a shard run returns: where it went and which units it covered. */
export interface ShardWritten {
  file: string;
  runDir: string;
  name: string;
  shard: ShardSpec;
  units: [number, number];
  totalUnits: number;
}

/** `I/N` with 1 ≤ I ≤ N, e.g. `2/8`. */
export function parseShardSpec(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 1) || index > count || count > 10000)
    throw new InputError(`a shard is I/N with 1 ≤ I ≤ N ≤ 10000, e.g. 2/8 (got "${text}")`);
  return { index, count };
}

export const shardLabel = (s: ShardSpec) => `${s.index}/${s.count}`;

/**
 * The units of shard I/N: of the ⌈total/block⌉ batches, shard I takes batches
 * [⌊(I−1)·B/N⌋, ⌊I·B/N⌋). More shards than batches leaves some shards empty, which is allowed.
 */
export function shardRange(total: number, block: number, shard: ShardSpec): [number, number] {
  const batches = Math.ceil(total / block);
  const b0 = Math.floor(((shard.index - 1) * batches) / shard.count);
  const b1 = Math.floor((shard.index * batches) / shard.count);
  return [Math.min(total, b0 * block), Math.min(total, b1 * block)];
}

/** Least common multiple of batch sizes (shards of a multi-attack evaluation align to all of them). */
export function blockOf(sizes: number[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return sizes.reduce((l, s) => (l * s) / gcd(l, s), 1);
}

/** Batch size an attack runs with (its resolved `batchSize` option; 100 if unset). */
export const batchOf = (options: { batchSize?: unknown }) => Number(options.batchSize) || 100;

export const SHARDS_DIR = '.shards';

/** `evals/.shards/<name>`: a dot folder, so it is never an evaluation or an evaluation's image folder. */
export function shardDir(runDir: string, name: string): string {
  return path.join(runDir, RUN_FILES.evals, SHARDS_DIR, name);
}

const shardBase = (s: ShardSpec) => `${s.index}-of-${s.count}`;

function fingerprintOf(kind: EvalKind, name: string, header: unknown, totalUnits: number, count: number): string {
  return createHash('sha256')
    .update(JSON.stringify({ kind, name, header: encodeNonFinite(header), totalUnits, count }))
    .digest('hex');
}

/** JSON has no NaN or ±Infinity: store them as strings so that a merge is exact. */
function encodeNonFinite(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (Array.isArray(v)) return v.map(encodeNonFinite);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeNonFinite(x)]));
  return v;
}

function decodeNonFinite(v: unknown): unknown {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (Array.isArray(v)) return v.map(decodeNonFinite);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeNonFinite(x)]));
  return v;
}

/**
 * Computes shard `shard` of `plan` and writes it: images first, JSON last, each atomically. Shards
 * of an earlier, different evaluation of the same name (another fingerprint or shard count) are
 * removed first, so a merge never mixes them; the other shards of this one are left alone.
 */
export function writeShard<H, P>(plan: ShardPlan<H, P>, shard: ShardSpec): ShardWritten {
  assertEvalName(plan.name);
  const [u0, u1] = shardRange(plan.units, plan.block, shard);
  const images = new Map<string, Uint8Array>();
  const part = plan.compute(u0, u1, images);
  const dir = shardDir(plan.runDir, plan.name);
  const fingerprint = fingerprintOf(plan.kind, plan.name, plan.header, plan.units, shard.count);
  for (const f of listShardFiles(dir)) {
    const other = readJsonFile<EvalShardFile>(path.join(dir, f));
    if (!other || other.fingerprint !== fingerprint) {
      fs.rmSync(path.join(dir, f), { force: true });
      fs.rmSync(path.join(dir, f.slice(0, -'.json'.length)), { recursive: true, force: true });
    }
  }
  const base = shardBase(shard);
  if (images.size > 0) {
    writeDirAtomic(path.join(dir, base), (tmp) => {
      for (const [rel, data] of images) {
        const file = path.join(tmp, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, data);
      }
    });
  }
  const value: EvalShardFile = {
    kind: 'eval-shard',
    formatVersion: 1,
    evalKind: plan.kind,
    name: plan.name,
    shard,
    fingerprint,
    units: [u0, u1],
    totalUnits: plan.units,
    provenance: plan.provenance(),
    header: encodeNonFinite(plan.header) as Record<string, unknown>,
    part: encodeNonFinite(part) as Record<string, unknown>,
    images: [...images.keys()],
  };
  const file = path.join(dir, `${base}.json`);
  writeJsonAtomic(file, value);
  return { file, runDir: plan.runDir, name: plan.name, shard, units: [u0, u1], totalUnits: plan.units };
}

function listShardFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => /^\d+-of-\d+\.json$/.test(f));
  } catch {
    return [];
  }
}

/** Which shards of `name` are written (for progress and for a job that checks whether it is the last). */
export function writtenShards(runDir: string, name: string): ShardSpec[] {
  return listShardFiles(shardDir(runDir, name)).map((f) => {
    const [i, n] = f.slice(0, -'.json'.length).split('-of-');
    return { index: Number(i), count: Number(n) };
  });
}

/**
 * The complete, consistent set of shards of `name`, in order, with headers and parts decoded.
 * Missing, corrupt, foreign or overlapping shards are input errors that say which.
 */
export function readShards(runDir: string, name: string): EvalShardFile[] {
  assertEvalName(name);
  const dir = shardDir(runDir, name);
  const files = listShardFiles(dir);
  if (files.length === 0) throw new InputError(`no shards of evaluation "${name}" in ${dir}; write them with --shard I/N --name ${name}`);
  const shards: EvalShardFile[] = [];
  for (const f of files) {
    const problems: string[] = [];
    const s = readJsonFile<EvalShardFile>(path.join(dir, f), problems);
    if (!s || s.kind !== 'eval-shard' || !s.shard || !Array.isArray(s.units) || !s.header || !s.part)
      throw new InputError(`${path.join(dir, f)} is not a readable evaluation shard${problems.length ? ` (${problems.join('; ')})` : ''}`);
    shards.push({
      ...s,
      header: decodeNonFinite(s.header) as Record<string, unknown>,
      part: decodeNonFinite(s.part) as Record<string, unknown>,
    });
  }
  const first = shards[0]!;
  const foreign = shards.filter((s) => s.fingerprint !== first.fingerprint || s.shard.count !== first.shard.count);
  if (foreign.length > 0)
    throw new InputError(
      `the shards in ${dir} belong to different evaluations (${shards.map((s) => `${shardLabel(s.shard)}: ${s.fingerprint.slice(0, 8)}`).join(', ')}); rerun the missing ones with the same flags`,
    );
  shards.sort((a, b) => a.shard.index - b.shard.index);
  const missing: number[] = [];
  for (let i = 1; i <= first.shard.count; i++) if (!shards.some((s) => s.shard.index === i)) missing.push(i);
  if (missing.length > 0)
    throw new InputError(
      `evaluation "${name}" has ${shards.length} of ${first.shard.count} shards; missing ${missing.map((i) => `${i}/${first.shard.count}`).join(', ')}`,
    );
  let next = 0;
  for (const s of shards) {
    if (s.units[0] !== next)
      throw new InputError(`shard ${shardLabel(s.shard)} of "${name}" starts at unit ${s.units[0]}, expected ${next}`);
    next = s.units[1];
  }
  if (next !== first.totalUnits) throw new InputError(`the shards of "${name}" cover ${next} of ${first.totalUnits} units`);
  return shards;
}

/** The images the shards wrote, keyed by their path relative to evals/. */
export function shardImages(runDir: string, shards: EvalShardFile[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const s of shards) {
    const dir = path.join(shardDir(runDir, s.name), shardBase(s.shard));
    for (const rel of s.images) {
      try {
        out.set(rel, fs.readFileSync(path.join(dir, rel)));
      } catch (e) {
        throw new InputError(`shard ${shardLabel(s.shard)} of "${s.name}": image ${rel} cannot be read (${(e as Error).message})`);
      }
    }
  }
  return out;
}

/** The merged evaluation's provenance: the first shard's, with the shards' wall times, commands and backends. */
export function mergedProvenance(shards: EvalShardFile[], command?: string): EvalProvenance {
  const p = shards[0]!.provenance;
  const backends = [...new Set(shards.map((s) => s.provenance.backend))];
  const wallSeconds = shards.map((s) => s.provenance.wallSeconds);
  return {
    ...p,
    createdAt: new Date().toISOString(),
    backend: backends.join(', '),
    wallSeconds: wallSeconds.reduce((a, b) => a + b, 0),
    ...(command ? { command } : {}),
    shards: {
      count: shards.length,
      wallSeconds,
      commands: shards.map((s) => s.provenance.command ?? ''),
      backends: shards.map((s) => s.provenance.backend),
    },
  };
}
