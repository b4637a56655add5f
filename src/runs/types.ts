/**
 * The run-store format: the only state FIM Inspector keeps. The engine writes it, the CLI and the
 * extension read it. Declared once here, with no tfjs import, so the extension can read runs
 * without loading engine code.
 *
 * A run is a directory:
 *   config.json      RunConfig: exactly what was asked for, with every default resolved
 *   status.json      RunStatus: rewritten atomically as the run progresses
 *   metrics.jsonl    one MetricRecord per line (append-only; a torn last line is skipped by readers)
 *   train.fimlog     the same records as human-readable `key=value` lines
 *   checkpoints/     one directory per checkpoint (tfjs Layers model.json + weights.bin + state.json)
 *   summary.json     RunSummary, written when training ends (completed, stopped or failed)
 *   evals/<name>.json evaluation results
 */

export const RUN_FORMAT_VERSION = 1;

export type RunState = 'running' | 'completed' | 'stopped' | 'failed' | 'incomplete';

export interface RunConfig {
  formatVersion: number;
  /** Human-readable name; the run id is `<timestamp>-<name>`. */
  name: string;
  /** `convnet` etc. for built-in definitions, otherwise the absolute path of the user's definition. */
  model: string;
  dataset: string;
  /** Directory of dataset files for datasets that are not built in (unused for mnist). */
  dataDir?: string;
  /** Weight of the trace term μ·Σ 1/p_i; 0 is exactly the baseline cross-entropy. */
  mu: number;
  /** Label-smoothing α (the paper's LSR comparison); 0 = off. */
  labelSmoothing: number;
  /** PGD adversarial training (Madry et al.); absent = off. */
  adversarialTraining?: AdversarialTrainingConfig;
  /**
   * A FIM-derived defence other than the paper's trace term (docs/defences.md); absent = the
   * trace term, weighted by `mu` (0 = the baseline). When present, `mu` is 0.
   */
  defence?: DefenceConfig;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Number of training / test samples used (after --limit-*). */
  trainSamples: number;
  testSamples: number;
  /** Data augmentation applied to training batches. */
  augmentation?: 'none' | 'crop-flip' | 'crop';
  /** Backend asked for; `auto` = best available. */
  backendRequested: string;
  createdAt: string;
  /** How an ONNX model definition is read (input layout, normalisation, BatchNorm mode). */
  modelOptions?: ModelImportOptions;
  /** Set for a run made by `fim import`: its checkpoint is a model trained elsewhere (epochs 0). */
  imported?: ImportedModel;
}

/** Options of an ONNX model definition (`fim import`, `fim train --model m.onnx`). */
export interface ModelImportOptions {
  /** Layout of the ONNX graph's input; detected from its shape when absent. */
  inputLayout?: 'nchw' | 'nhwc';
  /** Per-channel normalisation put in front of the graph, for models that expect normalised input. */
  normalize?: { mean: number[]; std: number[] };
  /** BatchNormalization keeps its running statistics while fine-tuning (default: PyTorch's train mode). */
  freezeBatchNorm?: boolean;
}

/** Where an imported run's model came from. */
export interface ImportedModel {
  /** Absolute path of the file imported. */
  source: string;
  format: 'onnx' | 'tfjs-layers';
  /** SHA-256 of the file imported. */
  sha256: string;
  /** ONNX: the default-domain opset and the input layout used. */
  opset?: number;
  inputLayout?: 'nchw' | 'nhwc';
  importedAt: string;
}

export interface AdversarialTrainingConfig {
  /** l∞ radius of the PGD perturbation. */
  epsilon: number;
  steps: number;
  stepSize: number;
  /** Fraction of each batch replaced by adversarial examples (Madry et al. use 1). */
  ratio: number;
}

/** The defences beyond the paper's trace term (`fim train --defence`; docs/defences.md). */
export type DefenceConfig = SpectralDefence | TradesDefence | TraceScaledDefence;

