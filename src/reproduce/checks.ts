import type { CheckStatus, FimRow } from '../runs/reproduce';
import { clearlyStronger, paired, type PairedComparison } from './stats';

/**
 * The decisions of the gradient-masking sanity checks (Carlini, Athalye, Papernot, Brendel,
 * Rauber, Tsipras, Goodfellow, Madry, Kurakin 2019, "On Evaluating Adversarial Robustness", §5),
 * kept apart from running the attacks so that they can be tested on their own. Inputs are
 * per-sample success flags (1 = fooled) of attacks run on the same samples; a difference counts
 * only when it is both large (`MIN_DIFF` / `MUCH`) and significant (exact sign test on the
 * samples where the two attacks disagree, p < 0.05), so sampling noise does not raise flags.
 */
export const MIN_DIFF = 0.02;
export const MUCH = 0.05;
/** "Accuracy → 0": the fooling ratio at the largest budget must reach this. */
export const UNBOUNDED_MIN = 0.95;
/** Temperature check: the defended/baseline λmax(G_x) ratio after scaling above this = suppression mostly gone. */
export const TEMPERATURE_KEEP = 0.8;

export interface Decision {
  status: CheckStatus;
  summary: string;
}

export type Flags = ArrayLike<number>;

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const cmp = (c: PairedComparison, a: string, b: string) =>
  `${a} ${pct(c.ratioA)} vs ${b} ${pct(c.ratioB)} (n = ${c.n}, sign test p = ${c.p < 0.001 ? '<0.001' : c.p.toFixed(3)})`;

/** Iterative attacks (BIM) must fool at least as often as their one-step versions at each budget. */
export function decideIterativeVsOneStep(pairs: { label: string; oneStep: Flags; iterative: Flags }[]): Decision {
  for (const p of pairs) {
    const c = paired(p.oneStep, p.iterative);
    if (clearlyStronger(c, MIN_DIFF)) {
      return {
        status: 'fail',
        summary: `possible gradient masking: the one-step attack beats the iterative one at ${p.label}: ${cmp(c, 'one-step', 'iterative')}; gradients stop pointing towards adversarials after the first step`,
      };
    }
  }
  return { status: 'pass', summary: `iterative attacks fool at least as often as one-step ones at all ${pairs.length} budgets` };
}

/** With a growing budget the fooling ratio must reach ~100% (accuracy → 0). */
export function decideUnbounded(points: { budget: number; success: Flags }[]): Decision {
  if (points.length === 0) return { status: 'skipped', summary: 'no budgets' };
  const last = points[points.length - 1]!;
  const r = ratioOf(last.success);
  if (r < UNBOUNDED_MIN) {
    return {
      status: 'fail',
      summary: `possible gradient masking: at ε = ${last.budget} the attack fools only ${pct(r)} of ${last.success.length} samples; with an unbounded budget every sample has an adversarial, so the attack is not finding them`,
    };
  }
  return {
    status: 'pass',
    summary: `the fooling ratio reaches ${pct(r)} at ε = ${last.budget} (accuracy under attack → 0 as the budget grows)`,
  };
}

/** More PGD steps and restarts must not do worse; doing much better means the short attack had not converged. */
export function decideStepsRestarts(weak: Flags, strong: Flags, weakLabel: string, strongLabel: string): Decision {
  const c = paired(strong, weak);
  if (clearlyStronger(paired(weak, strong), MIN_DIFF)) {
    return {
      status: 'fail',
      summary: `possible gradient masking or a broken attack: ${cmp(c, strongLabel, weakLabel)} — more steps and restarts did worse`,
    };
  }
  if (clearlyStronger(c, MUCH)) {
    return {
      status: 'warn',
      summary: `the short attack had not converged: ${cmp(c, strongLabel, weakLabel)}; results from few-step attacks understate the attack`,
    };
  }
  return { status: 'pass', summary: `converged: ${cmp(c, strongLabel, weakLabel)}` };
}

/** PGD on the logit margin must not be much stronger than PGD on cross-entropy (flat or saturated softmax weakens CE gradients). */
export function decideMarginVsCe(
  pairs: { label: string; ce: Flags; margin: Flags }[],
  reference?: { model: string; pairs: { label: string; ce: Flags; margin: Flags }[] },
): Decision {
  const strong = (ps: { label: string; ce: Flags; margin: Flags }[]) => ps.map((p) => ({ label: p.label, ce: p.ce, strong: p.margin }));
  return decideStrongerThanCe(
    strong(pairs),
    'PGD-margin',
    'PGD on the margin',
    reference && { model: reference.model, pairs: strong(reference.pairs) },
  );
}

/**
 * APGD on the DLR loss (Croce & Hein 2020), which does not change when the logits are shifted or
 * scaled, must not be much stronger than PGD on cross-entropy.
 */
export function decideDlrVsCe(
  pairs: { label: string; ce: Flags; dlr: Flags }[],
  reference?: { model: string; pairs: { label: string; ce: Flags; dlr: Flags }[] },
): Decision {
  const strong = (ps: { label: string; ce: Flags; dlr: Flags }[]) => ps.map((p) => ({ label: p.label, ce: p.ce, strong: p.dlr }));
  return decideStrongerThanCe(
    strong(pairs),
    'APGD-DLR',
    'APGD on DLR',
    reference && { model: reference.model, pairs: strong(reference.pairs) },
  );
}

