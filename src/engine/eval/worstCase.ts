import pkg from '../../../package.json';
import type { EvalProvenance, NormName, ShardSpec, WorstCaseEval } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { runAttack, runOptions, validateBudgets } from '../attacks/run';
import { InputError } from '../errors';
import { wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { batchOf, blockOf, writeShard, type ShardPlan, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Worst case over attacks (AutoAttack's rule, Croce & Hein 2020): at each budget a sample is
 * robust only if it is classified correctly and no attack in the list changes its prediction.
 * All attacks must measure budgets in the same norm; OSSA joins l2 lists with ε as the l2 norm.
 */
export interface WorstCaseRequest extends EvalRequestBase {
  attacks: string[];
  budgets: number[];
  options?: Record<string, AttackOptions>;
}

/** What every shard of a worst-case evaluation shares (eval/shard.ts). */
export interface WorstCaseHeader {
  attacks: { name: string; options: AttackOptions }[];
  norm: NormName;
  budgets: number[];
  samples: number;
  /** Dataset indices of the correctly classified samples, in order (the units). */
  correctIndices: number[];
  checkpointSha256: string;
  engineVersion: string;
}

export interface WorstCasePart {
  /** Per unit: success (0/1) of each attack at each budget. */
  rows: { success: number[][] }[];
}

export function worstCasePlan(run: EvalRun, req: WorstCaseRequest): ShardPlan<WorstCaseHeader, WorstCasePart> {
  assertEvalName(req.name);
  const started = Date.now();
  if (req.attacks.length === 0) throw new InputError('give at least one attack');
  const attacks = req.attacks.map(getAttack);
  const norm = attacks[0]!.norm;
  const mixed = attacks.filter((a) => a.norm !== norm);
  if (mixed.length) throw new InputError(`worst case needs attacks in one norm: ${attacks.map((a) => `${a.name} (${a.norm})`).join(', ')}`);
  for (const a of attacks) validateBudgets(a, req.budgets);
  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  const c = clean.correct.length;
  const seed = req.seed ?? 0;
  const settings = attacks.map((a) => {
    const own = { ...(a.name === 'ossa' ? { epsUnit: 'l2' } : {}), ...(req.options?.[a.name] ?? {}) };
    if (a.name === 'ossa' && own.epsUnit !== 'l2') throw new InputError('in a worst-case list OSSA budgets are l2 norms (epsUnit l2)');
    return { options: own, seed, ...(req.batchSize ? { batchSize: req.batchSize } : {}) };
  });
  const resolved = attacks.map((a, ai) => runOptions(a, settings[ai]!));
  const header: WorstCaseHeader = {
    attacks: attacks.map((a, ai) => ({ name: a.name, options: resolved[ai]! })),
    norm,
    budgets: req.budgets,
    samples: indices.length,
    correctIndices: clean.correct.map((i) => indices[i]!),
    checkpointSha256: run.checkpointSha256,
    engineVersion: pkg.version,
  };
  const compute = (u0: number, u1: number): WorstCasePart => {
    const pos = clean.correct.slice(u0, u1);
    const rows: WorstCasePart['rows'] = pos.map(() => ({ success: [] }));
    if (pos.length === 0) return { rows };
    const inputs = {
      model: run.model,
      x: rowsOf(clean.x, pos, size),
      shape: d.imageShape,
      labels: Int32Array.from(pos, (i) => clean.labels[i]!),
    };
    attacks.forEach((a, ai) => {
      const r = runAttack(a, inputs, req.budgets, {
        ...settings[ai]!,
        firstSample: u0,
        onProgress: (done, total, detail) =>
          req.onProgress?.(`${a.name}: ${done}/${total}${detail ? `, ${detail}` : ''}`, (ai + done / total) / attacks.length),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      rows.forEach((row, j) => row.success.push(r.budgets.map((b) => b.success[j]!)));
    });
    return { rows };
  };
  return {
    kind: 'worst-case',
    name: req.name ?? evalNameFrom('worst-case', norm),
    runDir: run.runDir,
    header,
    units: c,
    block: blockOf(resolved.map(batchOf)),
    compute,
    provenance: () => makeProvenance('worst-case', run, req.selection.split, indices, seed, started, req.command),
  };
}

/** The evaluation from its samples' success flags (those of one run, or of all shards in order). */
export function worstCaseResult(h: WorstCaseHeader, parts: WorstCasePart[], provenance: EvalProvenance): WorstCaseEval {
  const rows = parts.flatMap((p) => p.rows);
  const n = h.samples;
  const c = h.correctIndices.length;
  if (rows.length !== c) throw new InputError(`a worst-case evaluation needs all ${c} attacked samples, got ${rows.length}`);
  const results = h.budgets.map((budget, bi) => {
    const perAttackAccuracy: Record<string, number> = {};
    if (c > 0) h.attacks.forEach((a, ai) => (perAttackAccuracy[a.name] = (c - rows.reduce((s, r) => s + r.success[ai]![bi]!, 0)) / n));
    const broken = rows.filter((r) => r.success.some((per) => per[bi] === 1)).length;
    const robust = c - broken;
    return { budget, robustAccuracy: robust / n, robustAccuracyCi: wilsonInterval(robust, n), perAttackAccuracy };
  });
  return {
    kind: 'worst-case',
    provenance,
    attacks: h.attacks.map((a) => a.name),
    norm: h.norm,
    results,
    samples: n,
    correct: c,
    cleanAccuracy: c / n,
    options: c > 0 ? Object.fromEntries(h.attacks.map((a) => [a.name, a.options])) : {},
    perSample: rows.map((r, j) => ({
      index: h.correctIndices[j]!,
      brokenBy: h.budgets.map((_, bi) => h.attacks.filter((_a, ai) => r.success[ai]![bi] === 1).map((a) => a.name)),
    })),
  };
}

export async function worstCaseRun(run: EvalRun, req: WorstCaseRequest): Promise<{ file: string; result: WorstCaseEval }> {
  const plan = worstCasePlan(run, req);
  // One evaluation of a name at a time: a second one is refused rather than overwriting it.
  return withEvalLock(run.runDir, plan.name, 'worst-case evaluation', () => {
    const part = plan.compute(0, plan.units, new Map());
    const result = worstCaseResult(plan.header, [part], plan.provenance());
    const file = writeEval(run.runDir, plan.name, result);
    return { file, result };
  });
}

/** Shard `shard` of the evaluation `req` (merge the shards with mergeEvalShards). */
export async function worstCaseShard(run: EvalRun, req: WorstCaseRequest, shard: ShardSpec): Promise<ShardWritten> {
  return writeShard(worstCasePlan(run, req), shard);
}
