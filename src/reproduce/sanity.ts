import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CheckEvidence, FimRow, SanityCheck, SanityPlan } from '../runs/reproduce';
import type { AttackOptions } from '../runs/evals';
import { wilsonInterval } from '../shared/stats';
import {
  anyOf,
  decideGradientFree,
  decideIterativeVsOneStep,
  decideDlrVsCe,
  decideMarginVsCe,
  decideStepsRestarts,
  decideTemperature,
  decideTransfer,
  decideUnbounded,
  type Decision,
} from './checks';
import { argmaxRows, logitsOf, runAttack } from '../engine';

/**
 * Runs the gradient-masking sanity checks (Carlini et al. 2019) on a defended model, with the
 * baseline for transfer and contrast. Each check attacks the defended model's correctly classified
 * samples among the first `plan.samples` test samples and decides with checks.ts.
 */
export interface SanityInputs {
  baseline: tfl.LayersModel;
  defended: tfl.LayersModel;
  baselineLabel: string;
  defendedLabel: string;
  /** The first test samples: flat pixels in [0, 1] and labels. */
  x: Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
}

export interface SanityOptions {
  seed?: number;
  /** FIM statistics (from the inspections) for the temperature check. */
  fim?: { baseline: FimRow; defended: FimRow };
  onProgress?(message: string, fraction: number): void;
  signal?: AbortSignal;
}

export const SANITY_CHECKS: { id: string; title: string; question: string }[] = [
  {
    id: 'iterative-vs-one-step',
    title: 'Iterative ≥ one-step',
    question: 'Do iterative attacks (BIM) fool at least as often as their one-step versions (FGSM, FGM) at the same budget?',
  },
  {
    id: 'unbounded-budget',
    title: 'Accuracy → 0 as the budget grows',
    question: 'Does PGD drive the fooling ratio to ~100% when the l∞ budget becomes large?',
  },
  {
    id: 'pgd-steps-restarts',
    title: 'PGD: many steps and restarts vs few',
    question: 'Does PGD with many steps and random restarts do at least as well as a short PGD, and has the short one converged?',
  },
  {
    id: 'margin-vs-ce',
    title: 'PGD on the margin vs on cross-entropy',
    question:
      'Is PGD on the logit margin (which does not saturate) much stronger than PGD on cross-entropy, whose gradients a flattened or saturated softmax weakens?',
  },
  {
    id: 'dlr-vs-ce',
    title: 'APGD on DLR vs PGD on cross-entropy',
    question:
      'Is APGD on the DLR loss (Croce & Hein 2020), which does not change when the logits are shifted or scaled, much stronger than PGD on cross-entropy?',
  },
  {
    id: 'transfer-from-baseline',
    title: 'Transfer from the baseline',
    question: 'Do adversarials crafted on the undefended baseline fool the defended model more often than white-box attacks on it?',
  },
  {
    id: 'gradient-free',
    title: 'Gradient-free attack',
    question:
      'Does the gradient-free Square Attack (random search, Andriushchenko et al. 2020) beat the gradient attacks (PGD on cross-entropy and on the margin, APGD on DLR) at the same budget?',
  },
  {
    id: 'temperature-scaling',
    title: 'FIM statistics after temperature scaling',
    question: 'Does the lower λmax(G_x) of the defended model survive temperature scaling, or is it only a smaller logit scale?',
  },
];

/** Short PGD vs long PGD: Madry et al.'s step of 2.5·ε/steps for both. */
const pgdOptions = (steps: number): AttackOptions => ({ steps, relStepsize: 2.5 / steps });

interface Ctx {
  inputs: SanityInputs;
  plan: SanityPlan;
  seed: number;
  size: number;
  opts: SanityOptions;
  evidence: CheckEvidence[];
  /** Fraction of the check's work done so far and the share of the next call. */
  progress: { done: number; total: number };
}

function predict(model: tfl.LayersModel, x: Float32Array, n: number, shape: [number, number, number]): Int32Array {
  const k = model.outputs[0]!.shape[1] as number;
  return tf.tidy(() => argmaxRows(logitsOf(model, tf.tensor4d(x, [n, ...shape])), k));
}

function rows(x: Float32Array, idx: number[], size: number): Float32Array {
  const out = new Float32Array(idx.length * size);
  idx.forEach((r, i) => out.set(x.subarray(r * size, (r + 1) * size), i * size));
  return out;
}

/** Positions among the first `count` samples that every model classifies correctly. */
function correctFor(c: Ctx, models: tfl.LayersModel[], count: number): number[] {
  const n = Math.min(count, c.inputs.labels.length);
  const x = c.inputs.x.subarray(0, n * c.size);
  const preds = models.map((m) => predict(m, x, n, c.inputs.shape));
  return Array.from({ length: n }, (_, i) => i).filter((i) => preds.every((p) => p[i] === c.inputs.labels[i]));
}

