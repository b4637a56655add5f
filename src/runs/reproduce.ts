/**
 * `fim reproduce`: the plan, the resumable stage state and the report of a reproduction of the
 * paper's MNIST experiments (Fig. 2, 3, 5, Tables 1, 2) with gradient-masking sanity checks.
 * Declared once here, with no tfjs import, so the extension can read a reproduction's report.json.
 *
 * A reproduction is a directory:
 *   plan.json      ReproducePlan: what this reproduction measures (flags resolved)
 *   state.json     ReproduceState: which stages finished, with their outputs (resume reads it)
 *   runs/          the run store of its trainings (evaluations under each run's evals/)
 *   sanity/<id>.json  one SanityCheck per gradient-masking check
 *   report.json    ReproduceReport: every number the report shows, with samples and uncertainty
 *   report.html    the same as one self-contained page (inline SVG charts, no external resources)
 *   progress.json  ReproduceProgress: what the invocation working here is doing, stage by stage
 */
import type { AttackOptions, ShardSpec } from './evals';
import type { DefencesPlan, DefencesReport } from './reproduceDefences';
import type { AdversarialTrainingConfig, DefenceConfig } from './types';

export const REPRODUCE_FORMAT_VERSION = 1;

/** The files of a reproduction directory, by role (the layout above). */
export const REPRODUCE_FILES = {
  plan: 'plan.json',
  state: 'state.json',
  runs: 'runs',
  sanity: 'sanity',
  reportJson: 'report.json',
  reportHtml: 'report.html',
  progress: 'progress.json',
  lock: '.lock',
} as const;

export type ReproduceMode = 'quick' | 'full';
/** The trace defence (μ ≥ 0; μ = 0 is the baseline), label smoothing, PGD adversarial training, a model of the defence comparison (`--defences`). */
export type ModelRole = 'fim' | 'lsr' | 'pgd-at' | 'defence';

export interface ReproduceModelSpec {
  /** Stable key used in stage keys and run names, e.g. `mu0.022`, `lsr0.1`, `pgdat0.3`. */
  key: string;
  role: ModelRole;
  /** For charts and tables, e.g. "μ = 0.022", "LSR α = 0.1". */
  label: string;
  mu: number;
  labelSmoothing: number;
  adversarialTraining?: AdversarialTrainingConfig;
  /** A defence other than the trace term (src/runs/defence.ts). */
  defence?: DefenceConfig;
  /** Training seeds (one run each). */
  seeds: number[];
}

export interface SanityPlan {
  /** First test samples the gradient-based checks use (each model's correctly classified ones). */
  samples: number;
  /** l∞ budgets: FGSM vs BIM-l∞ and PGD on cross-entropy vs on the margin. */
  linfBudgets: number[];
  /** l2 budgets (natural norm): FGM vs BIM-l2. */
  l2Budgets: number[];
  /** Growing l∞ budgets for "accuracy → 0"; the last must drive the fooling ratio to ~100%. */
  growBudgets: number[];
  /** l∞ budget of the PGD steps/restarts, transfer and gradient-free checks. */
  epsilon: number;
  weak: { steps: number; restarts: number };
  strong: { steps: number; restarts: number };
  /** Samples and queries of the Square Attack (gradient-free) check. */
  squareSamples: number;
  squareQueries: number;
}

/**
 * AutoAttack's verdict (Croce & Hein 2020) on the baseline and the headline defended model at the
 * standard MNIST budgets, with PGD-40 at the same budgets beside it.
 */
export interface AutoAttackPlan {
  /** First test samples of each evaluation. */
  samples: number;
  budgets: { norm: 'linf' | 'l2'; epsilon: number }[];
  /** Robustness curve over the first N samples, at the largest budget of each norm (0: none). */
  curveSamples: number;
}

export interface ReproducePlan {
  formatVersion: number;
  mode: ReproduceMode;
  dataset: 'mnist';
  /** `convnet` (the paper's), or a model definition path (tests use a smaller one). */
  model: string;
  /** Training samples (60,000 = all of MNIST's training split) and test samples for accuracy. */
  trainSamples: number;
  testSamples: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  mus: number[];
  seeds: number[];
  models: ReproduceModelSpec[];
  /** Which trained μ stands for the paper's μ = 0.02 (Fig. 5), 0.022 (Fig. 3 headline, sanity checks) and 0.024 (Tables 1, 2). */
  muRoles: { fig5: number; headline: number; tables: number };
  /** OSSA sweep: first `samples` test samples, ε = squared l2 norm ‖η‖₂² (paper §3.1). */
  fig3: { samples: number; budgets: number[]; clip: boolean };
  /** FGM / OTCM / FGSM sweeps on the same ε axis (squared l2 norm of the unclipped step). */
  fig5: { samples: number; budgets: number[]; attacks: string[] };
  table1: { samples: number; attacks: string[]; options: Record<string, AttackOptions> };
  table2: { samples: number; attacks: string[]; ossaBudget: number; options: Record<string, AttackOptions> };
  inspect: { samples: number; heldOut: number };
  sanity: SanityPlan;
  /** Absent in plans written before AutoAttack was part of the reproduction. */
  autoattack?: AutoAttackPlan;
  /** What this plan leaves out or shrinks compared with the paper (quick mode, flags). */
  cuts: string[];
  backend: string;
  /** The defence comparison (`--defences`); absent = none. */
  defences?: DefencesPlan;
  /** false: only the defence comparison's stages run, not the paper's figures and tables (`--only-defences`). */
  paper?: boolean;
}

