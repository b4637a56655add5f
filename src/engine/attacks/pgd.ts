import type { IterativeAttack } from './attack';
import { foolbox2Unit } from './bim';
import { projectedGradient } from './iterative';
import type { AttackLoss } from './tensorOps';

/**
 * Projected gradient descent with a random start (Madry et al. 2018), on the cross-entropy or on
 * Carlini–Wagner's logit margin max_{j≠y} z_j − z_y (the `-margin` variants), which does not
 * saturate when the softmax is flat — the defended model's case.
 * Fixed budgets: Foolbox 3 defaults — l∞: 40 steps of 0.01/0.3·ε; l2: 50 steps of 0.025·ε;
 * random start uniform in the ball. Minimum-distance search as Foolbox 2.4's
 * RandomStartProjectedGradientDescentAttack: ε = 0.3, stepsize 0.01, 40 iterations.
 */
function make(norm: 'linf' | 'l2', loss: AttackLoss): IterativeAttack {
  const name = ['pgd', norm === 'l2' ? 'l2' : '', loss === 'margin' ? 'margin' : ''].filter(Boolean).join('-');
  return {
    name,
    title: `PGD (${norm === 'linf' ? 'l∞' : 'l2'}, random start, ${loss === 'ce' ? 'cross-entropy' : 'CW logit-margin'} loss)`,
    reference: 'Madry, Makelov, Schmidt, Tsipras, Vladu 2018, "Towards deep learning models resistant to adversarial attacks"; margin loss: Carlini & Wagner 2017',
    norm,
    kind: 'iterative',
    defaults:
      norm === 'linf'
        ? { steps: 40, relStepsize: 0.01 / 0.3, loss, searchEpsilon: 0.3, searchStepsize: 0.01, searchSteps: 40 }
        : { steps: 50, relStepsize: 0.025, loss, searchEpsilon: 0.3, searchStepsize: 0.01, searchSteps: 40 },
    budgetUnit: () => `ε = ${norm === 'linf' ? 'l∞' : 'l2'} norm of the perturbation`,
    radius: (budget) => budget,
    clipByDefault: true,
    fixedRun: (radius, opts) => ({
      radius,
      stepsize: radius.map((r) => r * Number(opts.relStepsize)),
      steps: Number(opts.steps),
      randomStart: true,
      returnEarly: false,
    }),
    searchRun: (opts, size) => ({
      radius: Number(opts.searchEpsilon) * foolbox2Unit(norm, size),
      stepRatio: Number(opts.searchStepsize) / Number(opts.searchEpsilon),
      steps: Number(opts.searchSteps),
      randomStart: true,
    }),
    iterate: (ctx, run, opts) => projectedGradient(ctx, run, norm, opts),
  };
}

export const pgd = make('linf', 'ce');
export const pgdL2 = make('l2', 'ce');
export const pgdMargin = make('linf', 'margin');
export const pgdL2Margin = make('l2', 'margin');