function note(c: Ctx, model: string, what: string, budget: number | null, flags: Uint8Array): Uint8Array {
  let fooled = 0;
  for (const f of flags) fooled += f;
  c.evidence.push({
    model,
    what,
    budget,
    fooled,
    n: flags.length,
    ratio: flags.length ? fooled / flags.length : NaN,
    ci: wilsonInterval(fooled, flags.length),
  });
  return flags;
}

/** Per-budget success flags of one attack on the given sample positions. */
function fool(
  c: Ctx,
  model: tfl.LayersModel,
  attack: string,
  idx: number[],
  budgets: number[],
  options: AttackOptions = {},
  seed = c.seed,
): Uint8Array[] {
  const labels = Int32Array.from(idx, (i) => c.inputs.labels[i]!);
  const r = runAttack(attack, { model, x: rows(c.inputs.x, idx, c.size), shape: c.inputs.shape, labels }, budgets, {
    options,
    seed,
    ...(c.opts.signal ? { signal: c.opts.signal } : {}),
    onProgress: (done, total) =>
      c.opts.onProgress?.(`${attack}: ${done}/${total}`, Math.min(1, (c.progress.done + done / total) / c.progress.total)),
  });
  c.progress.done++;
  return r.budgets.map((b) => b.success);
}

function iterativeVsOneStep(c: Ctx): Decision {
  const { defended, defendedLabel: m } = c.inputs;
  const idx = correctFor(c, [defended], c.plan.samples);
  c.progress.total = 4;
  const pairs: { label: string; oneStep: Uint8Array; iterative: Uint8Array }[] = [];
  const linf = c.plan.linfBudgets;
  const fgsm = fool(c, defended, 'fgsm', idx, linf);
  const bim = fool(c, defended, 'bim-linf', idx, linf);
  linf.forEach((b, i) =>
    pairs.push({ label: `l∞ ε = ${b}`, oneStep: note(c, m, 'FGSM', b, fgsm[i]!), iterative: note(c, m, 'BIM-l∞', b, bim[i]!) }),
  );
  const l2 = c.plan.l2Budgets;
  const fgm = fool(c, defended, 'fgm', idx, l2);
  const bim2 = fool(c, defended, 'bim-l2', idx, l2);
  l2.forEach((b, i) =>
    pairs.push({ label: `l2 ε = ${b}`, oneStep: note(c, m, 'FGM', b, fgm[i]!), iterative: note(c, m, 'BIM-l2', b, bim2[i]!) }),
  );
  return decideIterativeVsOneStep(pairs);
}

function unbounded(c: Ctx): Decision {
  const { defended, defendedLabel: m } = c.inputs;
  const idx = correctFor(c, [defended], c.plan.samples);
  c.progress.total = 1;
  const res = fool(c, defended, 'pgd', idx, c.plan.growBudgets);
  return decideUnbounded(c.plan.growBudgets.map((b, i) => ({ budget: b, success: note(c, m, 'PGD-CE (40 steps)', b, res[i]!) })));
}

function restarts(c: Ctx, model: tfl.LayersModel, idx: number[], steps: number, count: number): Uint8Array {
  const runs: Uint8Array[] = [];
  for (let r = 0; r < count; r++) runs.push(fool(c, model, 'pgd', idx, [c.plan.epsilon], pgdOptions(steps), c.seed + 1000 * r)[0]!);
  return anyOf(runs);
}

function stepsRestarts(c: Ctx): Decision {
  const { defended, defendedLabel: m } = c.inputs;
  const { weak, strong, epsilon } = c.plan;
  const idx = correctFor(c, [defended], c.plan.samples);
  c.progress.total = weak.restarts + strong.restarts;
  const wl = `PGD-CE ${weak.steps} steps × ${weak.restarts} restart${weak.restarts > 1 ? 's' : ''}`;
  const sl = `PGD-CE ${strong.steps} steps × ${strong.restarts} restarts`;
  const w = note(c, m, wl, epsilon, restarts(c, defended, idx, weak.steps, weak.restarts));
  const s = note(c, m, sl, epsilon, restarts(c, defended, idx, strong.steps, strong.restarts));
  return decideStepsRestarts(w, s, wl, sl);
}

/**
 * CE-PGD and a second attack at each l∞ budget, on the defended model and then on the baseline
 * (each on its own correctly classified samples): the pairs the margin and DLR checks compare.
 */
function ceAgainst(c: Ctx, attack: string, name: string) {
  const { defended, baseline, defendedLabel, baselineLabel } = c.inputs;
  const budgets = c.plan.linfBudgets;
  c.progress.total = 4;
  const pairsOf = (model: tfl.LayersModel, label: string) => {
    const idx = correctFor(c, [model], c.plan.samples);
    const ce = fool(c, model, 'pgd', idx, budgets);
    const other = fool(c, model, attack, idx, budgets);
    return budgets.map((b, i) => ({
      label: `l∞ ε = ${b}`,
      ce: note(c, label, 'PGD-CE', b, ce[i]!),
      other: note(c, label, name, b, other[i]!),
    }));
  };
  const d = pairsOf(defended, defendedLabel);
  return { defended: d, baseline: { model: baselineLabel, pairs: pairsOf(baseline, baselineLabel) } };
}

