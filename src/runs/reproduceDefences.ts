/**
 * `fim reproduce --defences`: the defence comparison's part of a reproduction's plan and report
 * (docs/defences.md). Declared once here, with no tfjs import, so the extension's panel can read
 * a report.json. Each field is optional in ReproducePlan / ReproduceReport: a reproduction
 * without `--defences` has none of it.
 */
import type { AttackOptions, NormName } from './evals';
import type { CheckStatus, Finding, Interval, SanityPlan } from './reproduce';

/**
 * One robust-accuracy measurement. `autoattack`: AutoAttack's cascade at the one budget in
 * `budgets` (its standard version when `attacks` is empty, else a custom one with `options`).
 * `worst-case` (absent in plans written before AutoAttack was on hand): the per-sample worst case
 * over `attacks` at each budget.
 */
export interface RobustRunPlan {
  /** Stable id in stage keys and file names, e.g. `autoattack-linf-0.1`. */
  id: string;
  method?: 'autoattack' | 'worst-case';
  norm: NormName;
  budgets: number[];
  attacks: string[];
  options: Record<string, AttackOptions>;
}

/** A robust-accuracy column's heading, in the report and the panel: `AutoAttack l∞ 0.1`, `worst case l2 1.5`. */
export function robustHeading(run: Pick<RobustRunPlan, 'method' | 'norm'>, budget: number): string {
  return `${run.method === 'autoattack' ? 'AutoAttack' : 'worst case'} ${run.norm === 'linf' ? 'l∞' : run.norm} ${budget}`;
}

export interface DefencesPlan {
  /** The compared models (keys into ReproducePlan.models), the undefended baseline first. */
  models: string[];
  seeds: number[];
  /** First test samples of the robust-accuracy evaluations. */
  robustSamples: number;
  robust: RobustRunPlan[];
  /** Which attack set measured robust accuracy: AutoAttack's, or the strongest attacks on hand when it was not available. */
  robustSuite: string;
  /** OSSA fooling ratio at one ε (squared l2 norm, paper §3.1) on the first `samples` test samples. */
  ossa: { samples: number; epsilon: number };
  /** The inspection (λmax(G_x), normalised margin, temperature scaling) of every seed. */
  inspect: { samples: number; heldOut: number };
  /** Gradient-masking checks run on every compared defence against the baseline. */
  sanity: SanityPlan;
  sanityChecks: string[];
  /** The goal of issue 15: robust accuracy ≥ `robustAccuracy` at l∞ `epsilon` with clean accuracy ≥ `cleanAccuracy`. */
  goal: { epsilon: number; robustAccuracy: number; cleanAccuracy: number };
}

/** A proportion pooled over seeds, with its 95% Wilson interval and the per-seed values. */
export interface PooledRate {
  value: number;
  ci: Interval;
  /** Numerator and denominator pooled over seeds. */
  k: number;
  n: number;
  perSeed: number[];
}

export interface RobustCell {
  run: string;
  norm: NormName;
  budget: number;
  /** Robust accuracy over the evaluated samples (misclassified clean samples count as broken). */
  accuracy: PooledRate;
  /**
   * Pooled over seeds: for a worst-case run each attack's own robust accuracy; for AutoAttack the
   * robust accuracy left after each attack of the cascade (so the last one is `accuracy`).
   */
  perAttack: Record<string, number>;
}

/** Medians over the inspected samples of every seed, pooled (the normalised margin does not change with temperature). */
export interface DefenceFim {
  samples: number;
  lambdaMaxGx: number;
  lambdaMaxGxScaled: number;
  normalizedMargin: number;
  /** Fitted temperatures, per seed. */
  temperatures: number[];
  /** Median p_true (how flat the outputs are). */
  pTrue: number;
}

export interface DefenceRow {
  model: string;
  label: string;
  /** The defence in a few words (`baseline`, `trace μ=0.022`, `trades β=6`, …). */
  defence: string;
  seeds: number;
  cleanAccuracy: PooledRate | null;
  robust: RobustCell[];
  ossa: PooledRate | null;
  fim: DefenceFim | null;
  /** The gradient-masking checks of this defence against the baseline. */
  sanity: { id: string; title: string; status: CheckStatus; summary: string }[];
  /** Wall seconds per training epoch (its steps and its test evaluation; mean over the epochs), per seed; the report's sessions give the load. */
  secondsPerEpoch: number[];
  samplesPerSecond: number[];
  /** Whether the goal holds, judged on the pooled estimates (the intervals say how firmly). */
  meetsGoal: boolean | null;
}

export interface DefencesReport {
  robustSuite: string;
  rows: DefenceRow[];
  /** Plain statements: which defence holds, which only flattens outputs, and the goal. */
  findings: Finding[];
}
