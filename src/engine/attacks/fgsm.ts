import type { OneStepAttack } from './attack';
import { gradientPlan, ONE_STEP_SEARCH } from './oneStepGradient';

/** Fast Gradient Sign Method (Goodfellow et al. 2015): x + ε·sign(∇_x L(x, y)), ε = l∞ norm. */
export const fgsm: OneStepAttack = {
  name: 'fgsm',
  title: 'FGSM (fast gradient sign method)',
  reference: 'Goodfellow, Shlens, Szegedy 2015, "Explaining and harnessing adversarial examples"',
  norm: 'linf',
  kind: 'one-step',
  defaults: { loss: 'ce', ...ONE_STEP_SEARCH },
  budgetUnit: () => 'ε = l∞ norm of the perturbation (pixels in [0, 1])',
  radius: (budget) => budget,
  clipByDefault: true,
  prepare: (ctx, opts) => gradientPlan(ctx, opts, 'linf', 'label'),
};
