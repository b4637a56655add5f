import type { DistanceEval, DistanceRow, NormName } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { minimalAdversarial } from '../attacks/run';
import { InputError } from '../errors';
import { mean, median, wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
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

export async function distanceRun(run: EvalRun, req: DistanceRequest): Promise<{ file: string; result: DistanceEval }> {
  assertEvalName(req.name);
  const name = req.name ?? evalNameFrom('distance');
  return withEvalLock(run.runDir, name, 'minimum distances', () => distanceLocked(run, req, name));
}

async function distanceLocked(run: EvalRun, req: DistanceRequest, name: string): Promise<{ file: string; result: DistanceEval }> {
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
  const inputs = {
    model: run.model,
    x: rowsOf(clean.x, clean.correct, size),
    shape: d.imageShape,
    labels: Int32Array.from(clean.correct, (i) => clean.labels[i]!),
  };
  const results: DistanceRow[] = [];
  attacks.forEach((attack, ai) => {
    const t0 = Date.now();
    const r = minimalAdversarial(attack, inputs, {
      ...(req.options?.[attack.name] ? { options: req.options[attack.name] } : {}),
      seed,
      ...(req.batchSize ? { batchSize: req.batchSize } : {}),
      onProgress: (done, total, detail) =>
        req.onProgress?.(
          `${attack.name} (${ai + 1}/${attacks.length}): batch ${Math.min(done + 1, total)}/${total}${detail ? `, ${detail}` : ''}`,
          (ai + done / total) / attacks.length,
        ),
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const ok = Array.from(r.distance).filter((v) => !Number.isNaN(v));
    const fb = ok.map((v) => foolbox2Units(attack.norm, v, size));
    const found = ok.length;
    results.push({
      attack: attack.name,
      norm: attack.norm,
      meanDistance: mean(ok),
      medianDistance: median(ok),
      successRate: found / c,
      samples: c,
      foolbox2: { unit: UNIT[attack.norm], mean: mean(fb), median: median(fb) },
      options: r.options,
      attacked: c,
      found,
      successRateCi: wilsonInterval(found, c),
      perSample: clean.correct.map((i, j) => ({ index: indices[i]!, distance: Number.isNaN(r.distance[j]!) ? null : r.distance[j]! })),
      wallSeconds: (Date.now() - t0) / 1000,
    });
    req.onProgress?.(`${attack.name}: done (${found}/${c} found)`, (ai + 1) / attacks.length);
  });
  const result: DistanceEval = {
    kind: 'distance',
    provenance: makeProvenance('distance', run, req.selection.split, indices, seed, started, req.command),
    results,
  };
  const file = writeEval(run.runDir, name, result);
  return { file, result };
}
