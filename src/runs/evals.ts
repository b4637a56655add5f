/**
 * Evaluation results as stored under a run: `evals/<name>.json` (+ `evals/<name>/` for images).
 * The engine writes them; the CLI, the webview panels and the reproduction report read them.
 * Declared once here, with no tfjs import. Extend by adding optional fields; never rename.
 */

export type EvalKind = 'inspect' | 'sweep' | 'distance' | 'transfer' | 'worst-case' | 'autoattack';

/** Norms in which attacks measure perturbations. */
export type NormName = 'l0' | 'l1' | 'l2' | 'linf';

/** Everything needed to reproduce a stored result. */
export interface EvalProvenance {
  kind: EvalKind;
  createdAt: string;
  /** The run evaluated (for transfer: the target run). */
  runDir: string;
  /** Checkpoint directory name under checkpoints/ and the SHA-256 of its weights. */
  checkpoint: string;
  checkpointSha256: string;
  /** Dataset split and the exact sample indices used. */
  split: 'train' | 'test';
  sampleIndices: number[];
  seed: number;
  backend: string;
  engineVersion: string;
  wallSeconds: number;
  /** The command line or request that produced it, for humans. */
  command?: string;
  /** When merged from shards (`--shard I/N`, `fim eval merge`): each shard's wall time, command and backend. */
  shards?: { count: number; wallSeconds: number[]; commands: string[]; backends: string[] };
}

/** A value of an attack option. Options are stored with every evaluation and reproduction plan. */
export type AttackOptionValue = number | string | boolean;
/** An attack's options by name, as given by the user or resolved against the attack's defaults. */
export type AttackOptions = Record<string, AttackOptionValue>;

/** Per-sample Fisher-information statistics (docs/design.md §1). */
export interface SampleFimStats {
  index: number;
  label: number;
  predicted: number;
  probs: number[];
  /** tr G_s = Σ 1/p_i. */
  traceGs: number;
  /** λmax(G_s) = 1 / min p_i. */
  lambdaMaxGs: number;
  /** Exact top eigenvalue of G_x = J^T G_s J (K×K Gram reduction). */
  lambdaMaxGx: number;
  /** l2 radius r = sqrt(2τ/λmax(G_x)) at which the predicted KL divergence reaches τ. */
  klBudget: number;
  /** Logit margin z_label − max_{j≠label} z_j and that margin divided by ‖∇_x margin‖₂. */
  margin: number;
  normalizedMargin: number;
  /** The same statistics after temperature scaling (one T for the whole model). */
  scaled?: { traceGs: number; lambdaMaxGs: number; lambdaMaxGx: number; klBudget: number };
  /** PNGs relative to the eval file's directory: the input and its top G_x eigenvector (OSSA's direction). */
  image?: string;
  eigenImage?: string;
}

export interface FimAggregate {
  traceGs: number;
  lambdaMaxGs: number;
  lambdaMaxGx: number;
  klBudget: number;
  normalizedMargin: number;
}

export interface InspectEval {
  kind: 'inspect';
  provenance: EvalProvenance;
  /** KL threshold τ of the KL budget. */
  tau: number;
  accuracy: number;
  samples: SampleFimStats[];
  mean: FimAggregate;
  median: FimAggregate;
  /** Temperature fitted by NLL on held-out data (Guo et al. 2017) and the statistics after it. */
  temperatureScaling: {
    temperature: number;
    heldOutSamples: number;
    mean: FimAggregate;
    median: FimAggregate;
    /** Which samples were held out, e.g. "test[9000..9999]". */
    heldOut?: string;
    /** Mean NLL of the held-out samples at T = 1 and at the fitted T. */
    nllBefore?: number;
    nllAfter?: number;
  };
  /** The dataset's class names, by label index (for display). */
  classNames?: string[];
}

/** One stored adversarial example (PNG paths relative to the eval file's directory). */
export interface AdversarialExample {
  index: number;
  label: number;
  budget: number;
  original: string;
  perturbation: string;
  adversarial: string;
  predictedOriginal: number;
  predictedAdversarial: number;
  probsOriginal: number[];
  probsAdversarial: number[];
  /** Perturbation size in the attack's norm. */
  distance: number;
}

