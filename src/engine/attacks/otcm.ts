import type { OneStepAttack } from './attack';
import { gradientPlan, ONE_STEP_SEARCH } from './oneStepGradient';

/**
 * One-step target class method (Kurakin, Goodfellow, Bengio 2017, "Adversarial machine learning at
 * scale"): x − ε·sign(∇_x L(x, y_target)) with y_target the least-likely class ("step l.l."),
 * or the user's targets. `otcm-l2` uses the l2-normalised gradient instead of its sign.
 */
function make(norm: 'linf' | 'l2'): OneStepAttack {
  return {
    name: norm === 'linf' ? 'otcm' : 'otcm-l2',
    title: `OTCM (one-step target class method${norm === 'l2' ? ', l2' : ''})`,
    reference: 'Kurakin, Goodfellow, Bengio 2017, "Adversarial machine learning at scale"',
    norm,
    kind: 'one-step',
    defaults: { loss: 'ce', ...ONE_STEP_SEARCH },
    budgetUnit: () => (norm === 'linf' ? 'ε = l∞ norm of the perturbation' : 'ε = l2 norm of the perturbation'),
    radius: (budget) => budget,
    clipByDefault: true,
    prepare: (ctx, opts) => gradientPlan(ctx, opts, norm, 'least-likely'),
  };
}

export const otcm = make('linf');
export const otcmL2 = make('l2');
