import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AttackOptions, NormName } from '../../runs/evals';

/**
 * The common attack interface, in the shape Foolbox 3 users know: (model, inputs, labels or
 * targets, a list of budgets, options) → for every budget the raw and clipped adversarial inputs,
 * a per-sample success flag re-checked by running the model, and per-sample distances.
 *
 * Three kinds of attack implement it:
 *  - one-step (OSSA, FGSM, FGM, OTCM): a direction computed once, scaled to each budget;
 *  - iterative (BIM, PGD): run once per budget;
 *  - minimization (DeepFool, CW, JSMA): search the smallest adversarial once, then restrict it to
 *    each budget (Foolbox 3's rule: project the perturbation onto the budget's ball).
 * Each kind also has the minimum-distance search of Foolbox 2 (paper Table 1), see search.ts.
 */

/** Thrown when an attack or evaluation is stopped through its AbortSignal; nothing is written then. */
export class Cancelled extends Error {
  constructor(message = 'cancelled; nothing was written') {
    super(message);
    this.name = 'Cancelled';
  }
}

export type AttackKind = 'one-step' | 'iterative' | 'minimization';

/** One batch of inputs the attack works on. */
export interface BatchContext {
  model: tfl.LayersModel;
  /** [n, H, W, C] inputs in `bounds`. */
  x: tf.Tensor4D;
  /** The same inputs, flat. */
  xData: Float32Array;
  labels: Int32Array;
  /** User-chosen target classes: success then means "classified as the target". */
  targets?: Int32Array;
  shape: [number, number, number];
  /** H·W·C. */
  size: number;
  numClasses: number;
  bounds: [number, number];
  /** Seeded uniform [0, 1) generator for random starts and random targets. */
  rng: () => number;
  /** Where long attacks report how far they are (e.g. "binary step 2/5, iteration 300"). */
  note?(detail: string): void;
}

export interface AttackBase {
  name: string;
  /** Human-readable name and the paper it follows. */
  title: string;
  reference: string;
  norm: NormName;
  kind: AttackKind;
  /** Defaults (Foolbox / torchattacks; table in docs/attacks.md). Users override any of them by name. */
  defaults: AttackOptions;
  /** What a budget means, e.g. "ε = squared l2 norm ‖η‖₂² (paper §3.1)". */
  budgetUnit(opts: AttackOptions): string;
  /** Radius in the natural norm for a budget (OSSA's default ε is the squared l2 norm). */
  radius(budget: number, opts: AttackOptions): number;
  /** Whether the evaluated adversarial is clipped to the pixel range unless the user says otherwise. */
  clipByDefault: boolean;
}

/**
 * A direction computed once per batch; `at` scales it to per-sample radii (raw, unclipped), for
 * all samples or only `rows` (then `radius` has one entry per row).
 */
export interface OneStepPlan {
  at(radius: Float32Array, rows?: Int32Array): tf.Tensor4D;
  dispose(): void;
}

export interface OneStepAttack extends AttackBase {
  kind: 'one-step';
  prepare(ctx: BatchContext, opts: AttackOptions): OneStepPlan;
}

/** Parameters of one projected-gradient run (per-sample radius and step size in natural units). */
export interface IterativeRun {
  radius: Float32Array;
  stepsize: Float32Array;
  steps: number;
  randomStart: boolean;
  /** Stop each sample at its first adversarial iterate (Foolbox 2's return_early). */
  returnEarly: boolean;
}

export interface IterativeAttack extends AttackBase {
  kind: 'iterative';
  /** Foolbox 3 fixed-budget settings for a radius. */
  fixedRun(radius: Float32Array, opts: AttackOptions): IterativeRun;
  /** Foolbox 2 binary-search settings (initial radius, step/radius ratio, steps) in natural units. */
  searchRun(opts: AttackOptions, size: number): { radius: number; stepRatio: number; steps: number; randomStart: boolean };
  iterate(ctx: BatchContext, run: IterativeRun, opts: AttackOptions): { adv: Float32Array; success: Uint8Array };
}

export interface MinimizationAttack extends AttackBase {
  kind: 'minimization';
  /** The smallest adversarial the attack finds per sample (`found` = 0 where it failed; adv = input there). */
  minimize(ctx: BatchContext, opts: AttackOptions): { adv: Float32Array; found: Uint8Array };
}

export type Attack = OneStepAttack | IterativeAttack | MinimizationAttack;

/** Everything an attack needs besides the budgets. */
export interface AttackInputs {
  model: tfl.LayersModel;
  /** Flat [n, H, W, C] inputs in [0, 1]. */
  x: Float32Array;
  shape: [number, number, number];
  labels: Int32Array;
  targets?: Int32Array;
}

export interface RunSettings {
  /** Overrides of the attack's defaults. */
  options?: AttackOptions;
  seed?: number;
  batchSize?: number;
  /** Evaluate the clipped adversarial (default: the attack's clipByDefault). */
  clip?: boolean;
  /**
   * Position of the first input in a larger list of attacked samples. Batches are seeded by their
   * position in that list, so a shard of an evaluation (eval/shard.ts), which attacks a run of
   * whole batches from the middle, draws the same random numbers as the whole evaluation. [0]
   */
  firstSample?: number;
  /** Batches (× budgets) done of total, with the running attack's own note when it has one. */
  onProgress?(done: number, total: number, detail?: string): void;
  signal?: AbortSignal;
}

export interface BudgetResult {
  budget: number;
  /** Radius in the natural norm. */
  radius: number;
  /** The attack's output before projection onto the budget ball and clipping to the pixel range. */
  raw: Float32Array;
  /** Projected onto the budget ball and clipped to the pixel range. */
  clipped: Float32Array;
  /** Which of the two the model was run on for `success`, `predicted`, `distance` and `loss`. */
  evaluated: 'clipped' | 'raw';
  success: Uint8Array;
  predicted: Int32Array;
  /** Natural-norm distance of the evaluated input from the original (l0 counts changed pixels). */
  distance: Float64Array;
  /** Cross-entropy of the evaluated input w.r.t. the true label. */
  loss: Float64Array;
  /** Logits of the evaluated input, [n, K]. */
  logits: Float32Array;
}

export interface AttackResult {
  attack: string;
  norm: NormName;
  budgetUnit: string;
  /** Resolved options (defaults + overrides + seed, batch size, clip). */
  options: AttackOptions;
  cleanPredicted: Int32Array;
  cleanLogits: Float32Array;
  budgets: BudgetResult[];
}

/** Minimum-distance search result (paper Table 1). */
export interface MinimalResult {
  attack: string;
  norm: NormName;
  options: AttackOptions;
  adv: Float32Array;
  /** 1 where an adversarial was found. */
  found: Uint8Array;
  /** Natural-norm distance (NaN where none was found). */
  distance: Float64Array;
  cleanPredicted: Int32Array;
}
