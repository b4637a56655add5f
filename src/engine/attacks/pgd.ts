import { NORM_LABEL, projectedGradientAttack } from './iterative';
import type { AttackLoss } from './tensorOps';

/**
 * Projected gradient descent with a random start (Madry et al. 2018), on the cross-entropy or on
 * Carlini–Wagner's logit margin max_{j≠y} z_j − z_y (the `-margin` variants), which does not
 * saturate when the softmax is flat — the defended model's case.
 * Fixed budgets: Foolbox 3 defaults — l∞: 40 steps of 0.01/0.3·ε; l2: 50 steps of 0.025·ε;
 * random start uniform in the ball. Minimum-distance search as Foolbox 2.4's
 * RandomStartProjectedGradientDescentAttack: ε = 0.3, stepsize 0.01, 40 iterations.
 */
function make(norm: 'linf' | 'l2', loss: AttackLoss) {
  const search = { searchEpsilon: 0.3, searchStepsize: 0.01, searchSteps: 40 };
  return projectedGradientAttack({
    name: ['pgd', norm === 'l2' ? 'l2' : '', loss === 'margin' ? 'margin' : ''].filter(Boolean).join('-'),
    title: `PGD (${NORM_LABEL[norm]}, random start, ${loss === 'ce' ? 'cross-entropy' : 'CW logit-margin'} loss)`,
    reference:
      'Madry, Makelov, Schmidt, Tsipras, Vladu 2018, "Towards deep learning models resistant to adversarial attacks"; margin loss: Carlini & Wagner 2017',
    norm,
    randomStart: true,
    defaults:
      norm === 'linf' ? { steps: 40, relStepsize: 0.01 / 0.3, loss, ...search } : { steps: 50, relStepsize: 0.025, loss, ...search },
  });
}

export const pgd = make('linf', 'ce');
export const pgdL2 = make('l2', 'ce');
export const pgdMargin = make('linf', 'margin');
export const pgdL2Margin = make('l2', 'margin');
