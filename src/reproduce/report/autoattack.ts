import type { AutoAttackEval, WorstCaseEval } from '../../runs/evals';
import type { AutoAttackCell, AutoAttackRow, ReproducePlan, RobustnessCurveSeries } from '../../runs/reproduce';
import { modelOf, muKey } from '../plan';

/**
 * The report's AutoAttack section from the stage files: per standard budget the verdict on the
 * baseline and the headline defended model (robust accuracy over all evaluated samples, 95% Wilson
 * interval, the robust accuracy after each attack) beside PGD-40's on the same samples, and the
 * robustness curves.
 */
type Read = <T>(key: string, file: number) => T | null;

const stageKey = (model: string, norm: string, epsilon: number) => `autoattack:${model}:s0:${norm}-${epsilon}`;

function cell(plan: ReproducePlan, model: string, norm: string, epsilon: number, read: Read): AutoAttackCell | null {
  const aa = read<AutoAttackEval>(stageKey(model, norm, epsilon), 0);
  if (!aa) return null;
  const pgd = read<WorstCaseEval>(stageKey(model, norm, epsilon), 1)?.results[0];
  return {
    model,
    label: modelOf(plan, model).label,
    robustAccuracy: aa.robustAccuracy,
    ci: aa.robustAccuracyCi,
    robust: Math.round(aa.robustAccuracy * aa.samples),
    samples: aa.samples,
    cleanAccuracy: aa.cleanAccuracy,
    after: aa.cascade.map((s) => ({ attack: s.attack, robustAccuracy: s.robustAccuracy })),
    pgd40: pgd ? { robustAccuracy: pgd.robustAccuracy, ci: pgd.robustAccuracyCi } : null,
    wallSeconds: aa.provenance.wallSeconds,
  };
}

export function autoAttackSection(plan: ReproducePlan, read: Read): { rows: AutoAttackRow[]; curves: RobustnessCurveSeries[] } {
  const aa = plan.autoattack;
  if (!aa) return { rows: [], curves: [] };
  const models = [muKey(0), muKey(plan.muRoles.headline)];
  const rows = aa.budgets.map((b) => ({
    norm: b.norm,
    epsilon: b.epsilon,
    baseline: cell(plan, models[0]!, b.norm, b.epsilon, read),
    defended: cell(plan, models[1]!, b.norm, b.epsilon, read),
  }));
  const curves: RobustnessCurveSeries[] = [];
  for (const b of aa.budgets) {
    for (const model of models) {
      const c = read<AutoAttackEval>(stageKey(model, b.norm, b.epsilon), 0)?.curve;
      if (!c) continue;
      curves.push({
        model,
        label: modelOf(plan, model).label,
        norm: b.norm,
        samples: c.samples,
        sources: c.sources,
        points: c.points.map((p) => ({ epsilon: p.epsilon, robustAccuracy: p.robustAccuracy, ci: p.robustAccuracyCi })),
      });
    }
  }
  return { rows, curves };
}
