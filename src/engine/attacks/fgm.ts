import type { OneStepAttack } from './attack';
import { gradientPlan, ONE_STEP_SEARCH } from './oneStepGradient';

/** Fast Gradient Method in l2 (Miyato et al. 2016; Foolbox's L2FastGradientAttack): x + ε·∇L/‖∇L‖₂. */
export const fgm: OneStepAttack = {
  name: 'fgm',
  title: 'FGM (fast gradient method, l2)',
  reference: 'Goodfellow et al. 2015 / Kurakin et al. 2017 ("fast gradient method" with l2 normalisation); Foolbox L2FastGradientAttack',
  norm: 'l2',
  kind: 'one-step',
  defaults: { loss: 'ce', ...ONE_STEP_SEARCH },
  budgetUnit: () => 'ε = l2 norm of the perturbation',
  radius: (budget) => budget,
  clipByDefault: true,
  prepare: (ctx, opts) => gradientPlan(ctx, opts, 'l2', 'label'),
};