export type StageKind = 'train' | 'inspect' | 'sweep' | 'distance' | 'transfer' | 'sanity' | 'autoattack' | 'robust';

export interface StageRecord {
  key: string;
  kind: StageKind;
  status: 'started' | 'done' | 'failed';
  /** Hash of the stage's parameters: a finished stage is reused only while it matches. */
  fingerprint: string;
  /** Run directory (train), evaluation files, or the sanity-check file, relative to the reproduction directory. */
  runDir?: string;
  files?: string[];
  /** Wall seconds over all attempts (a resumed stage adds up). */
  wallSeconds: number;
  attempts: number;
  finishedAt?: string;
  message?: string;
  /** The Slurm job (`<array id>_<task>`) of the latest attempt and its log, relative to the reproduction directory. */
  slurmJob?: string;
  log?: string;
  /** A stage run as shards (`--shards N`): which are written, and where the merged evaluation goes. */
  shards?: { count: number; done: number[]; runDir: string; name: string };
}

export interface ReproduceState {
  formatVersion: number;
  stages: Record<string, StageRecord>;
  /** One entry per invocation of `fim reproduce` on this directory (a resumed reproduction has several). */
  sessions: ReproduceSession[];
  /** Every Slurm submission of this directory, oldest first (`fim reproduce --executor slurm`). */
  slurm?: SlurmSubmission[];
}

/** Where a reproduction's stages run: in this process, one after another, or as Slurm jobs. */
export type ReproduceExecutor = 'local' | 'slurm';

/** The `fim reproduce --executor slurm` options (and the `fim.reproduce.slurm.*` settings). */
export interface SlurmOptions {
  partition?: string;
  account?: string;
  /** Time limit per job, in sbatch's format (e.g. 2:00:00). */
  time?: string;
  cpusPerTask?: number;
  gpusPerTask?: number;
  /** Further sbatch arguments for every job, e.g. --mem=8G or --qos=short. */
  sbatchArgs?: string[];
  /** Shards per evaluation stage (each its own array task, merged by the last) [1]. */
  shards?: number;
}

/** One array task of a submission: a stage, or one shard of it. */
export interface SlurmTask {
  stage: string;
  shard?: ShardSpec;
  /** Its log, relative to the reproduction directory. */
  log: string;
}

/** One sbatch call: a job array of tasks (task i is tasks[i]), or the report job (no tasks). */
export interface SlurmJob {
  id: string;
  name: string;
  /** The batch script, relative to the reproduction directory. */
  script: string;
  tasks: SlurmTask[];
  dependency?: string;
}

export interface SlurmSubmission {
  submittedAt: string;
  host: string;
  options: SlurmOptions;
  jobs: SlurmJob[];
  /** The last job: rebuilds report.html/json once every other job ended, whatever their outcome. */
  reportJob?: string;
  cancelledAt?: string;
}

/** How a stage stands, for `fim reproduce --status` (and the extension's live view). */
export type StageState = 'done' | 'failed' | 'running' | 'queued' | 'interrupted' | 'cancelled' | 'pending';

/** A Slurm task's state as squeue or sacct report it (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, …). */
export interface SlurmTaskState {
  job: string;
  state: string;
  reason?: string;
  log: string;
  shard?: ShardSpec;
}

export interface StageStatus {
  key: string;
  kind: StageKind;
  title: string;
  state: StageState;
  attempts: number;
  wallSeconds: number;
  message?: string;
  log?: string;
  shards?: { count: number; done: number[] };
  /** The tasks of the latest submission that ran or will run this stage. */
  slurm?: SlurmTaskState[];
}

/** `fim reproduce --status --json`. */
export interface ReproduceStatus {
  outDir: string;
  mode: ReproduceMode;
  complete: boolean;
  counts: Partial<Record<StageState, number>>;
  stages: StageStatus[];
  /** The latest Slurm submission, if any, and whether any of its jobs is still queued or running. */
  submission?: { submittedAt: string; host: string; jobs: string[]; active: boolean; cancelledAt?: string; reportJob?: string };
  /** Why the Slurm states are missing, when squeue/sacct could not answer. */
  slurmProblem?: string;
  report: { html: string; exists: boolean };
}

