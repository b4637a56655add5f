import type { IterativeAttack } from './attack';
import { projectedGradient, type PgNorm } from './iterative';

/**
 * Basic Iterative Method (Kurakin, Goodfellow, Bengio 2017, "Adversarial examples in the physical
 * world") in l1, l2 and l∞: iterated gradient steps of size α = 0.2·ε projected onto the ε-ball,
 * 10 steps, no random start (Foolbox 3's L1/L2/LinfBasicIterativeAttack defaults).
 * Minimum-distance search as Foolbox 2.4: ε = 0.3, stepsize 0.05, 10 iterations, in Foolbox 2's
 * mean-based units (l2: RMS, l1: mean absolute value), i.e. ×√N and ×N in natural norms.
 */
export function foolbox2Unit(norm: PgNorm, size: number): number {
  return norm === 'linf' ? 1 : norm === 'l2' ? Math.sqrt(size) : size;
}

const UNIT_LABEL: Record<PgNorm, string> = { linf: 'l∞', l2: 'l2', l1: 'l1' };

function make(norm: PgNorm): IterativeAttack {
  return {
    name: `bim-${norm}`,
    title: `BIM (basic iterative method, ${UNIT_LABEL[norm]})`,
    reference: 'Kurakin, Goodfellow, Bengio 2017, "Adversarial examples in the physical world"',
    norm,
    kind: 'iterative',
    defaults: { steps: 10, relStepsize: 0.2, loss: 'ce', searchEpsilon: 0.3, searchStepsize: 0.05, searchSteps: 10 },
    budgetUnit: () => `ε = ${UNIT_LABEL[norm]} norm of the perturbation`,
    radius: (budget) => budget,
    clipByDefault: true,
    fixedRun: (radius, opts) => ({
      radius,
      stepsize: radius.map((r) => r * Number(opts.relStepsize)),
      steps: Number(opts.steps),
      randomStart: false,
      returnEarly: false,
    }),
    searchRun: (opts, size) => ({
      radius: Number(opts.searchEpsilon) * foolbox2Unit(norm, size),
      stepRatio: Number(opts.searchStepsize) / Number(opts.searchEpsilon),
      steps: Number(opts.searchSteps),
      randomStart: false,
    }),
    iterate: (ctx, run, opts) => projectedGradient(ctx, run, norm, opts),
  };
}

export const bimL1 = make('l1');
export const bimL2 = make('l2');
export const bimLinf = make('linf');