/** `weight · λmax(G_x)`: the paper's eq. (2), exact (K×K Gram) value and eigenvector. */
export interface SpectralDefence {
  kind: 'spectral';
  weight: number;
  /** l2 length of the central difference along the top eigenvector that carries the gradient. */
  fdStep: number;
  /**
   * How many rows of each (shuffled) batch are penalised, the first ones; 0 = all. The exact
   * eigenvector costs K backward rows per sample, so a subset keeps the step near a plain one's
   * cost; the penalty is still an unbiased estimate of the batch mean λmax(G_x).
   */
  rows: number;
}

/** TRADES (Zhang et al. 2019): `CE + weight · KL(p(x) ‖ p(x′))`, x′ from l∞ PGD on that KL. */
export interface TradesDefence {
  kind: 'trades';
  /** β. */
  weight: number;
  /** l∞ radius of the inner maximisation, pixels in [0, 1]. */
  epsilon: number;
  steps: number;
  stepSize: number;
}

/** `weight · tr G_x` of the scale-normalised logits: a trace term logit shrinking cannot satisfy. */
export interface TraceScaledDefence {
  kind: 'trace-scaled';
  weight: number;
  /** RMS the centred logits are normalised to before the softmax. */
  scale: number;
  /** Random probe directions per sample (Hutchinson's trace estimator). */
  probes: number;
  /** l2 length of the central difference along each probe. */
  fdStep: number;
}

export interface RunStatus {
  state: RunState;
  /** Process that owns a running run; a dead owner means the run is incomplete. */
  pid?: number;
  hostname?: string;
  startedAt: string;
  updatedAt: string;
  epoch: number;
  /** Global optimiser step count. */
  step: number;
  totalSteps: number;
  message?: string;
  /** Directory name under checkpoints/ of the newest complete checkpoint. */
  latestCheckpoint?: string;
}

/** One line of metrics.jsonl. */
export type MetricRecord = StepMetrics | EpochMetrics;

export interface StepMetrics {
  kind: 'step';
  time: string;
  epoch: number;
  /** Global optimiser step (1-based). */
  step: number;
  /** Step within the epoch (1-based) and steps per epoch. */
  epochStep: number;
  epochSteps: number;
  loss: number;
  ce: number;
  /** Batch mean of tr G_s = Σ_i 1/p_i. */
  traceGs: number;
  /** Batch mean of λmax(G_s) = 1 / min_i p_i. */
  lambdaMaxGs: number;
  accuracy: number;
  samplesPerSecond: number;
}

export interface EpochMetrics {
  kind: 'epoch';
  time: string;
  epoch: number;
  step: number;
  trainLoss: number;
  trainCe: number;
  trainAccuracy: number;
  trainTraceGs: number;
  testAccuracy: number;
  testCe: number;
  testMeanTraceGs: number;
  testMedianTraceGs: number;
  testMeanLambdaMaxGs: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface RunSummary {
  runDir: string;
  name: string;
  state: RunState;
  model: string;
  dataset: string;
  mu: number;
  epochs: number;
  epochsCompleted: number;
  testAccuracy: number | null;
  testMeanTraceGs: number | null;
  testMedianTraceGs: number | null;
  testMeanLambdaMaxGs: number | null;
  backend: string;
  samplesPerSecond: number | null;
  wallSeconds: number;
  checkpoint: string | null;
  message?: string;
}

/**
 * The state readers show: the written state after checking a `running` run's owner, `unreadable`
 * when status.json cannot be read, and `damaged` for a completed or stopped run whose newest
 * checkpoint is missing or not whole (`RunInfo.damage` says why).
 */
export type EffectiveState = RunState | 'unreadable' | 'damaged';

/** What `fim runs` and the extension's tree show for a run directory. */
export interface RunInfo {
  id: string;
  dir: string;
  config: RunConfig | null;
  status: RunStatus | null;
  /** Status after checking whether a `running` run's owner is still alive, and its checkpoint. */
  effectiveState: EffectiveState;
  /** Why the run is `damaged` (or, for a resumable run, what is wrong with its newest checkpoint). */
  damage?: string;
  summary: RunSummary | null;
  evals: string[];
  /** Why parts of the run could not be read (corrupt JSON etc.); the rest is still shown. */
  problems: string[];
}
