import type { AttackOptions } from '../runs/evals';
import type { Stage } from './plan';
import { autoAttackRun, worstCaseRun, type EvalRun } from '../engine';

/**
 * One AutoAttack stage of a reproduction: the standard cascade at one budget on one model (with
 * its robustness curve at the largest budget of each norm), and PGD-40 at the same budget on the
 * same samples, so the report can show how much the field's standard adds to a fixed-step attack.
 */
export const autoAttackEvalName = (norm: string, epsilon: number) => `repro-autoattack-${norm}-${epsilon}`;
export const pgd40EvalName = (norm: string, epsilon: number) => `repro-pgd40-${norm}-${epsilon}`;

/** PGD-40: l∞ is `pgd` as it is (40 steps of ε/30, random start); l2 takes the same schedule. */
export const PGD40: Record<'linf' | 'l2', { attack: string; options: AttackOptions }> = {
  linf: { attack: 'pgd', options: {} },
  l2: { attack: 'pgd-l2', options: { steps: 40, relStepsize: 1 / 30 } },
};

export async function runAutoAttackStage(
  run: EvalRun,
  s: Stage,
  common: { seed: number; onProgress: (message: string, fraction: number) => void; signal?: AbortSignal; command: string },
): Promise<string[]> {
  const { norm, epsilon } = s.budget!;
  const selection = { split: 'test' as const, start: 0, count: Number(s.params.samples) };
  const aa = await autoAttackRun(run, {
    ...common,
    norm,
    epsilon,
    selection,
    curveSamples: Number(s.params.curveSamples ?? 0),
    name: autoAttackEvalName(norm, epsilon),
    onProgress: (m, f) => common.onProgress(m, 0.85 * f),
  });
  const pgd = PGD40[norm];
  const ref = await worstCaseRun(run, {
    ...common,
    attacks: [pgd.attack],
    budgets: [epsilon],
    options: { [pgd.attack]: pgd.options },
    selection,
    name: pgd40EvalName(norm, epsilon),
    onProgress: (m, f) => common.onProgress(`PGD-40: ${m}`, 0.85 + 0.15 * f),
  });
  return [aa.file, ref.file];
}
