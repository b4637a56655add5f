import type { ReproduceModelSpec, ReproducePlan, SanityPlan } from '../runs/reproduce';
import type { DefencesPlan, RobustRunPlan } from '../runs/reproduceDefences';
import { defenceInfo, defenceLabel, resolveDefence, weightProblem, type DefenceKind } from '../runs/defence';
import type { AdversarialTrainingConfig } from '../runs/types';
import { InputError } from '../engine';
import { LSR_ALPHA, muKey, type Stage } from './plan';

/**
 * The defence comparison of `fim reproduce --defences` (issue 15, docs/defences.md): every
 * defence on MNIST + ConvNet at the same training budget (the plan's epochs, batch and learning
 * rate, every seed), then clean accuracy, robust accuracy (the worst case over a list of attacks,
 * AutoAttack's rule), OSSA's fooling ratio at ε = 6, λmax(G_x) and the normalised margin before
 * and after temperature scaling, gradient-masking checks against the baseline, and wall time.
 * The baseline (μ = 0) and the paper's trace term are always part of it.
 */
export const COMPARED = ['spectral', 'trades', 'trace-scaled', 'pgd-at', 'lsr'] as const;
export type ComparedKind = (typeof COMPARED)[number];
/** One compared model: a defence, with a weight other than its default for the Fisher-derived ones (`trades=1`). */
export interface Compared {
  kind: ComparedKind;
  weight?: number;
}
/** The Fisher-derived defences, whose weight `--defences NAME=W` sets; PGD-AT and LSR are fixed comparisons. */
const WEIGHTED: readonly ComparedKind[] = ['spectral', 'trades', 'trace-scaled'];

/** PGD-AT at the goal's radius, with Madry et al.'s step rule and every sample replaced: TRADES' threat model. */
export const DEFENCE_PGD_AT: AdversarialTrainingConfig = { epsilon: 0.1, steps: 10, stepSize: 0.025, ratio: 1 };

/** The goal: AutoAttack robust accuracy ≥ 80% at l∞ 0.1 with ≥ 98% clean accuracy. */
export const GOAL = { epsilon: 0.1, robustAccuracy: 0.8, cleanAccuracy: 0.98 };

/** What measures robust accuracy in the comparison: the field's standard, as the issue asks. */
export const ROBUST_SUITE = 'AutoAttack, standard version (APGD-CE → APGD-T → FAB-T → Square, Croce & Hein 2020)';

/**
 * One AutoAttack run per budget (a stage each, so each can be sharded), at the budgets:
 * l∞ 0.1 (the goal's) and 0.3, l2 1.5. `--quick` uses the same cascade on fewer samples.
 */
export function robustRuns(): RobustRunPlan[] {
  const run = (norm: 'linf' | 'l2', epsilon: number): RobustRunPlan => ({
    id: `autoattack-${norm}-${epsilon}`,
    method: 'autoattack',
    norm,
    budgets: [epsilon],
    attacks: [],
    options: {},
  });
  return [run('linf', 0.1), run('linf', 0.3), run('l2', 1.5)];
}

/** The checks that tell a defence from gradient masking, run for every defence (the cheap ones; sanity.ts). */
export const DEFENCE_SANITY_CHECKS = ['unbounded-budget', 'margin-vs-ce', 'gradient-free', 'temperature-scaling'];

/**
 * `--defences LIST`: `all`, or names, each Fisher-derived one optionally with its weight
 * (`trades=1,trades` compares TRADES at β = 1 and at its default β = 6). `trace` is always compared.
 */
export function parseCompared(list: string): Compared[] {
  const items = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((n) => (n === 'all' ? [...COMPARED] : [n]));
  const out: Compared[] = [];
  for (const item of items) {
    const [name, w, extra] = item.split('=');
    if (name === 'trace' && w === undefined) continue; // always compared
    if (!(COMPARED as readonly string[]).includes(name!))
      throw new InputError(`--defences: "${name}" is not one of all, trace, ${COMPARED.join(', ')}`);
    const kind = name as ComparedKind;
    let weight: number | undefined;
    if (w !== undefined) {
      if (!WEIGHTED.includes(kind))
        throw new InputError(`--defences: ${kind} takes no weight (only ${WEIGHTED.join(', ')} do), got "${item}"`);
      weight = Number(w);
      const problem = w.trim() === '' || extra !== undefined ? `"${item}" is not NAME=WEIGHT` : weightProblem(weight);
      if (problem) throw new InputError(`--defences: ${kind}: ${problem}`);
      if (weight === defenceInfo(kind as Exclude<ComparedKind, 'pgd-at' | 'lsr'>).defaultWeight) weight = undefined;
    }
    if (!out.some((c) => c.kind === kind && c.weight === weight)) out.push({ kind, ...(weight !== undefined ? { weight } : {}) });
  }
  return out;
}

function defenceModel(kind: Exclude<DefenceKind, 'trace'>, weight: number | undefined, seeds: number[]): ReproduceModelSpec {
  const { defence } = resolveDefence(kind, weight);
  return {
    key: `${kind.replace('-', '')}${defence!.weight}`,
    role: 'defence',
    label: defenceLabel({ mu: 0, defence }),
    mu: 0,
    labelSmoothing: 0,
    defence: defence!,
    seeds,
  };
}