/**
 * progress.json: the stage list of the current (or last) invocation and where it is, rewritten
 * at every stage start and end and every few seconds in between, so a report panel or a runs tree
 * shows a reproduction live whichever front end started it.
 */
export interface ReproduceProgress {
  formatVersion: number;
  mode: ReproduceMode;
  /** The process working here (a `running` progress whose pid is gone was interrupted). */
  pid: number;
  hostname: string;
  startedAt: string;
  updatedAt: string;
  state: 'running' | 'finished' | 'stopped';
  stages: ReproduceStageProgress[];
  /** The stage running now, with its last progress message and fraction (0..1). */
  current?: { key: string; index: number; message: string; fraction: number };
}

export interface ReproduceStageProgress {
  key: string;
  kind: StageKind;
  title: string;
  /** `reused`: finished in an earlier invocation; `waiting`: a training it needs has not finished. */
  status: 'pending' | 'reused' | 'running' | 'done' | 'failed' | 'interrupted' | 'waiting';
  wallSeconds?: number;
  message?: string;
}

export interface ReproduceSession extends ReproduceEnvironment {
  startedAt: string;
  endedAt?: string;
  /** Stages this invocation ran (not those it reused). */
  stagesRun: number;
  /** The process (a Slurm job runs one stage per session, on its node). */
  host?: string;
  pid?: number;
  slurmJob?: string;
}

/* ---------------------------------------------------------------- report */

export type Interval = [number, number];

export interface SeedAccuracy {
  seed: number;
  accuracy: number | null;
  testSamples: number;
  epochsCompleted: number;
  state: string;
  trainSeconds: number | null;
  samplesPerSecond: number | null;
  meanTraceGs: number | null;
  runDir: string;
}

/** One bar/point of Fig. 2: test accuracy over seeds. */
export interface AccuracyRow {
  model: string;
  label: string;
  role: ModelRole;
  mu: number;
  seeds: SeedAccuracy[];
  /** Over finished seeds: mean, sample standard deviation (null for one seed), min, max. */
  mean: number | null;
  sd: number | null;
  min: number | null;
  max: number | null;
  /** 95% Wilson interval of the pooled accuracy (test-sample uncertainty only). */
  pooledCi: Interval | null;
}

export interface SweepSeriesPoint {
  /** ε on the chart's axis: the squared l2 norm ‖η‖₂² (paper §3.1). */
  epsilon: number;
  /** The budget the attack ran with, in its own unit (e.g. l∞ = √ε/√N for FGSM). */
  attackBudget: number;
  /** Pooled over seeds: fooled among correctly classified samples. */
  fooled: number;
  correct: number;
  ratio: number;
  ci: Interval;
  /** Fooling ratio of each seed's model (seed spread). */
  perSeed: number[];
  /** The same on inputs clipped to [0, 1] when the evaluated ones were not (OSSA). */
  clipped?: { fooled: number; ratio: number; ci: Interval };
  /** Mean size of the evaluated perturbations in the attack's natural norm (after clipping where clipped). */
  meanDistance?: number;
}

export interface SweepSeries {
  attack: string;
  model: string;
  label: string;
  role: ModelRole;
  mu: number;
  /** Human-readable budget convention of this series. */
  budgetUnit: string;
  seeds: number;
  samplesPerSeed: number;
  points: SweepSeriesPoint[];
}

export interface DistanceStat {
  /** Over samples where the search succeeded, in Foolbox 2's unit (the paper's), and in the natural norm. */
  mean: number;
  median: number;
  /** 95% bootstrap interval of the mean (Foolbox 2 unit). */
  meanCi: Interval;
  meanNatural: number;
  found: number;
  attacked: number;
  successCi: Interval;
  wallSeconds: number | null;
}

export interface Table1Row {
  attack: string;
  norm: string;
  unit: string;
  baseline: DistanceStat | null;
  defended: DistanceStat | null;
  /** defended mean / baseline mean, with a 95% bootstrap interval. */
  ratio: number | null;
  ratioCi: Interval | null;
  paper: { baseline: number; defended: number; ratio: number } | null;
}

export interface TransferCell {
  /** Accuracy of the target on adversarials that fooled the source, with its Wilson interval. */
  accuracy: number | null;
  ci: Interval;
  /** Adversarials that fooled the source (the denominator) and samples they were crafted on. */
  samples: number;
  crafted: number;
}

export interface Table2Row {
  attack: string;
  /** Crafted on the baseline, tested on the defended model; and the reverse. */
  baselineToDefended: TransferCell | null;
  defendedToBaseline: TransferCell | null;
  budget?: number;
  paper: { baselineToDefended: number | null; defendedToBaseline: number | null } | null;
}

