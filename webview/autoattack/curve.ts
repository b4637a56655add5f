/** The AutoAttack panel's pure logic: the robustness-curve rows, the chosen run's and the other runs' of the same norm. */
import type { AutoAttackData } from '../../src/protocol/webview.js';

export interface CurveRow {
  series: string;
  epsilon: number;
  robustAccuracy: number;
  ciLow: number;
  ciHigh: number;
}

export const normLabel = (norm: string): string => (norm === 'linf' ? 'l∞' : norm);

const role = (mu: number | null) => (mu ? `defended μ=${mu}` : 'baseline');

export function curveRows(d: AutoAttackData, evalName: string): CurveRow[] {
  const chosen = d.evals.find((e) => e.evalName === evalName);
  const curve = chosen?.eval.curve;
  if (!chosen || !curve) return [];
  const rows = (series: string, points: NonNullable<typeof curve>['points']) =>
    points.map((p) => ({
      series,
      epsilon: p.epsilon,
      robustAccuracy: p.robustAccuracy,
      ciLow: p.robustAccuracyCi[0],
      ciHigh: p.robustAccuracyCi[1],
    }));
  const out = rows(`${d.run.name} (${role(d.run.mu)}) · ${evalName}`, curve.points);
  for (const o of d.overlays)
    if (o.curve.norm === curve.norm) out.push(...rows(`${o.run.name} (${role(o.run.mu)}) · ${o.evalName}`, o.curve.points));
  return out;
}
