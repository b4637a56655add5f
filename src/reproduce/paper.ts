import type { PaperReference } from '../runs/reproduce';

/**
 * The published numbers and claims of the reproduced paper (§4), as reference data to put beside
 * ours. Figures 2, 3 and 5 are published as plots; only the values the text states are here.
 * Table 1's values are in Foolbox 2's distance units (MSE for l2, MAE for l1, L∞, L0 pixels;
 * docs/design.md §2). These are the paper's numbers, never ours.
 */
export const PAPER: PaperReference = {
  citation:
    'C. Shen, Y. Peng, G. Zhang, J. Fan, "Defending Against Adversarial Attacks by Suppressing the Largest Eigenvalue of Fisher Information Matrix", §4 (MNIST + ConvNet)',
  fig2: {
    baselineAccuracy: 0.99,
    defendedAccuracy: 0.988,
    defendedMu: 0.022,
    fluctuatesAround: 0.9895,
    text: 'Baseline ConvNet "can reach a classification accuracy of 99%"; with the defence accuracy "fluctuated around 98.95%" over μ, and is "still as high as 98.8%" at μ = 0.022.',
  },
  fig3: {
    mu: 0.022,
    epsilon: 6,
    foolingBelow: 0.1,
    text: 'OSSA fooling ratio decreases monotonically with μ "under certain range of parameters"; at μ = 0.022 and ε = 6 it is "less than 10%".',
  },
  fig5: {
    mu: 0.02,
    epsilon: 6,
    foolingAbove: 0.6,
    text: 'FGM, OTCM and FGSM against μ = 0.02: fooling ratios "low" at small perturbation norms, but at ε = 6 "the fooling ratio is higher than 60%".',
  },
  table1Mu: 0.024,
  table1: [
    { attack: 'fgsm', norm: 'linf', unit: 'Linf', baseline: 0.107, defended: 0.17 },
    { attack: 'fgm', norm: 'l2', unit: 'MSE', baseline: 0.00584, defended: 0.00791 },
    { attack: 'bim-l1', norm: 'l1', unit: 'MAE', baseline: 0.021, defended: 0.0273 },
    { attack: 'bim-l2', norm: 'l2', unit: 'MSE', baseline: 0.00158, defended: 0.00273 },
    { attack: 'bim-linf', norm: 'linf', unit: 'Linf', baseline: 0.0726, defended: 0.107 },
    { attack: 'deepfool', norm: 'l2', unit: 'MSE', baseline: 0.00215, defended: 0.00267 },
    { attack: 'cw', norm: 'l2', unit: 'MSE', baseline: 0.00145, defended: 0.00204 },
    { attack: 'jsma', norm: 'l0', unit: 'L0', baseline: 28.26, defended: 48.19 },
    { attack: 'pgd', norm: 'linf', unit: 'Linf', baseline: 0.073, defended: 0.11 },
  ],
  table2OssaEpsilon: 1,
  table2: [
    { attack: 'fgsm', baselineToDefended: 0.9747, defendedToBaseline: 0.5433 },
    { attack: 'fgm', baselineToDefended: 0.9674, defendedToBaseline: 0.7818 },
    { attack: 'bim-l1', baselineToDefended: 0.9879, defendedToBaseline: 0.9312 },
    { attack: 'bim-l2', baselineToDefended: 0.9879, defendedToBaseline: 0.9372 },
    { attack: 'bim-linf', baselineToDefended: 0.9889, defendedToBaseline: 0.8907 },
    { attack: 'deepfool', baselineToDefended: 0.9858, defendedToBaseline: 0.9364 },
    { attack: 'cw', baselineToDefended: 0.9879, defendedToBaseline: 0.9747 },
    { attack: 'jsma', baselineToDefended: 0.9609, defendedToBaseline: 0.9045 },
    { attack: 'pgd', baselineToDefended: 0.9899, defendedToBaseline: 0.8957 },
    // "no adversarial examples can be generated for ε = 1.0" on the defended model.
    { attack: 'ossa', baselineToDefended: 0.9224, defendedToBaseline: null },
  ],
};