/** The rule behind both: an attack on a loss that does not saturate, much stronger than CE-PGD, means CE gradients are masked. */
function decideStrongerThanCe(
  pairs: { label: string; ce: Flags; strong: Flags }[],
  label: string,
  phrase: string,
  reference?: { model: string; pairs: { label: string; ce: Flags; strong: Flags }[] },
): Decision {
  for (const p of pairs) {
    const c = paired(p.strong, p.ce);
    if (clearlyStronger(c, MUCH)) {
      const r = reference?.pairs.find((x) => x.label === p.label);
      const ref = r ? `; on ${reference!.model}: ${label} ${pct(ratioOf(r.strong))} vs PGD-CE ${pct(ratioOf(r.ce))}` : '';
      return {
        status: 'fail',
        summary: `possible gradient masking of cross-entropy: at ${p.label} ${cmp(c, label, 'PGD-CE')}${ref}; cross-entropy-based attacks (FGSM, BIM, PGD, as in the paper's tables) overstate this model's robustness`,
      };
    }
  }
  return { status: 'pass', summary: `${phrase} is not clearly stronger than PGD on cross-entropy at any of ${pairs.length} budgets` };
}

/** A transfer attack from another model must not beat the white-box attack on the model itself. */
export function decideTransfer(whiteBox: Flags, transfer: Flags): Decision {
  const c = paired(transfer, whiteBox);
  if (clearlyStronger(c, MIN_DIFF)) {
    return {
      status: 'fail',
      summary: `possible gradient masking: adversarials crafted on the baseline fool the defended model more often than white-box ones: ${cmp(c, 'transfer', 'white-box')}`,
    };
  }
  return {
    status: 'pass',
    summary: `white-box attacks are at least as strong as transfer from the baseline: ${cmp(c, 'transfer', 'white-box')}`,
  };
}

/** A gradient-free attack must not beat the gradient-based ones at the same budget. */
export function decideGradientFree(square: Flags, whiteBox: { label: string; success: Flags }[]): Decision {
  for (const w of whiteBox) {
    const c = paired(square, w.success);
    if (clearlyStronger(c, MIN_DIFF)) {
      return {
        status: 'fail',
        summary: `possible gradient masking: the gradient-free Square Attack beats ${w.label}: ${cmp(c, 'Square', w.label)}`,
      };
    }
  }
  const best = Math.max(...whiteBox.map((w) => ratioOf(w.success)));
  return {
    status: 'pass',
    summary: `the gradient-free Square Attack (${pct(ratioOf(square))}) does not beat the gradient attacks (best ${pct(best)}) on ${square.length} samples`,
  };
}

/**
 * λmax(G_x) suppression that vanishes after temperature scaling is a change of logit scale, not of
 * the input geometry: it lowers OSSA's one-step curvature without moving the decision boundary.
 */
export function decideTemperature(baseline: FimRow, defended: FimRow): Decision & { values: Record<string, number> } {
  const before = defended.lambdaMaxGx / baseline.lambdaMaxGx;
  const after = defended.lambdaMaxGxScaled / baseline.lambdaMaxGxScaled;
  const margin = defended.normalizedMargin / baseline.normalizedMargin;
  const values = {
    lambdaRatioBefore: before,
    lambdaRatioAfter: after,
    normalizedMarginRatio: margin,
    temperatureBaseline: baseline.temperature,
    temperatureDefended: defended.temperature,
  };
  const text = `median λmax(G_x) defended/baseline ×${before.toPrecision(3)} before and ×${after.toPrecision(3)} after temperature scaling (T = ${baseline.temperature.toPrecision(3)} / ${defended.temperature.toPrecision(3)}); normalised margin defended/baseline ×${margin.toPrecision(3)}`;
  if (!(before < 1)) {
    return {
      status: 'warn',
      values,
      summary: `${text}: λmax(G_x) is not suppressed at all — the defended model's one-step curvature is larger than the baseline's, so OSSA should find it easier, not harder`,
    };
  }
  if (!(after < TEMPERATURE_KEEP)) {
    return {
      status: 'warn',
      values,
      summary: `${text}: the suppression of λmax(G_x) is mostly a smaller logit scale (it is gone after temperature scaling); OSSA-specific gains may not carry over to other attacks`,
    };
  }
  if (!(margin > 1)) {
    return {
      status: 'warn',
      values,
      summary: `${text}: the suppression survives temperature scaling, but the first-order distance to the decision boundary is not larger`,
    };
  }
  return { status: 'pass', values, summary: `${text}: the suppression survives temperature scaling and the boundary moved away` };
}

export function ratioOf(flags: Flags): number {
  if (flags.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < flags.length; i++) s += flags[i] ? 1 : 0;
  return s / flags.length;
}

/** Per-sample OR: a sample is fooled if any of the runs fooled it (restarts, AutoAttack's rule). */
export function anyOf(runs: Flags[]): Uint8Array {
  const out = new Uint8Array(runs[0]?.length ?? 0);
  for (const r of runs) for (let i = 0; i < out.length; i++) if (r[i]) out[i] = 1;
  return out;
}
