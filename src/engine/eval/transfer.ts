import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import pkg from '../../../package.json';
import type { EvalProvenance, ShardSpec, TransferEval, TransferRow } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { minimalAdversarial, runAttack, runOptions, validateBudgets } from '../attacks/run';
import { argmaxRows, logitsOf } from '../models/predict';
import { InputError } from '../errors';
import { wilsonInterval } from '../../shared/stats';
import { imageSizeOf, rowsOf } from './common';
import { makeProvenance, samplesOf, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { batchOf, writeShard, type ShardPlan, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Transfer (black-box) evaluation, the paper's Table 2: adversarial examples crafted on one model,
 * classified by the other, in both directions. On the samples both models classify correctly, the
 * attack runs on the source (its minimum-distance search as in the paper, or a fixed budget);
 * the target's accuracy is measured on the examples that fooled the source.
 */
export interface TransferRequest extends EvalRequestBase {
  attack: string;
  /** Fixed budget; absent = the attack's minimum-distance search. */
  budget?: number;
  options?: AttackOptions;
}

function sameData(a: EvalRun, b: EvalRun): void {
  const da = a.data.test;
  const db = b.data.test;
  if (a.config.dataset !== b.config.dataset || da.imageShape.join() !== db.imageShape.join() || da.numClasses !== db.numClasses) {
    throw new InputError(
      `transfer needs two runs on the same dataset: ${a.runDir} uses ${a.config.dataset} [${da.imageShape}], ${b.runDir} uses ${b.config.dataset} [${db.imageShape}]`,
    );
  }
}

/** What every shard of a transfer evaluation shares (eval/shard.ts). */
export interface TransferHeader {
  attack: string;
  budget: number | null;
  options: AttackOptions;
  /** The two runs (crafting on `runs[0]` first), each with its checkpoint and the evaluation's name in it. */
  runs: { runDir: string; checkpoint: string; checkpointSha256: string; name: string }[];
  /** Dataset indices of the samples both classify correctly, in order (the units). */
  both: number[];
  split: 'train' | 'test';
  indices: number[];
  seed: number;
  engineVersion: string;
}

export interface TransferPart {
  /** Per unit and direction (runs[0] → runs[1], then back): fooled the source (0/1); the target right on it (0/1, null if not fooled). */
  rows: { fooled: number[]; targetCorrect: (number | null)[] }[];
}

export function transferPlan(from: EvalRun, to: EvalRun, req: TransferRequest): ShardPlan<TransferHeader, TransferPart> {
  assertEvalName(req.name);
  const started = Date.now();
  sameData(from, to);
  const attack = getAttack(req.attack);
  if (req.budget !== undefined) validateBudgets(attack, [req.budget]);
  const d = splitOf(from, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const { x, labels } = samplesOf(d, indices);
  const predict = (run: EvalRun, data: Float32Array, n: number) =>
    tf.tidy(() => argmaxRows(logitsOf(run.model, tf.tensor4d(data, [n, ...d.imageShape])), d.numClasses));
  const pf = predict(from, x, indices.length);
  const pt = predict(to, x, indices.length);
  const both = indices.map((_, i) => i).filter((i) => pf[i] === labels[i] && pt[i] === labels[i]);
  if (both.length === 0) throw new InputError('the two models classify none of the samples both correctly');
  const seed = req.seed ?? 0;
  const settingsBase = { ...(req.options ? { options: req.options } : {}), seed, ...(req.batchSize ? { batchSize: req.batchSize } : {}) };
  const options = runOptions(attack, settingsBase);
  const block = batchOf(options);
  const names = [from, to].map(
    (self) => req.name ?? evalNameFrom('transfer', attack.name, path.basename((self === from ? to : from).runDir)),
  );
  const header: TransferHeader = {
    attack: attack.name,
    budget: req.budget ?? null,
    options,
    runs: [from, to].map((r, i) => ({ runDir: r.runDir, checkpoint: r.checkpoint, checkpointSha256: r.checkpointSha256, name: names[i]! })),
    both: both.map((i) => indices[i]!),
    split: req.selection.split,
    indices,
    seed,
    engineVersion: pkg.version,
  };
  const compute = (u0: number, u1: number): TransferPart => {
    const pos = both.slice(u0, u1);
    const m = pos.length;
    const rows: TransferPart['rows'] = pos.map(() => ({ fooled: [], targetCorrect: [] }));
    if (m === 0) return { rows };
    const xs = rowsOf(x, pos, size);
    const ys = Int32Array.from(pos, (i) => labels[i]!);
    const direction = (source: EvalRun, target: EvalRun, step: number): void => {
      req.onProgress?.(`${attack.name}: crafting on ${path.basename(source.runDir)}`, step / 2);
      const inputs = { model: source.model, x: xs, shape: d.imageShape, labels: ys };
      const settings = {
        ...settingsBase,
        firstSample: u0,
        ...(req.signal ? { signal: req.signal } : {}),
        onProgress: (done: number, total: number, detail?: string) =>
          req.onProgress?.(
            `${attack.name}: crafting on ${path.basename(source.runDir)}, batch ${Math.min(done + 1, total)}/${total}${detail ? `, ${detail}` : ''}`,
            (step + done / total) / 2,
          ),
      };
      let adv: Float32Array;
      let ok: Uint8Array;
      if (req.budget === undefined) {
        const r = minimalAdversarial(attack, inputs, settings);
        adv = r.adv;
        ok = r.found;
      } else {
        const r = runAttack(attack, inputs, [req.budget], settings);
        const b = r.budgets[0]!;
        adv = b.evaluated === 'clipped' ? b.clipped : b.raw;
        ok = b.success;
      }
      // The target classifies the source's adversarials batch by batch, as they were crafted, so
      // that a shard's predictions are the whole run's.
      for (let j0 = 0; j0 < m; j0 += block) {
        const fooled: number[] = [];
        for (let j = j0; j < Math.min(m, j0 + block); j++) if (ok[j]) fooled.push(j);
        const pred = fooled.length ? predict(target, rowsOf(adv, fooled, size), fooled.length) : new Int32Array(0);
        for (let j = j0; j < Math.min(m, j0 + block); j++) {
          rows[j]!.fooled.push(ok[j] ? 1 : 0);
          rows[j]!.targetCorrect.push(ok[j] ? 0 : null);
        }
        fooled.forEach((j, t) => (rows[j]!.targetCorrect[step] = pred[t] === ys[j] ? 1 : 0));
      }
    };
    direction(from, to, 0);
    direction(to, from, 1);
    return { rows };
  };
  return {
    kind: 'transfer',
    name: names[0]!,
    runDir: from.runDir,
    header,
    units: both.length,
    block,
    compute,
    provenance: () => makeProvenance('transfer', from, req.selection.split, indices, seed, started, req.command),
  };
}

/**
 * The transfer evaluation as stored in each of the two runs, from the units' results (those of
 * one run, or of all shards in order). `provenance` is the first run's; the second run's differs
 * only in the run and checkpoint it names.
 */
export function transferResults(
  h: TransferHeader,
  parts: TransferPart[],
  provenance: EvalProvenance,
): { runDir: string; name: string; value: TransferEval }[] {
  const rows = parts.flatMap((p) => p.rows);
  if (rows.length !== h.both.length)
    throw new InputError(`a transfer evaluation needs all ${h.both.length} crafted samples, got ${rows.length}`);
  const crafted = h.both.length;
  const results: TransferRow[] = [0, 1].map((dir) => {
    const [source, target] = dir === 0 ? [h.runs[0]!, h.runs[1]!] : [h.runs[1]!, h.runs[0]!];
    const fooled = rows.filter((r) => r.fooled[dir] === 1);
    const right = fooled.reduce((a, r) => a + (r.targetCorrect[dir] ?? 0), 0);
    return {
      attack: h.attack,
      source: path.basename(source.runDir),
      target: path.basename(target.runDir),
      samples: fooled.length,
      sourceAccuracy: (crafted - fooled.length) / crafted,
      targetAccuracy: fooled.length ? right / fooled.length : NaN,
      targetAccuracyCi: wilsonInterval(right, fooled.length),
      crafted,
      ...(h.budget !== null ? { budget: h.budget } : {}),
      sourceRunDir: source.runDir,
      targetRunDir: target.runDir,
      perSample: rows.map((r, j) => ({
        index: h.both[j]!,
        fooledSource: r.fooled[dir] === 1,
        targetCorrect: r.targetCorrect[dir] === null || r.targetCorrect[dir] === undefined ? null : r.targetCorrect[dir] === 1,
      })),
    };
  });
  return [0, 1].map((i) => {
    const self = h.runs[i]!;
    const other = h.runs[1 - i]!;
    const value: TransferEval = {
      kind: 'transfer',
      provenance: { ...provenance, runDir: self.runDir, checkpoint: self.checkpoint, checkpointSha256: self.checkpointSha256 },
      otherRunDir: other.runDir,
      results,
      otherCheckpoint: other.checkpoint,
      otherCheckpointSha256: other.checkpointSha256,
      options: h.options,
    };
    return { runDir: self.runDir, name: self.name, value };
  });
}

export async function transferRun(from: EvalRun, to: EvalRun, req: TransferRequest): Promise<{ files: string[]; result: TransferEval }> {
  const plan = transferPlan(from, to, req);
  const [a, b] = plan.header.runs;
  // The result is written into both runs: hold both names (a second evaluation is refused).
  return withEvalLock(a!.runDir, a!.name, `transfer ${plan.header.attack}`, () =>
    withEvalLock(b!.runDir, b!.name, `transfer ${plan.header.attack}`, () => {
      const part = plan.compute(0, plan.units, new Map());
      const out = transferResults(plan.header, [part], plan.provenance());
      const files = out.map((o) => writeEval(o.runDir, o.name, o.value));
      return { files, result: out[0]!.value };
    }),
  );
}

/** Shard `shard` of the transfer evaluation `req`, stored in the `from` run (merge the shards with mergeEvalShards). */
export async function transferShard(from: EvalRun, to: EvalRun, req: TransferRequest, shard: ShardSpec): Promise<ShardWritten> {
  return writeShard(transferPlan(from, to, req), shard);
}