export interface SweepPoint {
  /** The budget in the attack's own unit (see `budgetUnit`). */
  budget: number;
  /** Among correctly classified samples, the fraction whose prediction changed. */
  foolingRatio: number;
  /** 95% Wilson interval of the fooling ratio. */
  foolingRatioCi: [number, number];
  fooled: number;
  /** Accuracy under attack over all evaluated samples. */
  accuracy: number;
  /** Mean loss (cross-entropy) on the adversarial inputs. */
  meanLoss: number;
  /** When the evaluated inputs were not clipped to the pixel range (OSSA's default): the same after clipping. */
  clipped?: { foolingRatio: number; foolingRatioCi: [number, number]; fooled: number; accuracy: number };
  /** Mean and median natural-norm size of the evaluated perturbations. */
  meanDistance?: number;
  medianDistance?: number;
}

/** Fooling ratio vs budget for one attack (the paper's Fig. 3–5). */
export interface SweepEval {
  kind: 'sweep';
  provenance: EvalProvenance;
  attack: string;
  norm: NormName;
  /** e.g. "ε = squared l2 norm ‖η‖² (paper §3.1)" or "ε = l∞ norm". */
  budgetUnit: string;
  clip: boolean;
  /** Samples evaluated, and how many of them the model classified correctly (the denominator). */
  samples: number;
  correct: number;
  cleanAccuracy: number;
  options: AttackOptions;
  results: SweepPoint[];
  examples: AdversarialExample[];
  /** Per attacked (correctly classified) sample: whether each budget fooled it, evaluated and clipped to [0, 1]. */
  perSample?: { index: number; fooled: boolean[]; fooledClipped?: boolean[] }[];
  /** The dataset's class names, by label index (for display). */
  classNames?: string[];
}

export interface DistanceRow {
  attack: string;
  norm: NormName;
  /** Over successful samples, in the natural norm (‖δ‖₀ counts pixels, ‖δ‖₂ is not squared). */
  meanDistance: number;
  medianDistance: number;
  successRate: number;
  samples: number;
  /** The same distances in Foolbox 2's units, which the paper's Table 1 used (docs/design.md §2). */
  foolbox2: { unit: 'MSE' | 'MAE' | 'Linf' | 'L0'; mean: number; median: number };
  options: AttackOptions;
  /** Samples attacked (correctly classified) and found adversarials. */
  attacked?: number;
  found?: number;
  /** 95% Wilson interval of the success rate. */
  successRateCi?: [number, number];
  /** Per attacked sample: dataset index and natural-norm distance (null where the attack failed). */
  perSample?: { index: number; distance: number | null }[];
  wallSeconds?: number;
}

/** Minimum adversarial distance per attack (the paper's Table 1). */
export interface DistanceEval {
  kind: 'distance';
  provenance: EvalProvenance;
  results: DistanceRow[];
}

export interface TransferRow {
  attack: string;
  /** Adversarial examples crafted on `source`, classified by `target`. */
  source: string;
  target: string;
  /** Samples both models classify correctly and the attack fooled on the source. */
  samples: number;
  sourceAccuracy: number;
  targetAccuracy: number;
  targetAccuracyCi: [number, number];
  /** Samples both models classify correctly, on which adversarials were crafted (sourceAccuracy is over these). */
  crafted?: number;
  /** Fixed budget used, or absent for the attack's minimum-distance search (Foolbox 2, as the paper). */
  budget?: number;
  /** Source and target run directories. */
  sourceRunDir?: string;
  targetRunDir?: string;
  /** Per crafted sample: whether it fooled the source, and whether the target then classified it correctly (null if it did not fool the source). */
  perSample?: { index: number; fooledSource: boolean; targetCorrect: boolean | null }[];
}

/** Transfer accuracies in both directions (the paper's Table 2). */
export interface TransferEval {
  kind: 'transfer';
  provenance: EvalProvenance;
  otherRunDir: string;
  results: TransferRow[];
  /** The other run's checkpoint and weights hash. */
  otherCheckpoint?: string;
  otherCheckpointSha256?: string;
  options?: AttackOptions;
}

/** Robust accuracy when a sample counts as broken if any attack breaks it (AutoAttack's rule). */
export interface WorstCaseEval {
  kind: 'worst-case';
  provenance: EvalProvenance;
  attacks: string[];
  norm: NormName;
  results: { budget: number; robustAccuracy: number; robustAccuracyCi: [number, number]; perAttackAccuracy: Record<string, number> }[];
  /** Samples evaluated and how many were correctly classified. */
  samples?: number;
  correct?: number;
  cleanAccuracy?: number;
  options?: Record<string, AttackOptions>;
  /** Per attacked (correctly classified) sample and budget: the attacks that broke it. */
  perSample?: { index: number; brokenBy: string[][] }[];
}

