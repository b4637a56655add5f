import { NORM_LABEL, projectedGradientAttack, type PgNorm } from './iterative';

/**
 * Basic Iterative Method (Kurakin, Goodfellow, Bengio 2017, "Adversarial examples in the physical
 * world") in l1, l2 and l∞: iterated gradient steps of size α = 0.2·ε projected onto the ε-ball,
 * 10 steps, no random start (Foolbox 3's L1/L2/LinfBasicIterativeAttack defaults).
 * Minimum-distance search as Foolbox 2.4: ε = 0.3, stepsize 0.05, 10 iterations, in Foolbox 2's
 * mean-based units (l2: RMS, l1: mean absolute value), i.e. ×√N and ×N in natural norms.
 */
function make(norm: PgNorm) {
  return projectedGradientAttack({
    name: `bim-${norm}`,
    title: `BIM (basic iterative method, ${NORM_LABEL[norm]})`,
    reference: 'Kurakin, Goodfellow, Bengio 2017, "Adversarial examples in the physical world"',
    norm,
    randomStart: false,
    defaults: { steps: 10, relStepsize: 0.2, loss: 'ce', searchEpsilon: 0.3, searchStepsize: 0.05, searchSteps: 10 },
  });
}

export const bimL1 = make('l1');
export const bimL2 = make('l2');
export const bimLinf = make('linf');
