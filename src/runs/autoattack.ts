import type { AutoAttackEval } from './evals';
import { evalFile } from './paths';
import { readEvalKindField, readJsonFile } from './reader';

/**
 * A run's latest AutoAttack verdict (the newest `autoattack` evaluation under its evals/), for
 * `fim runs`, the runs tree and the panels. No tfjs: the extension reads it too.
 */
export interface AutoAttackVerdict {
  /** Evaluation name (evals/<name>.json). */
  name: string;
  norm: 'linf' | 'l2';
  epsilon: number;
  version: 'standard' | 'custom';
  robustAccuracy: number;
  robustAccuracyCi: [number, number];
  samples: number;
  createdAt: string;
}

export function verdictOf(name: string, e: AutoAttackEval): AutoAttackVerdict {
  return {
    name,
    norm: e.norm,
    epsilon: e.epsilon,
    version: e.version,
    robustAccuracy: e.robustAccuracy,
    robustAccuracyCi: e.robustAccuracyCi,
    samples: e.samples,
    createdAt: e.provenance.createdAt,
  };
}

/** Every AutoAttack evaluation of a run with its name, newest first; unreadable files are skipped. */
export function autoAttackEvals(runDir: string, evals: string[]): { name: string; result: AutoAttackEval }[] {
  const out: { name: string; result: AutoAttackEval }[] = [];
  for (const name of evals) {
    if (readEvalKindField(runDir, name) !== 'autoattack') continue;
    const e = readJsonFile<AutoAttackEval>(evalFile(runDir, name));
    if (e && e.kind === 'autoattack' && typeof e.robustAccuracy === 'number' && e.provenance) out.push({ name, result: e });
  }
  return out.sort((a, b) => b.result.provenance.createdAt.localeCompare(a.result.provenance.createdAt));
}

export function latestAutoAttack(runDir: string, evals: string[]): AutoAttackVerdict | null {
  const [latest] = autoAttackEvals(runDir, evals);
  return latest ? verdictOf(latest.name, latest.result) : null;
}

/** e.g. "AutoAttack l∞ ε=0.3: 4.5%". */
export function verdictText(v: AutoAttackVerdict): string {
  return `AutoAttack ${v.norm === 'linf' ? 'l∞' : 'l2'} ε=${v.epsilon}: ${(100 * v.robustAccuracy).toFixed(1)}%`;
}