/** One attack of an AutoAttack cascade, run on the samples still robust before it. */
export interface AutoAttackStep {
  /** Registry name as run, e.g. `apgd-ce` (l∞) or `apgd-ce-l2`. */
  attack: string;
  /** Samples it attacked (robust before it) and broke. */
  attacked: number;
  broken: number;
  /** Robust accuracy over all evaluated samples after this attack, with its 95% Wilson interval. */
  robustAccuracy: number;
  robustAccuracyCi: [number, number];
  wallSeconds: number;
  /** Resolved options. */
  options: AttackOptions;
}

/** One evaluated sample of an AutoAttack evaluation. */
export interface AutoAttackSample {
  index: number;
  label: number;
  /** Clean prediction (a sample predicted wrongly is not robust and not attacked). */
  predicted: number;
  /** The attack that broke it; null when it is robust (or was misclassified to begin with). */
  brokenBy: string | null;
  /** Prediction on the adversarial and its distance in the evaluation's norm (broken samples). */
  adversarialPredicted?: number;
  distance?: number;
  /** Smallest adversarial norm the robustness curve's searches found (null: none found), when it was computed. */
  minNorm?: number | null;
}

/** Robust accuracy against ε from per-sample minimum adversarial norms. */
export interface RobustnessCurve {
  norm: NormName;
  /** The first `samples` evaluated samples, of which `correct` were classified correctly. */
  samples: number;
  correct: number;
  /** The searches that gave the minimum norms, e.g. "fab-t (9 targets)", "apgd-ce bisection ×5". */
  sources: string[];
  points: { epsilon: number; robustAccuracy: number; robustAccuracyCi: [number, number] }[];
  wallSeconds: number;
}

/**
 * AutoAttack (Croce & Hein 2020): a cascade of attacks at one budget, each on the samples the
 * previous ones left robust; a sample is robust only if it is classified correctly and no attack
 * breaks it. `robustAccuracy` is over all evaluated samples.
 */
export interface AutoAttackEval {
  kind: 'autoattack';
  provenance: EvalProvenance;
  /** `standard`: AutoAttack's APGD-CE → APGD-T → FAB-T → Square; `custom`: the attacks given. */
  version: 'standard' | 'custom';
  norm: 'linf' | 'l2';
  epsilon: number;
  attacks: string[];
  samples: number;
  correct: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  robustAccuracyCi: [number, number];
  cascade: AutoAttackStep[];
  perSample: AutoAttackSample[];
  /** A few broken samples: original, perturbation and adversarial images, and the attack that broke them. */
  examples: (AdversarialExample & { attack: string })[];
  curve?: RobustnessCurve;
}

export type AnyEval = InspectEval | SweepEval | DistanceEval | TransferEval | WorstCaseEval | AutoAttackEval;

/** Slice I of N of a sharded evaluation (`--shard I/N`); I counts from 1. */
export interface ShardSpec {
  index: number;
  count: number;
}

/**
 * One shard of an evaluation, stored as `evals/.shards/<name>/<I>-of-<N>.json` (+ its images in
 * `<I>-of-<N>/`) until `fim eval merge` combines the N shards into `evals/<name>.json`. `units` are
 * the samples the evaluation attacks or inspects, in order; a shard covers whole batches of them.
 */
export interface EvalShardFile {
  kind: 'eval-shard';
  formatVersion: 1;
  evalKind: EvalKind;
  name: string;
  shard: ShardSpec;
  /** Hash of `header`, `name`, the kind and the shard count: equal in every shard of one evaluation. */
  fingerprint: string;
  /** The units [start, end) this shard covers, of `totalUnits`. */
  units: [number, number];
  totalUnits: number;
  /** This shard's own provenance (its command, backend and wall time). */
  provenance: EvalProvenance;
  /** What the aggregation needs besides the units' results; identical in every shard (kind-specific). */
  header: Record<string, unknown>;
  /** Per-unit results in unit order (kind-specific); non-finite numbers are stored as the strings "NaN", "Infinity", "-Infinity". */
  part: Record<string, unknown>;
  /** Images this shard wrote, as paths relative to evals/ (the merged evaluation's paths). */
  images: string[];
}
