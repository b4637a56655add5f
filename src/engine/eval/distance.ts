import pkg from '../../../package.json';
import type { DistanceEval, DistanceRow, EvalProvenance, NormName, ShardSpec } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { minimalAdversarial, runOptions } from '../attacks/run';
import { InputError } from '../errors';
import { mean, median, wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { batchOf, blockOf, writeShard, type ShardPlan, type ShardWritten } from './shard';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Minimum adversarial distance per attack (the paper's Table 1), each found by the attack's own
 * search (Foolbox 2.4's, see attacks/search.ts), on the correctly classified samples. Distances are
 * reported in the natural norm and in Foolbox 2's units (docs/design.md §2) for pixels in [0, 1]:
 *   MSE = ‖δ‖₂²/N, MAE = ‖δ‖₁/N, Linf = ‖δ‖∞, L0 = number of changed elements.
 */
export const TABLE1_ATTACKS = ['fgsm', 'fgm', 'bim-l1', 'bim-l2', 'bim-linf', 'deepfool', 'cw', 'jsma', 'pgd'] as const;

export function foolbox2Units(norm: NormName, natural: number, size: number): number {
  if (norm === 'l2') return (natural * natural) / size;
  if (norm === 'l1') return natural / size;
  return natural;
}

const UNIT: Record<NormName, DistanceRow['foolbox2']['unit']> = { l2: 'MSE', l1: 'MAE', linf: 'Linf', l0: 'L0' };

export interface DistanceRequest extends EvalRequestBase {
  attacks: string[];
  /** Per-attack option overrides. */
  options?: Record<string, AttackOptions>;
}

/** What every shard of a minimum-distance evaluation shares (eval/shard.ts). */
export interface DistanceHeader {
  attacks: { name: string; norm: NormName; options: AttackOptions }[];
  /** Pixels per sample (for Foolbox 2's units). */
  size: number;
  /** Dataset indices of the correctly classified samples, in order (the units). */
  correctIndices: number[];
  checkpointSha256: string;
  engineVersion: string;
}

export interface DistancePart {
  /** Per unit: the natural-norm distance found by each attack, null where its search failed. */
  rows: { distance: (number | null)[] }[];
  /** Wall seconds per attack, one list per computation (a merge adds them up). */
  wallSeconds: number[][];
}

export function distancePlan(run: EvalRun, req: DistanceRequest): ShardPlan<DistanceHeader, DistancePart> {
  assertEvalName(req.name);
  const started = Date.now();
  if (req.attacks.length === 0) throw new InputError('give at least one attack');
  const attacks = req.attacks.map(getAttack);
  for (const name of Object.keys(req.options ?? {})) {
    if (!attacks.some((a) => a.name === name))
      throw new InputError(`options given for ${name}, which is not among the attacks (${attacks.map((a) => a.name).join(', ')})`);
  }
  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  const c = clean.correct.length;
  if (c === 0) throw new InputError(`the model classifies none of the ${indices.length} samples correctly; there is nothing to attack`);
  const seed = req.seed ?? 0;
  const settings = attacks.map((attack) => ({
    ...(req.options?.[attack.name] ? { options: req.options[attack.name] } : {}),
    seed,
    ...(req.batchSize ? { batchSize: req.batchSize } : {}),
  }));
  const resolved = attacks.map((a, ai) => runOptions(a, settings[ai]!));
  const header: DistanceHeader = {
    attacks: attacks.map((a, ai) => ({ name: a.name, norm: a.norm, options: resolved[ai]! })),
    size,
    correctIndices: clean.correct.map((i) => indices[i]!),
    checkpointSha256: run.checkpointSha256,
    engineVersion: pkg.version,
  };
  const compute = (u0: number, u1: number): DistancePart => {
    const pos = clean.correct.slice(u0, u1);
    const rows = pos.map(() => ({ distance: [] as (number | null)[] }));
    const wall: number[] = [];
    const inputs = {
      model: run.model,
      x: rowsOf(clean.x, pos, size),
      shape: d.imageShape,
      labels: Int32Array.from(pos, (i) => clean.labels[i]!),
    };
    attacks.forEach((attack, ai) => {
      const t0 = Date.now();
      if (pos.length > 0) {
        const r = minimalAdversarial(attack, inputs, {
          ...settings[ai]!,
          firstSample: u0,
          onProgress: (done, total, detail) =>
            req.onProgress?.(
              `${attack.name} (${ai + 1}/${attacks.length}): batch ${Math.min(done + 1, total)}/${total}${detail ? `, ${detail}` : ''}`,
              (ai + done / total) / attacks.length,
            ),
          ...(req.signal ? { signal: req.signal } : {}),
        });
        rows.forEach((row, j) => row.distance.push(Number.isNaN(r.distance[j]!) ? null : r.distance[j]!));
        req.onProgress?.(`${attack.name}: done (${r.found.reduce((a, v) => a + v, 0)}/${pos.length} found)`, (ai + 1) / attacks.length);
      }
      wall.push((Date.now() - t0) / 1000);
    });
    return { rows, wallSeconds: [wall] };
  };
  return {
    kind: 'distance',
    name: req.name ?? evalNameFrom('distance'),
    runDir: run.runDir,
    header,
    units: c,
    block: blockOf(resolved.map(batchOf)),
    compute,
    provenance: () => makeProvenance('distance', run, req.selection.split, indices, seed, started, req.command),
  };
}

/** The evaluation from its samples' distances (those of one run, or of all shards in order). */
export function distanceResult(h: DistanceHeader, parts: DistancePart[], provenance: EvalProvenance): DistanceEval {
  const rows = parts.flatMap((p) => p.rows);
  const c = h.correctIndices.length;
  if (rows.length !== c) throw new InputError(`a minimum-distance evaluation needs all ${c} attacked samples, got ${rows.length}`);
  const results: DistanceRow[] = h.attacks.map((a, ai) => {
    const all = rows.map((r) => r.distance[ai] ?? null);
    const ok = all.filter((v): v is number => v !== null);
    const fb = ok.map((v) => foolbox2Units(a.norm, v, h.size));
    const found = ok.length;
    return {
      attack: a.name,
      norm: a.norm,
      meanDistance: mean(ok),
      medianDistance: median(ok),
      successRate: found / c,
      samples: c,
      foolbox2: { unit: UNIT[a.norm], mean: mean(fb), median: median(fb) },
      options: a.options,
      attacked: c,
      found,
      successRateCi: wilsonInterval(found, c),
      perSample: all.map((distance, j) => ({ index: h.correctIndices[j]!, distance })),
      wallSeconds: parts.reduce((s, p) => s + p.wallSeconds.reduce((t, w) => t + (w[ai] ?? 0), 0), 0),
    };
  });
  return { kind: 'distance', provenance, results };
}

export async function distanceRun(run: EvalRun, req: DistanceRequest): Promise<{ file: string; result: DistanceEval }> {
  const plan = distancePlan(run, req);
  // One evaluation of a name at a time: a second one is refused rather than overwriting it.
  return withEvalLock(run.runDir, plan.name, 'minimum-distance evaluation', () => {
    const part = plan.compute(0, plan.units, new Map());
    const result = distanceResult(plan.header, [part], plan.provenance());
    const file = writeEval(run.runDir, plan.name, result);
    return { file, result };
  });
}

/** Shard `shard` of the evaluation `req` (merge the shards with mergeEvalShards). */
export async function distanceShard(run: EvalRun, req: DistanceRequest, shard: ShardSpec): Promise<ShardWritten> {
  return writeShard(distancePlan(run, req), shard);
}