/** The model specs of the comparison other than the plan's own μ = 0 and trace models. */
export function comparedModels(compared: Compared[], seeds: number[]): ReproduceModelSpec[] {
  return compared.map(({ kind: c, weight }) => {
    if (c === 'pgd-at')
      return {
        key: `pgdat${DEFENCE_PGD_AT.epsilon}`,
        role: 'defence',
        label: `PGD-AT ε = ${DEFENCE_PGD_AT.epsilon} (l∞)`,
        mu: 0,
        labelSmoothing: 0,
        adversarialTraining: DEFENCE_PGD_AT,
        seeds,
      };
    if (c === 'lsr') return { key: `lsr${LSR_ALPHA}`, role: 'lsr', label: `LSR α = ${LSR_ALPHA}`, mu: 0, labelSmoothing: LSR_ALPHA, seeds };
    return defenceModel(c, weight, seeds);
  });
}

export function defencesPlanOf(plan: ReproducePlan, compared: Compared[], quick: boolean): DefencesPlan {
  const samples = quick ? 200 : 1000;
  const sanity: SanityPlan = {
    ...plan.sanity,
    samples: quick ? 60 : 200,
    squareSamples: quick ? 40 : 100,
    squareQueries: quick ? 300 : 1000,
  };
  return {
    models: [muKey(0), muKey(plan.muRoles.headline), ...comparedModels(compared, plan.seeds).map((m) => m.key)],
    seeds: plan.seeds,
    robustSamples: quick ? 100 : 500,
    robust: robustRuns(),
    robustSuite: ROBUST_SUITE,
    ossa: { samples, epsilon: 6 },
    inspect: { samples, heldOut: 1000 },
    sanity,
    sanityChecks: DEFENCE_SANITY_CHECKS,
    goal: GOAL,
  };
}

export const ROBUST_EVAL = (id: string) => `repro-defences-robust-${id}`;
export const DEFENCES_OSSA_EVAL = 'repro-defences-ossa';
export const DEFENCES_INSPECT_EVAL = 'repro-defences-inspect';

/** The comparison's evaluation stages (its trainings are the plan's train stages). */
export function defenceStages(plan: ReproducePlan): Stage[] {
  const d = plan.defences;
  if (!d) return [];
  const out: Stage[] = [];
  const spec = (key: string) => plan.models.find((m) => m.key === key)!;
  for (const key of d.models) {
    const m = spec(key);
    for (const seed of m.seeds) {
      const needs = [{ model: key, seed }];
      out.push({
        key: `defences:inspect:${key}:s${seed}`,
        kind: 'inspect',
        title: `defences: FIM inspection of ${m.label}, seed ${seed}`,
        needs,
        params: { ...d.inspect, name: DEFENCES_INSPECT_EVAL },
        model: key,
        seed,
      });
      out.push({
        key: `defences:ossa:${key}:s${seed}`,
        kind: 'sweep',
        title: `defences: OSSA at ε = ${d.ossa.epsilon} on ${m.label}, seed ${seed}`,
        needs,
        params: { ...d.ossa, name: DEFENCES_OSSA_EVAL },
        model: key,
        seed,
        attack: 'ossa',
      });
      for (const r of d.robust) {
        out.push({
          key: `defences:robust-${r.id}:${key}:s${seed}`,
          kind: 'robust',
          title:
            r.method === 'autoattack'
              ? `defences: AutoAttack (${r.norm}, ε = ${r.budgets[0]}) of ${m.label}, seed ${seed}`
              : `defences: robust accuracy (${r.norm}, ε ∈ {${r.budgets.join(', ')}}) of ${m.label}, seed ${seed}`,
          needs,
          params: { ...r, samples: d.robustSamples, suite: d.robustSuite },
          model: key,
          seed,
        });
      }
    }
  }
  const base = muKey(0);
  for (const key of d.models.filter((k) => k !== base)) {
    const m = spec(key);
    for (const check of d.sanityChecks) {
      out.push({
        key: `defences:sanity:${check}:${key}`,
        kind: 'sanity',
        title: `defences: sanity check ${check} on ${m.label}`,
        needs: [
          { model: base, seed: 0 },
          { model: key, seed: m.seeds[0]! },
        ],
        params: { ...d.sanity, check, models: [base, key], ...(check === 'temperature-scaling' ? { inspect: d.inspect } : {}) },
        // The temperature check reads both inspections (an executor starts it after they end).
        ...(check === 'temperature-scaling' ? { after: [`defences:inspect:${base}:s0`, `defences:inspect:${key}:s${m.seeds[0]}`] } : {}),
        check,
      });
    }
  }
  return out;
}

/**
 * The order of an --only-defences reproduction: seed by seed, every training and then its
 * evaluations, the sanity checks (seed 0) after the first seed. So an interrupted or time-boxed
 * comparison has whole seeds, not some defences with every seed and others with none.
 */
export function seedMajor(trains: Stage[], evals: Stage[]): Stage[] {
  const seeds = [...new Set(trains.map((s) => s.seed!))].sort((a, b) => a - b);
  const out: Stage[] = [];
  for (const seed of seeds) {
    out.push(...trains.filter((s) => s.seed === seed), ...evals.filter((s) => s.kind !== 'sanity' && s.seed === seed));
    if (seed === seeds[0]) out.push(...evals.filter((s) => s.kind === 'sanity'));
  }
  return out;
}