/** FIM statistics of one model, before and after temperature scaling (medians over samples). */
export interface FimRow {
  model: string;
  label: string;
  mu: number;
  samples: number;
  accuracy: number;
  temperature: number;
  traceGs: number;
  lambdaMaxGx: number;
  lambdaMaxGxScaled: number;
  klBudget: number;
  klBudgetScaled: number;
  normalizedMargin: number;
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped';

/** One measured fooling ratio in a check's evidence. */
export interface CheckEvidence {
  model: string;
  what: string;
  budget: number | null;
  fooled: number;
  n: number;
  ratio: number;
  ci: Interval;
}

export interface SanityCheck {
  id: string;
  title: string;
  /** What the check asks (Carlini et al. 2019, "On Evaluating Adversarial Robustness"). */
  question: string;
  status: CheckStatus;
  /** One sentence: the outcome and, for warn/fail, what it means. */
  summary: string;
  evidence: CheckEvidence[];
  /** Free-form numbers that are not fooling ratios (e.g. λmax ratios). */
  values?: Record<string, number>;
  wallSeconds?: number;
}

/** One model's AutoAttack verdict at one budget, with PGD-40's robust accuracy beside it. */
export interface AutoAttackCell {
  model: string;
  label: string;
  robustAccuracy: number;
  ci: Interval;
  /** Robust samples, evaluated samples, and the clean accuracy. */
  robust: number;
  samples: number;
  cleanAccuracy: number;
  /** Robust accuracy after each attack of the cascade. */
  after: { attack: string; robustAccuracy: number }[];
  pgd40: { robustAccuracy: number; ci: Interval } | null;
  wallSeconds: number;
}

export interface AutoAttackRow {
  norm: 'linf' | 'l2';
  epsilon: number;
  baseline: AutoAttackCell | null;
  defended: AutoAttackCell | null;
}

/** A robustness curve (robust accuracy vs ε from per-sample minimum norms) of one model. */
export interface RobustnessCurveSeries {
  model: string;
  label: string;
  norm: 'linf' | 'l2';
  samples: number;
  sources: string[];
  points: { epsilon: number; robustAccuracy: number; ci: Interval }[];
}

export type Verdict = 'agrees' | 'differs' | 'partly' | 'not measured';

/** A comparison of one published claim with ours. */
export interface Finding {
  topic: string;
  paper: string;
  ours: string;
  verdict: Verdict;
  /** What the report can tell about why, if anything. */
  why?: string;
}

/** The paper's published numbers and claims (Shen et al., §4), put beside ours. */
export interface PaperReference {
  citation: string;
  fig2: { baselineAccuracy: number; defendedAccuracy: number; defendedMu: number; fluctuatesAround: number; text: string };
  fig3: { mu: number; epsilon: number; foolingBelow: number; text: string };
  fig5: { mu: number; epsilon: number; foolingAbove: number; text: string };
  table1: { attack: string; norm: string; unit: string; baseline: number; defended: number }[];
  table1Mu: number;
  table2: { attack: string; baselineToDefended: number | null; defendedToBaseline: number | null }[];
  table2OssaEpsilon: number;
}

export interface ReproduceEnvironment {
  backend: string;
  backendDetails: string[];
  cpus: number;
  cpuModel: string;
  /** 1-minute load averages when the work started and ended (other processes slow timings down). */
  loadStart: number[];
  loadEnd: number[];
  node: string;
  engineVersion: string;
  platform: string;
}

export interface ReproduceReport {
  formatVersion: number;
  kind: 'fim-reproduce';
  createdAt: string;
  /** Whether every stage finished (a partial report says which did not). */
  complete: boolean;
  plan: ReproducePlan;
  /** The machine of the last invocation, and every invocation (a resumed reproduction has several). */
  environment: ReproduceEnvironment;
  sessions: ReproduceSession[];
  /** Wall seconds of all stages (summed over resumed attempts) and per stage kind. */
  wallSeconds: number;
  wallByKind: Partial<Record<StageKind, number>>;
  stages: { key: string; kind: StageKind; status: StageRecord['status'] | 'pending'; wallSeconds: number; message?: string }[];
  accuracy: AccuracyRow[];
  fig3: SweepSeries[];
  fig5: SweepSeries[];
  table1: Table1Row[];
  table2: Table2Row[];
  fim: FimRow[];
  sanity: SanityCheck[];
  /** AutoAttack at the standard MNIST budgets (absent for plans without it). */
  autoattack?: AutoAttackRow[];
  curves?: RobustnessCurveSeries[];
  findings: Finding[];
  paper: PaperReference;
  /** The defence comparison, when the plan has one. */
  defences?: DefencesReport;
}
