/**
 * A reproduction plan small enough for a test: the quick plan with a small conv net (trained in
 * seconds on a slice of MNIST), a few samples, and a few attacks per table. The code paths are
 * the real ones; only the sizes shrink.
 */
import type { ReproducePlan } from '../../src/runs/reproduce';
import { makePlan } from '../../src/reproduce/plan';
import { writeSmallDefinition } from '../engine/eval/tinyRun';

export function tinyPlan(dir: string, opts: { baselines?: boolean } = {}): ReproducePlan {
  const plan = makePlan({
    quick: true,
    mus: [0.02],
    samples: 24,
    tableSamples: 6,
    epochs: 1,
    baselines: opts.baselines ?? false,
    backend: 'wasm',
  });
  plan.model = writeSmallDefinition(dir, 1);
  plan.trainSamples = 1500;
  plan.testSamples = 300;
  plan.fig3.budgets = [1, 6];
  plan.fig5.budgets = [1, 6];
  plan.table1.attacks = ['fgsm', 'deepfool'];
  plan.table2.attacks = ['fgsm', 'ossa'];
  plan.inspect = { samples: 24, heldOut: 100 };
  plan.sanity = {
    ...plan.sanity,
    samples: 24,
    linfBudgets: [0.1],
    l2Budgets: [2],
    growBudgets: [0.1, 0.5],
    weak: { steps: 5, restarts: 1 },
    strong: { steps: 10, restarts: 2 },
    squareSamples: 8,
    squareQueries: 30,
  };
  plan.autoattack = {
    samples: 12,
    budgets: [
      { norm: 'linf', epsilon: 0.3 },
      { norm: 'l2', epsilon: 2 },
    ],
    curveSamples: 6,
  };
  return plan;
}
