/**
 * The extension host ↔ engine process protocol (JSON-RPC 2.0 over the engine's stdio). Every
 * request and notification is declared here once and imported by both sides, so a changed
 * message shape is a type error in both. Types only from the engine and run store: this file must
 * not pull tfjs into the extension bundle.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { BackendReport, BackendRequest } from './backend';
import type { RunConfig, RunSummary } from '../runs/types';
import type { AttackOptions } from '../runs/evals';

export const PROTOCOL_VERSION = 1;

/** JSON-RPC error codes the engine answers with (application range, see the JSON-RPC spec). */
export const EngineErrorCode = {
  /** What the user asked for is wrong (bad value, missing file, model that does not fit). */
  InputError: -32010,
  /** The job was cancelled; for training the run was stopped with a checkpoint. */
  Cancelled: -32800,
  /** Anything else: an engine bug or an environment problem. */
  EngineFailure: -32012,
} as const;

export interface InitializeParams {
  protocolVersion: number;
  /** Backend to initialise; `auto` picks the best available one. */
  backend: BackendRequest;
  /**
   * Whether VS Code trusts the workspace. Untrusted (also when absent), the engine loads only
   * built-in model definitions and only paths inside the workspace (src/engine/trust.ts).
   */
  trusted?: boolean;
}

export interface NamedDescription {
  name: string;
  description: string;
}

export interface EngineInfo {
  protocolVersion: number;
  engineVersion: string;
  pid: number;
  node: string;
  /** The backend in use and why better ones were skipped. */
  backend: BackendReport;
  models: (NamedDescription & { defaultDataset: string })[];
  datasets: (NamedDescription & { needsDataDir: boolean })[];
  /** The attacks a sweep can run: what each is and the unit of its budget ε (for the pickers). */
  attacks: AttackInfo[];
  /** The attacks of the paper's Table 1, the default of a minimum-distance evaluation. */
  table1Attacks?: string[];
}

export interface AttackInfo {
  name: string;
  title: string;
  norm: string;
  kind: string;
  /** Unit of ε with the attack's default options. */
  budgetUnit: string;
}

/** Fields every job request carries: a host-chosen id that Stop and notifications refer to. */
export interface JobParams {
  jobId: string;
}

/**
 * What a training run is: the engine's trainer takes exactly this (plus the backend, which is the
 * engine process's own choice), so the CLI, the engine process and the extension share one shape.
 */
export interface TrainSpec {
  /** Built-in model name (`convnet`, …) or the absolute path of a model definition. */
  model: string;
  dataset: string;
  dataDir?: string;
  mu: number;
  labelSmoothing?: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  limitTrain?: number;
  limitTest?: number;
  /** Run-store directory; the run is created inside it. */
  storeDir: string;
  name?: string;
  augmentation?: RunConfig['augmentation'];
  adversarialTraining?: RunConfig['adversarialTraining'];
  /** A defence other than the trace term (`mu` then 0); see src/runs/defence.ts. */
  defence?: RunConfig['defence'];
  /** Write a metrics record every this many steps (engine default 20). */
  logEvery?: number;
  /** How an ONNX model definition is read. */
  modelOptions?: RunConfig['modelOptions'];
}

export interface TrainParams extends JobParams, TrainSpec {}

export interface ResumeParams extends JobParams {
  runDir: string;
}

export interface TrainResult {
  summary: RunSummary;
}

export interface InspectParams extends JobParams {
  runDir: string;
  /** Number of test samples to inspect (the first N of the test split). */
  samples: number;
  /** How many of them get input and eigen-direction images (engine default: a few). */
  images?: number;
  /** Name of the evaluation file under evals/ (default chosen by the engine). */
  name?: string;
}

export interface SweepParams extends JobParams {
  runDir: string;
  attack: string;
  /** Budgets in the attack's own unit. */
  budgets: number[];
  samples: number;
  name?: string;
}

export interface AutoAttackParams extends JobParams {
  runDir: string;
  norm: 'linf' | 'l2';
  /** The budget: the perturbation's norm (pixels in [0, 1]). */
  epsilon: number;
  samples: number;
  /** Robustness curve over the first N samples (0: none). */
  curveSamples?: number;
  name?: string;
}

export interface EvalResult {
  /** Absolute path of the evals/<name>.json written. */
  evalFile: string;
}

/** `fim eval distance` (Table 1): the minimum adversarial distance of each attack by its own search. */
export interface DistanceParams extends JobParams {
  runDir: string;
  attacks: string[];
  samples: number;
  /** Per-attack option overrides. */
  options?: Record<string, AttackOptions>;
  name?: string;
}

/** `fim eval transfer` (Table 2): adversarials crafted on one run, classified by the other, both ways. */
export interface TransferParams extends JobParams {
  fromRunDir: string;
  toRunDir: string;
  attack: string;
  /** Fixed budget in the attack's unit; absent = the attack's minimum-distance search (as the paper). */
  budget?: number;
  samples: number;
  options?: AttackOptions;
  name?: string;
}

/** `fim eval worst-case`: robust accuracy when any attack of the list breaking a sample counts. */
export interface WorstCaseParams extends JobParams {
  runDir: string;
  attacks: string[];
  budgets: number[];
  samples: number;
  options?: Record<string, AttackOptions>;
  name?: string;
}