function marginVsCe(c: Ctx): Decision {
  const p = ceAgainst(c, 'pgd-margin', 'PGD-margin');
  const named = (pairs: typeof p.defended) => pairs.map(({ label, ce, other }) => ({ label, ce, margin: other }));
  return decideMarginVsCe(named(p.defended), { model: p.baseline.model, pairs: named(p.baseline.pairs) });
}

function dlrVsCe(c: Ctx): Decision {
  const p = ceAgainst(c, 'apgd-dlr', 'APGD-DLR');
  const named = (pairs: typeof p.defended) => pairs.map(({ label, ce, other }) => ({ label, ce, dlr: other }));
  return decideDlrVsCe(named(p.defended), { model: p.baseline.model, pairs: named(p.baseline.pairs) });
}

function transfer(c: Ctx): Decision {
  const { defended, baseline, defendedLabel } = c.inputs;
  const eps = c.plan.epsilon;
  const idx = correctFor(c, [defended, baseline], c.plan.samples);
  c.progress.total = 3;
  const labels = Int32Array.from(idx, (i) => c.inputs.labels[i]!);
  const crafted = runAttack('pgd', { model: baseline, x: rows(c.inputs.x, idx, c.size), shape: c.inputs.shape, labels }, [eps], {
    seed: c.seed,
    ...(c.opts.signal ? { signal: c.opts.signal } : {}),
  });
  c.progress.done++;
  const adv = crafted.budgets[0]!.clipped;
  const pred = predict(defended, adv, idx.length, c.inputs.shape);
  const moved = note(
    c,
    defendedLabel,
    `transfer: PGD-CE crafted on ${c.inputs.baselineLabel}`,
    eps,
    Uint8Array.from(labels, (y, i) => (pred[i] !== y ? 1 : 0)),
  );
  const white = note(c, defendedLabel, 'white-box PGD-CE', eps, fool(c, defended, 'pgd', idx, [eps])[0]!);
  note(c, defendedLabel, 'white-box PGD-margin', eps, fool(c, defended, 'pgd-margin', idx, [eps])[0]!);
  return decideTransfer(white, moved);
}

function gradientFree(c: Ctx): Decision {
  const { defended, defendedLabel: m } = c.inputs;
  const eps = c.plan.epsilon;
  const idx = correctFor(c, [defended], c.plan.samples).slice(0, c.plan.squareSamples);
  c.progress.total = 4;
  const sq = note(
    c,
    m,
    `Square Attack (${c.plan.squareQueries} queries)`,
    eps,
    fool(c, defended, 'square', idx, [eps], { queries: c.plan.squareQueries })[0]!,
  );
  const ce = note(c, m, 'PGD-CE', eps, fool(c, defended, 'pgd', idx, [eps])[0]!);
  const mg = note(c, m, 'PGD-margin', eps, fool(c, defended, 'pgd-margin', idx, [eps])[0]!);
  const dlr = note(c, m, 'APGD-DLR', eps, fool(c, defended, 'apgd-dlr', idx, [eps])[0]!);
  return decideGradientFree(sq, [
    { label: 'PGD-CE', success: ce },
    { label: 'PGD-margin', success: mg },
    { label: 'APGD-DLR', success: dlr },
  ]);
}

/** Runs one check; `temperature-scaling` needs `opts.fim`. */
export function runSanityCheck(id: string, inputs: SanityInputs, plan: SanityPlan, opts: SanityOptions = {}): SanityCheck {
  const spec = SANITY_CHECKS.find((s) => s.id === id);
  if (!spec) throw new RangeError(`unknown sanity check "${id}"; known: ${SANITY_CHECKS.map((s) => s.id).join(', ')}`);
  const t0 = Date.now();
  const size = inputs.shape[0] * inputs.shape[1] * inputs.shape[2];
  const c: Ctx = { inputs, plan, seed: opts.seed ?? 0, size, opts, evidence: [], progress: { done: 0, total: 1 } };
  let d: Decision & { values?: Record<string, number> };
  switch (id) {
    case 'iterative-vs-one-step':
      d = iterativeVsOneStep(c);
      break;
    case 'unbounded-budget':
      d = unbounded(c);
      break;
    case 'pgd-steps-restarts':
      d = stepsRestarts(c);
      break;
    case 'margin-vs-ce':
      d = marginVsCe(c);
      break;
    case 'dlr-vs-ce':
      d = dlrVsCe(c);
      break;
    case 'transfer-from-baseline':
      d = transfer(c);
      break;
    case 'gradient-free':
      d = gradientFree(c);
      break;
    default:
      d = opts.fim
        ? decideTemperature(opts.fim.baseline, opts.fim.defended)
        : { status: 'skipped', summary: 'no FIM inspection of both models is available' };
  }
  return {
    ...spec,
    status: d.status,
    summary: d.summary,
    evidence: c.evidence,
    ...(d.values ? { values: d.values } : {}),
    wallSeconds: (Date.now() - t0) / 1000,
  };
}
