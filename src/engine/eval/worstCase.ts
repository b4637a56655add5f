import type { WorstCaseEval } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { runAttack, validateBudgets } from '../attacks/run';
import { InputError } from '../errors';
import { wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
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

export async function worstCaseRun(run: EvalRun, req: WorstCaseRequest): Promise<{ file: string; result: WorstCaseEval }> {
  assertEvalName(req.name);
  if (req.attacks.length === 0) throw new InputError('give at least one attack');
  const name = req.name ?? evalNameFrom('worst-case', getAttack(req.attacks[0]!).norm);
  return withEvalLock(run.runDir, name, 'worst case', () => worstCaseLocked(run, req, name));
}

async function worstCaseLocked(run: EvalRun, req: WorstCaseRequest, name: string): Promise<{ file: string; result: WorstCaseEval }> {
  const started = Date.now();
  const attacks = req.attacks.map(getAttack);
  const norm = attacks[0]!.norm;
  const mixed = attacks.filter((a) => a.norm !== norm);
  if (mixed.length) throw new InputError(`worst case needs attacks in one norm: ${attacks.map((a) => `${a.name} (${a.norm})`).join(', ')}`);
  for (const a of attacks) validateBudgets(a, req.budgets);
  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  const n = indices.length;
  const c = clean.correct.length;
  const seed = req.seed ?? 0;
  const broken = req.budgets.map(() => new Uint8Array(c));
  const perAttack: Record<string, number>[] = req.budgets.map(() => ({}));
  const options: Record<string, AttackOptions> = {};
  if (c > 0) {
    const inputs = {
      model: run.model,
      x: rowsOf(clean.x, clean.correct, size),
      shape: d.imageShape,
      labels: Int32Array.from(clean.correct, (i) => clean.labels[i]!),
    };
    attacks.forEach((a, ai) => {
      const own = { ...(a.name === 'ossa' ? { epsUnit: 'l2' } : {}), ...(req.options?.[a.name] ?? {}) };
      if (a.name === 'ossa' && own.epsUnit !== 'l2') throw new InputError('in a worst-case list OSSA budgets are l2 norms (epsUnit l2)');
      const r = runAttack(a, inputs, req.budgets, {
        options: own,
        seed,
        ...(req.batchSize ? { batchSize: req.batchSize } : {}),
        onProgress: (done, total, detail) =>
          req.onProgress?.(`${a.name}: ${done}/${total}${detail ? `, ${detail}` : ''}`, (ai + done / total) / attacks.length),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      options[a.name] = r.options;
      r.budgets.forEach((b, bi) => {
        let fooled = 0;
        b.success.forEach((s, j) => {
          if (s) {
            fooled++;
            broken[bi]![j] = 1;
          }
        });
        perAttack[bi]![a.name] = (c - fooled) / n;
      });
    });
  }
  const results = req.budgets.map((budget, bi) => {
    const robust = c - broken[bi]!.reduce((s, v) => s + v, 0);
    return { budget, robustAccuracy: robust / n, robustAccuracyCi: wilsonInterval(robust, n), perAttackAccuracy: perAttack[bi]! };
  });
  const result: WorstCaseEval = {
    kind: 'worst-case',
    provenance: makeProvenance('worst-case', run, req.selection.split, indices, seed, started, req.command),
    attacks: attacks.map((a) => a.name),
    norm,
    results,
    samples: n,
    correct: c,
    cleanAccuracy: c / n,
    options,
  };
  const file = writeEval(run.runDir, name, result);
  return { file, result };
}