/** Transfer writes one file into each run. */
export interface EvalFilesResult extends EvalResult {
  evalFiles: string[];
}

/**
 * Adds what an inspection needs for display but did not store: the input and OSSA-direction
 * images of the samples that have none (recomputed from the same checkpoint), and the dataset's
 * class names. The statistics are not touched.
 */
export interface CompleteInspectionParams extends JobParams {
  runDir: string;
  evalName: string;
}

export interface CompleteInspectionResult extends EvalResult {
  /** Samples whose images were drawn now. */
  rendered: number;
  classNames: boolean;
}

/** What `FIM: Check Setup` asks the engine beyond `fim/initialize`: can each dataset be loaded. */
export interface DatasetCheck {
  name: string;
  description: string;
  needsDataDir: boolean;
  /** `ok`: loaded here; `needs-folder`: loads from a folder the user picks; `error`: failed. */
  status: 'ok' | 'needs-folder' | 'error';
  detail: string;
}

export interface SetupReport {
  datasets: DatasetCheck[];
}

/** `fim/import`: a model trained elsewhere (ONNX, tfjs Layers) becomes a run (CLI: fim import). */
export interface ImportParams extends JobParams {
  /** Absolute path of an .onnx file or a tfjs Layers model.json with weights. */
  model: string;
  dataset: string;
  dataDir?: string;
  storeDir: string;
  name?: string;
  limitTest?: number;
  modelOptions?: RunConfig['modelOptions'];
}

export interface ImportedModelInfo {
  runDir: string;
  model: string;
  format: 'onnx' | 'tfjs-layers';
  testAccuracy: number;
  testSamples: number;
  testMeanTraceGs: number;
  testMedianTraceGs: number;
  testMeanLambdaMaxGs: number;
  parameters: number;
  trainableParameters: number;
  opset?: number;
  inputLayout?: 'nchw' | 'nhwc';
  notes: string[];
}

/** `fim/export`: a run's newest checkpoint as an ONNX file (CLI: fim export). */
export interface ExportParams extends JobParams {
  runDir: string;
  /** Absolute path of the .onnx file to write. */
  out: string;
  inputLayout?: 'nchw' | 'nhwc';
}

export interface ExportedModelInfo {
  file: string;
  runDir: string;
  checkpoint: string;
  /** 'imported': the original graph with the run's weights; 'converted': built from tfjs layers. */
  kind: 'imported' | 'converted';
  inputName: string;
  outputName: string;
  inputShape: (number | string | null)[];
  opset: number;
  bytes: number;
  /** Largest logit difference between the file read back and the run's model, relative. */
  maxRelativeDifference: number;
  checkedSamples: number;
  notes: string[];
}

export interface StopParams {
  jobId: string;
}

export type JobPhase = 'load' | 'train' | 'eval' | 'inspect' | 'attack' | 'save';

export interface JobProgressParams extends JobParams {
  /** The run the job writes to, once known. */
  runDir?: string;
  phase: JobPhase;
  /** 0..1 when known. */
  fraction?: number;
  message: string;
  /** Training position, for the runs tree's live progress. */
  epoch?: number;
  epochs?: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
  samplesPerSecond?: number;
}

export interface JobStartedParams extends JobParams {
  runDir: string;
  config: RunConfig;
  backend: BackendReport;
  notes: string[];
}

export interface LogParams {
  jobId?: string;
  runDir?: string;
  /** One train.fimlog line or an engine message. */
  line: string;
}

export const Initialize = new RequestType<InitializeParams, EngineInfo, void>('fim/initialize');
export const Train = new RequestType<TrainParams, TrainResult, void>('fim/train');
export const Resume = new RequestType<ResumeParams, TrainResult, void>('fim/resume');
export const Inspect = new RequestType<InspectParams, EvalResult, void>('fim/inspect');
export const AttackSweep = new RequestType<SweepParams, EvalResult, void>('fim/attackSweep');
export const Distance = new RequestType<DistanceParams, EvalResult, void>('fim/distance');
export const Transfer = new RequestType<TransferParams, EvalFilesResult, void>('fim/transfer');
export const WorstCase = new RequestType<WorstCaseParams, EvalResult, void>('fim/worstCase');
export const CompleteInspection = new RequestType<CompleteInspectionParams, CompleteInspectionResult, void>('fim/completeInspection');
export const CheckSetup = new RequestType0<SetupReport, void>('fim/checkSetup');
/** AutoAttack's standard cascade at one budget (`fim eval autoattack`); resumable between attacks. */
export const RunAutoAttack = new RequestType<AutoAttackParams, EvalResult, void>('fim/autoattack');
export const ImportModel = new RequestType<ImportParams, ImportedModelInfo, void>('fim/import');
export const ExportModel = new RequestType<ExportParams, ExportedModelInfo, void>('fim/export');
/** Stops a job as if its request were cancelled ($/cancelRequest does the same for the caller). */
export const StopJob = new RequestType<StopParams, { stopped: boolean }, void>('fim/stopJob');
export const Shutdown = new RequestType0<void, void>('fim/shutdown');

export const JobStarted = new NotificationType<JobStartedParams>('fim/jobStarted');
export const JobProgress = new NotificationType<JobProgressParams>('fim/progress');
export const Log = new NotificationType<LogParams>('fim/log');
