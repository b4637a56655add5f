import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import { makeDirs, truncateSynced } from '../../runs/atomic';
import { checkpointProblem } from '../../runs/checkpoints';
import { acquireRunLock, type Lock } from '../../runs/lock';
import { checkpointDir, runFile } from '../../runs/paths';
import { readJsonFile, readMetrics } from '../../runs/reader';
import { sweepRunLeftovers } from '../../runs/sweep';
import {
  RUN_FORMAT_VERSION,
  type EpochMetrics,
  type RunConfig,
  type RunState,
  type RunStatus,
  type RunSummary,
  type StepMetrics,
} from '../../runs/types';
import { InputError } from '../errors';
import type { TrainSpec } from '../../protocol/engine';
import type { BackendReport, BackendRequest } from '../../protocol/backend';
import { backendRequestFrom, initBackend } from '../backend/select';
import { batchPixels, imageSize, limitDataset, type Dataset, type DatasetSplits } from '../data/dataset';
import { loadDataset } from '../data/registry';
import { outputStats } from '../fim/outputStats';
import { loadModelFiles } from '../models/files';
import { buildModel, resolveDefinition, validateModel } from '../models/load';
import { predictLogits } from '../models/predict';
import { errorMessage } from '../../shared/errors';
import { mean, median } from '../../shared/stats';
import { assertModelAllowed, assertPathAllowed, assertRunConfigAllowed, TRUSTED, type TrustPolicy } from '../trust';
import { Adam } from './adam';
import {
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  readOptimizerState,
  writeCheckpoint,
  type LoadedCheckpoint,
} from './checkpoint';
import { TRACE_LOSS, traceLoss } from '../backend/kernels/TraceLoss';
import { defendedLoss, LOG_INV_P_CAP } from './loss';
import { makeDefence, validateDefence } from './defence';
import { RunWriter } from './runWriter';
import { makeBatchTransform, type BatchTransform } from './transforms';

/** A run to train, as the CLI and the engine process both ask for it, with the backend to use. */
export interface TrainRequest extends TrainSpec {
  backend?: BackendRequest;
  /** What the engine may load (VS Code's restricted mode); the CLI is trusted. */
  trust?: TrustPolicy;
}

export interface TrainProgress {
  runDir: string;
  phase: 'train' | 'eval';
  epoch: number;
  epochs: number;
  epochStep: number;
  epochSteps: number;
  step: number;
  totalSteps: number;
  /** Loss of the last logged interval (undefined before the first). */
  loss?: number;
  samplesPerSecond: number;
}

export interface TrainHooks {
  onStart?: (runDir: string, config: RunConfig, backend: BackendReport, notes: string[]) => void;
  onProgress?: (p: TrainProgress) => void;
  /** Every line written to train.fimlog. */
  onLog?: (line: string) => void;
  onEpoch?: (m: EpochMetrics) => void;
}

export class TrainingError extends Error {
  constructor(
    message: string,
    readonly summary?: RunSummary,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}

/**
 * What a training run uses when the user does not say: the paper's ConvNet on MNIST, its μ, and
 * Adam with PyTorch's default rate at batch 128. Every front end (CLI flags, `fim quickstart`,
 * the reproduction plan) starts from these.
 */
export const TRAIN_DEFAULTS = {
  model: 'convnet',
  dataset: 'mnist',
  mu: 0.022,
  epochs: 2,
  batchSize: 128,
  learningRate: 1e-3,
  seed: 0,
} as const;

const DEFAULT_LOG_EVERY = 20;
/** Checkpoints kept per run: the newest two plus the final one. */
const KEEP_CHECKPOINTS = 2;

/** Deterministic sample order for one epoch: depends only on (seed, epoch), so resume can replay it. */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  const rng = seedrandom(`fim:${seed}:${epoch}`);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

function defaultName(req: Pick<TrainRequest, 'model' | 'mu' | 'labelSmoothing' | 'adversarialTraining' | 'defence'>): string {
  const base = req.model
    .replace(/\\/g, '/')
    .split('/')
    .pop()!
    .replace(/\.(json|onnx|[cm]?[jt]s)$/, '');
  const base2 = base === 'model' ? (req.model.replace(/\\/g, '/').split('/').slice(-2, -1)[0] ?? base) : base;
  const parts = [base2, req.defence ? `${req.defence.kind.replace('-', '')}${req.defence.weight}` : `mu${req.mu}`];
  if (req.labelSmoothing) parts.push(`ls${req.labelSmoothing}`);
  if (req.adversarialTraining) parts.push('pgdat');
  return parts.join('-');
}

interface Session {
  config: RunConfig;
  data: DatasetSplits;
  model: tfl.LayersModel;
  optimizer: Adam;
  writer: RunWriter;
  backend: BackendReport;
  /** Position to start from. */
  start: { epoch: number; epochStep: number; step: number; trainSeconds: number; trainSamplesSeen: number };
  wallStart: number;
  lastCheckpoint: string | null;
  lastEpochMetrics: EpochMetrics | null;
}

function limitSplits(data: DatasetSplits, limitTrain?: number, limitTest?: number): DatasetSplits {
  return { ...data, train: limitDataset(data.train, limitTrain), test: limitDataset(data.test, limitTest) };
}

function stepsPerEpoch(n: number, batch: number): number {
  return Math.ceil(n / batch);
}

/** Trains a new run. Resolves with its summary; throws TrainingError when the run failed. */
export async function train(req: TrainRequest, hooks: TrainHooks = {}, signal?: AbortSignal): Promise<RunSummary> {
  validateRequest(req);
  const trust = req.trust ?? TRUSTED;
  assertModelAllowed(trust, req.model, 'the request');
  assertPathAllowed(trust, req.storeDir, 'the run store');
  assertPathAllowed(trust, req.dataDir, 'the dataset directory');
  // A store that cannot be made (a file in the way, /proc) fails before minutes of loading.
  makeDirs(req.storeDir);
  const backend = await initBackend(req.backend ?? backendRequestFrom());
  const data = limitSplits(await loadDataset(req.dataset, req.dataDir), req.limitTrain, req.limitTest);
  const def = await resolveDefinition(
    req.model,
    { inputShape: data.train.imageShape, numClasses: data.train.numClasses },
    req.modelOptions,
  );
  const { model, notes } = await buildModel(def, { imageShape: data.train.imageShape, numClasses: data.train.numClasses, seed: req.seed });
  if (req.batchSize > data.train.count)
    notes.push(`batch ${req.batchSize} is larger than the ${data.train.count} training samples: one step per epoch`);
  const config: RunConfig = {
    formatVersion: RUN_FORMAT_VERSION,
    name: req.name ?? defaultName(req),
    model: def.id,
    dataset: req.dataset,
    ...(req.dataDir ? { dataDir: req.dataDir } : {}),
    mu: req.mu,
    labelSmoothing: req.labelSmoothing ?? 0,
    ...(req.adversarialTraining ? { adversarialTraining: req.adversarialTraining } : {}),
    ...(req.defence ? { defence: req.defence } : {}),
    epochs: req.epochs,
    batchSize: req.batchSize,
    learningRate: req.learningRate,
    seed: req.seed,
    trainSamples: data.train.count,
    testSamples: data.test.count,
    augmentation: req.augmentation ?? 'none',
    backendRequested: req.backend ?? 'auto',
    createdAt: new Date().toISOString(),
    ...(req.modelOptions ? { modelOptions: req.modelOptions } : {}),
  };
  const totalSteps = stepsPerEpoch(data.train.count, req.batchSize) * req.epochs;
  let writer: RunWriter;
  try {
    writer = RunWriter.create(req.storeDir, config, totalSteps, hooks.onLog);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const optimizer = new Adam(req.learningRate);
  const session: Session = {
    config,
    data,
    model,
    optimizer,
    writer,
    backend,
    start: { epoch: 0, epochStep: 0, step: 0, trainSeconds: 0, trainSamplesSeen: 0 },
    wallStart: Date.now(),
    lastCheckpoint: null,
    lastEpochMetrics: null,
  };
  return runSession(session, req.logEvery ?? DEFAULT_LOG_EVERY, hooks, signal, () => {
    hooks.onStart?.(writer.dir, config, backend, notes);
    for (const n of notes) writer.log('info', { msg: n });
    writer.log('info', { msg: `backend ${backend.name}${backend.details.length ? ' (' + backend.details.join('; ') + ')' : ''}` });
  });
}

/** Continues a run from its newest checkpoint (after Ctrl-C, SIGKILL or a crash). */
export async function resume(
  runDir: string,
  opts: { backend?: BackendRequest; logEvery?: number; trust?: TrustPolicy } = {},
  hooks: TrainHooks = {},
  signal?: AbortSignal,
): Promise<RunSummary> {
  const config = readJsonFile<RunConfig>(runFile(runDir, 'config'));
  if (!config) throw new InputError(`${runDir} is not a readable run directory (config.json missing or corrupt)`);
  const trust = opts.trust ?? TRUSTED;
  assertRunConfigAllowed(trust, config, runDir);
  assertModelAllowed(trust, config.model, `${path.basename(runDir)}/config.json`);
  // The lock comes before every check of the run's state, so two resumes cannot both pass them.
  const lock = acquireRunLock(runDir, 'resuming its training');
  try {
    return await resumeLocked(runDir, config, lock, opts, hooks, signal);
  } finally {
    lock.release();
  }
}

/** The newest whole checkpoint; damaged newer ones (files cut short) are skipped with a note. */
function newestUsableCheckpoint(runDir: string, notes: string[]): string | null {
  const names = listCheckpoints(runDir);
  for (let i = names.length - 1; i >= 0; i--) {
    const problem = checkpointProblem(checkpointDir(runDir, names[i]!));
    if (!problem) return names[i]!;
    notes.push(`${problem}; resuming from an older checkpoint`);
  }
  return null;
}

/**
 * Cuts metrics.jsonl and train.fimlog back to where they stood at the checkpoint resumed from
 * (records of the steps trained again, and a torn last line, would otherwise stay). Checkpoints
 * of older versions do not record the sizes: lines are then kept up to the first record past the
 * checkpoint's step. Without a checkpoint, the logs go back to the header.
 */
function rewindLogs(runDir: string, ckpt: LoadedCheckpoint | null): void {
  const cut = (file: string, bytes: number) => {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size > bytes) truncateSynced(file, bytes);
  };
  const metrics = runFile(runDir, 'metrics');
  const log = runFile(runDir, 'log');
  if (ckpt?.state.logs) {
    cut(metrics, ckpt.state.logs.metricsBytes);
    cut(log, ckpt.state.logs.fimlogBytes);
    return;
  }
  const step = ckpt?.state.step ?? 0;
  cut(
    metrics,
    prefixBytes(metrics, (line) => recordStep(line, (l) => JSON.parse(l) as { step?: number }) > step),
  );
  cut(
    log,
    prefixBytes(log, (line, i) => (ckpt ? recordStep(line, fimlogStep) > step : i > 0)),
  );
}

function recordStep(line: string, parse: (l: string) => { step?: number } | null): number {
  try {
    const step = parse(line)?.step;
    return typeof step === 'number' ? step : -Infinity;
  } catch {
    return Infinity; // a torn line: it and what follows go
  }
}

function fimlogStep(line: string): { step?: number } | null {
  const m = / (?:step|epoch) .*?\bstep=(\d+)/.exec(line);
  return m ? { step: Number(m[1]) } : null;
}

/** Bytes of the lines before the first one `past` says to drop. */
function prefixBytes(file: string, past: (line: string, index: number) => boolean): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return 0;
  }
  let bytes = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const complete = i < lines.length - 1;
    if (!complete || past(line, i)) break;
    bytes += Buffer.byteLength(line, 'utf8') + 1;
  }
  return bytes;
}

async function resumeLocked(
  runDir: string,
  config: RunConfig,
  lock: Lock,
  opts: { backend?: BackendRequest; logEvery?: number },
  hooks: TrainHooks,
  signal?: AbortSignal,
): Promise<RunSummary> {
  // A run from an older version killed before its status.json existed has only its config.
  const status = readJsonFile<RunStatus>(runFile(runDir, 'status')) ?? {
    state: 'incomplete',
    startedAt: config.createdAt,
    updatedAt: config.createdAt,
    epoch: 0,
    step: 0,
    totalSteps: stepsPerEpoch(config.trainSamples, config.batchSize) * config.epochs,
  };
  if (status.state === 'completed') throw new InputError(`run ${runDir} already completed all ${config.epochs} epochs`);
  // A `running` status.json does not stop a resume: every writer holds the run's lock while it
  // trains, and this process holds it now, so whoever wrote that status is gone (killed, or on a
  // host whose stale lock the user removed).
  const notes: string[] = [];
  const swept = sweepRunLeftovers(runDir);
  if (swept.length) notes.push(`removed ${swept.length} temp file(s) left by an interrupted writer: ${swept.join(', ')}`);
  const ckptName = newestUsableCheckpoint(runDir, notes);
  const backend = await initBackend(opts.backend ?? backendRequestFrom());
  const data = limitSplits(await loadDataset(config.dataset, config.dataDir), config.trainSamples, config.testSamples);
  if (data.train.count !== config.trainSamples) {
    throw new InputError(`the dataset now has ${data.train.count} training samples but the run used ${config.trainSamples}`);
  }
  let model: tfl.LayersModel;
  const optimizer = new Adam(config.learningRate);
  let start: Session['start'] = { epoch: 0, epochStep: 0, step: 0, trainSeconds: 0, trainSamplesSeen: 0 };
  let ckpt: LoadedCheckpoint | null = null;
  if (ckptName) {
    try {
      ckpt = readCheckpoint(runDir, ckptName);
    } catch (e) {
      throw new InputError(`run ${runDir}: checkpoint ${ckptName} cannot be read: ${errorMessage(e)}`);
    }
    model = await loadModelFiles(ckpt.files);
    validateModel(model, config.model, { imageShape: data.train.imageShape, numClasses: data.train.numClasses });
    const opt = readOptimizerState(ckpt);
    optimizer.setState(opt);
    tf.dispose([...opt.m, ...opt.v]);
    start = {
      epoch: ckpt.state.epoch,
      epochStep: ckpt.state.epochStep,
      step: ckpt.state.step,
      trainSeconds: ckpt.state.trainSeconds,
      trainSamplesSeen: ckpt.state.trainSamplesSeen,
    };
  } else {
    // Killed before the first checkpoint: start over with the same seed (same initial weights).
    const def = await resolveDefinition(
      config.model,
      { inputShape: data.train.imageShape, numClasses: data.train.numClasses },
      config.modelOptions,
    );
    model = (await buildModel(def, { imageShape: data.train.imageShape, numClasses: data.train.numClasses, seed: config.seed })).model;
  }
  rewindLogs(runDir, ckpt);
  // The last epoch's results, for the summary of a run killed after its final checkpoint.
  const lastEpoch =
    readMetrics(runDir)
      .records.filter((r): r is EpochMetrics => r.kind === 'epoch' && r.epoch === start.epoch)
      .pop() ?? null;
  const writer = RunWriter.reopen(runDir, status, lock, hooks.onLog);
  const session: Session = {
    config,
    data,
    model,
    optimizer,
    writer,
    backend,
    start,
    wallStart: Date.now(),
    lastCheckpoint: ckpt?.name ?? null,
    lastEpochMetrics: lastEpoch,
  };
  return runSession(session, opts.logEvery ?? DEFAULT_LOG_EVERY, hooks, signal, () => {
    hooks.onStart?.(runDir, config, backend, notes);
    for (const n of notes) writer.log('warn', { msg: n });
    writer.log('info', {
      msg: `resumed from ${ckpt?.name ?? 'the start (no checkpoint yet)'} at epoch ${start.epoch + 1} step ${start.step}`,
    });
  });
}

export function validateRequest(req: TrainRequest): void {
  const bad = (m: string) => {
    throw new RangeError(m);
  };
  if (!(req.mu >= 0) || !Number.isFinite(req.mu)) bad(`--mu must be a finite number ≥ 0 (got ${req.mu})`);
  if (req.labelSmoothing !== undefined && !(req.labelSmoothing >= 0 && req.labelSmoothing < 1))
    bad(`--label-smoothing must be in [0, 1) (got ${req.labelSmoothing})`);
  if (!Number.isInteger(req.epochs) || req.epochs < 1) bad(`--epochs must be a positive integer (got ${req.epochs})`);
  if (!Number.isInteger(req.batchSize) || req.batchSize < 1) bad(`--batch must be a positive integer (got ${req.batchSize})`);
  if (!(req.learningRate > 0) || !Number.isFinite(req.learningRate)) bad(`--lr must be a positive number (got ${req.learningRate})`);
  if (!Number.isInteger(req.seed)) bad(`--seed must be an integer (got ${req.seed})`);
  if (req.defence) {
    validateDefence(req.defence);
    if (req.mu !== 0) bad(`--mu is the trace defence's weight; a run with --defence ${req.defence.kind} has μ = 0 (got ${req.mu})`);
    if (req.adversarialTraining) bad(`--defence ${req.defence.kind} and --adversarial-training are separate defences; choose one`);
  }
  for (const [k, v] of [
    ['--limit-train', req.limitTrain],
    ['--limit-test', req.limitTest],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) bad(`${k} must be a positive integer (got ${v})`);
  }
}

interface StepOut {
  /** [loss, ce, traceGs, lambdaMaxGs, correct] summed over the batch (loss and ce as batch means × n). */
  sums: tf.Tensor1D;
}

/**
 * One optimiser step. Metrics are accumulated on the device and read only every `logEvery` steps,
 * so the hot loop makes no synchronous reads (what stalls a GPU pipeline).
 */
function makeStep(model: tfl.LayersModel, optimizer: Adam, cfg: RunConfig) {
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const defence = makeDefence(model, cfg.defence);
  const fusedLoss = tf.getKernel(TRACE_LOSS, tf.getBackend()) !== undefined;
  return (x: tf.Tensor4D, y: tf.Tensor1D, ctx: { seed: number; step: number }): StepOut => {
    let sums: tf.Tensor1D | undefined;
    // A defence's work that needs no weight gradient runs before the tape opens (defence.ts).
    const prepared = defence?.prepare(x, y, ctx);
    const { grads } = tf.variableGrads(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor2D;
      if (fusedLoss && !prepared) {
        // One op for the loss and the metrics below where the backend has it (kernels/TraceLoss.ts);
        // a defence's penalty is added to the composed loss instead, whose metrics include it.
        const [loss, metrics] = traceLoss(logits, y, { mu: cfg.mu, labelSmoothing: cfg.labelSmoothing ?? 0, cap: LOG_INV_P_CAP });
        sums = tf.keep(metrics);
        return loss;
      }
      const parts = defendedLoss(logits, y, { mu: cfg.mu, labelSmoothing: cfg.labelSmoothing });
      const ce = parts.ce;
      const loss = prepared ? tf.add<tf.Scalar>(parts.loss, prepared.penalty(logits)) : parts.loss;
      sums = tf.keep(
        tf.tidy(() => {
          const n = logits.shape[0];
          const lse = tf.logSumExp(logits, 1, true);
          const logInvP = tf.minimum(tf.sub(lse, logits), LOG_INV_P_CAP);
          const trace = tf.sum(tf.exp(logInvP));
          const lmax = tf.sum(tf.exp(tf.max(logInvP, 1)));
          const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
          return tf.stack([tf.mul(loss, n), tf.mul(ce, n), trace, lmax, correct]) as tf.Tensor1D;
        }),
      );
      return loss;
    }, vars);
    prepared?.dispose();
    optimizer.applyGradients(
      vars,
      vars.map((v) => grads[v.name]!),
    );
    tf.dispose(grads);
    return { sums: sums! };
  };
}

async function evaluateTest(
  model: tfl.LayersModel,
  test: Dataset,
): Promise<Pick<EpochMetrics, 'testAccuracy' | 'testCe' | 'testMeanTraceGs' | 'testMedianTraceGs' | 'testMeanLambdaMaxGs'>> {
  const logits = predictLogits(model, test);
  const s = outputStats(logits, test.numClasses, test.labels);
  let correct = 0;
  for (let i = 0; i < test.count; i++) if (s.predicted[i] === test.labels[i]) correct++;
  return {
    testAccuracy: correct / test.count,
    testCe: mean(s.ce!),
    testMeanTraceGs: mean(s.traceGs),
    testMedianTraceGs: median(s.traceGs),
    testMeanLambdaMaxGs: mean(s.lambdaMaxGs),
  };
}

/**
 * The first metric of a record that is not finite, or null. A loss or a statistic that is
 * infinite or NaN means the run diverged (an lr of 1e30 gives a finite-looking loss with an
 * infinite test tr G_s): it must not end as `completed`.
 */
function nonFinite(rec: Record<string, unknown>, keys: string[]): [string, number] | null {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'number' && !Number.isFinite(v)) return [k, v];
  }
  return null;
}

const STEP_CHECKED = ['loss', 'ce', 'traceGs', 'lambdaMaxGs', 'accuracy'];
const EPOCH_CHECKED = [
  'trainLoss',
  'trainCe',
  'trainAccuracy',
  'trainTraceGs',
  'testAccuracy',
  'testCe',
  'testMeanTraceGs',
  'testMedianTraceGs',
  'testMeanLambdaMaxGs',
];
const METRIC_WORDS: Record<string, string> = {
  loss: 'loss',
  ce: 'cross-entropy',
  traceGs: 'tr G_s',
  lambdaMaxGs: 'λmax(G_s)',
  accuracy: 'accuracy',
  trainLoss: 'loss',
  trainCe: 'cross-entropy',
  trainAccuracy: 'training accuracy',
  trainTraceGs: 'tr G_s',
  testAccuracy: 'test accuracy',
  testCe: 'test cross-entropy',
  testMeanTraceGs: 'test tr G_s mean',
  testMedianTraceGs: 'test tr G_s median',
  testMeanLambdaMaxGs: 'test λmax(G_s) mean',
};

/**
 * Runs a session from its first write to its last, and releases the run's lock. Whatever fails
 * after the run directory exists (an allocation, a full disk, a hook) ends the run as `failed`
 * with the reason, never leaves it `running`.
 */
async function runSession(
  s: Session,
  logEvery: number,
  hooks: TrainHooks,
  signal: AbortSignal | undefined,
  begin: () => void,
): Promise<RunSummary> {
  try {
    try {
      begin();
    } catch (e) {
      failRun(s, e);
      throw e;
    }
    return await runLoop(s, logEvery, hooks, signal);
  } finally {
    s.writer.close();
  }
}

/** Ends a session as failed after an unexpected error (what can still be written is). */
function failRun(s: Session, e: unknown): void {
  const msg = `training failed: ${errorMessage(e)}`;
  try {
    s.writer.log('error', { msg });
  } catch {
    // The run directory itself may be the problem (disk full); the status matters more.
  }
  try {
    const summary = summaryOf(s, 'failed', msg, 0, 0);
    s.writer.summary(summary);
    s.writer.updateStatus({ state: 'failed', message: msg, ...(s.lastCheckpoint ? { latestCheckpoint: s.lastCheckpoint } : {}) });
  } catch {
    // as above: the original error is what the caller reports
  }
}

function summaryOf(s: Session, state: RunState, message: string | undefined, trainSeconds: number, samplesSeen: number): RunSummary {
  const m = s.lastEpochMetrics;
  const { config } = s;
  return {
    runDir: s.writer.dir,
    name: config.name,
    state,
    model: config.model,
    dataset: config.dataset,
    mu: config.mu,
    epochs: config.epochs,
    epochsCompleted: m?.epoch ?? s.start.epoch,
    testAccuracy: m?.testAccuracy ?? null,
    testMeanTraceGs: m?.testMeanTraceGs ?? null,
    testMedianTraceGs: m?.testMedianTraceGs ?? null,
    testMeanLambdaMaxGs: m?.testMeanLambdaMaxGs ?? null,
    backend: s.backend.name,
    samplesPerSecond: trainSeconds > 0 ? samplesSeen / trainSeconds : null,
    wallSeconds: (Date.now() - s.wallStart) / 1000,
    checkpoint: s.lastCheckpoint,
    ...(message ? { message } : {}),
  };
}

async function runLoop(s: Session, logEvery: number, hooks: TrainHooks, signal?: AbortSignal): Promise<RunSummary> {
  const { config, data, model, optimizer, writer } = s;
  const train = data.train;
  const epochSteps = stepsPerEpoch(train.count, config.batchSize);
  const totalSteps = epochSteps * config.epochs;
  const size = imageSize(train);
  let globalStep = s.start.step;
  let trainSeconds = s.start.trainSeconds;
  let samplesSeen = s.start.trainSamplesSeen;
  let lastLoss: number | undefined;

  const finish = (state: RunState, message?: string): RunSummary => {
    const summary = summaryOf(s, state, message, trainSeconds, samplesSeen);
    writer.summary(summary);
    writer.updateStatus({ state, ...(message ? { message } : {}), ...(s.lastCheckpoint ? { latestCheckpoint: s.lastCheckpoint } : {}) });
    return summary;
  };

  const saveCheckpoint = async (epoch: number, epochStep: number) => {
    const name = await writeCheckpoint(writer.dir, model, optimizer, {
      epoch,
      epochStep,
      step: globalStep,
      trainSeconds,
      trainSamplesSeen: samplesSeen,
      logs: writer.logSizes(),
    });
    s.lastCheckpoint = name;
    pruneCheckpoints(writer.dir, KEEP_CHECKPOINTS, [name]);
    writer.updateStatus({ latestCheckpoint: name, epoch, step: globalStep });
    return name;
  };

  /** Stops the run as diverged: the record is not written, the last good checkpoint is kept. */
  const diverged = (bad: [string, number], epoch: number): never => {
    const keep = s.lastCheckpoint ? `the last good checkpoint ${s.lastCheckpoint} is kept` : 'no checkpoint had been written yet';
    const msg = `${METRIC_WORDS[bad[0]] ?? bad[0]} became ${bad[1]} at epoch ${epoch + 1}, step ${globalStep}; training stopped and ${keep}. Try a lower --lr or --mu.`;
    writer.log('error', { msg });
    const summary = finish('failed', msg);
    throw new TrainingError(msg, summary);
  };

  try {
    writer.updateStatus({
      totalSteps,
      step: globalStep,
      epoch: s.start.epoch,
      ...(s.lastCheckpoint ? { latestCheckpoint: s.lastCheckpoint } : {}),
    });
    const step = makeStep(model, optimizer, config);
    const transform: BatchTransform | null = makeBatchTransform(config, model);
    // A batch larger than the training set is one step over all of it: allocate no more.
    const xBuf = new Float32Array(Math.min(config.batchSize, train.count) * size);
    for (let epoch = s.start.epoch; epoch < config.epochs; epoch++) {
      const order = epochOrder(train.count, config.seed, epoch);
      const firstStep = epoch === s.start.epoch ? s.start.epochStep : 0;
      let acc: tf.Tensor1D = tf.zeros([5]);
      let epochAcc: tf.Tensor1D = tf.zeros([5]);
      let accSamples = 0;
      let epochSamples = 0;
      let intervalStart = performance.now();
      let intervalTrain = 0;
      const epochStart = performance.now();
      let epochTrainSeconds = 0;
      for (let es = firstStep; es < epochSteps; es++) {
        if (signal?.aborted) {
          tf.dispose([acc, epochAcc]);
          const name = await saveCheckpoint(epoch, es);
          writer.log('info', {
            msg: `stopped by the user at epoch ${epoch + 1} step ${es}/${epochSteps}; checkpoint ${name}; continue with fim train --resume`,
          });
          return finish('stopped', `stopped at epoch ${epoch + 1}, step ${es}/${epochSteps}; resume with --resume`);
        }
        const t0 = performance.now();
        const idx = order.subarray(es * config.batchSize, Math.min((es + 1) * config.batchSize, train.count));
        const n = idx.length;
        const xData = batchPixels(train, idx, xBuf.subarray(0, n * size));
        const labels = new Int32Array(n);
        for (let i = 0; i < n; i++) labels[i] = train.labels[idx[i]!]!;
        const out = tf.tidy(() => {
          let x = tf.tensor4d(xData, [n, ...train.imageShape]);
          const y = tf.tensor1d(labels, 'int32');
          if (transform) x = transform(x, y, { epoch, step: globalStep, seed: config.seed });
          return step(x, y, { seed: config.seed, step: globalStep }).sums;
        });
        const nextAcc = tf.add(acc, out);
        const nextEpochAcc = tf.add(epochAcc, out);
        tf.dispose([acc, epochAcc, out]);
        acc = nextAcc as tf.Tensor1D;
        epochAcc = nextEpochAcc as tf.Tensor1D;
        accSamples += n;
        epochSamples += n;
        globalStep++;
        const dt = (performance.now() - t0) / 1000;
        trainSeconds += dt;
        epochTrainSeconds += dt;
        intervalTrain += dt;
        samplesSeen += n;

        const last = es === epochSteps - 1;
        if (globalStep % logEvery === 0 || last) {
          const [lossSum, ceSum, traceSum, lmaxSum, correct] = Array.from(await acc.data());
          const rec: StepMetrics = {
            kind: 'step',
            time: new Date().toISOString(),
            epoch: epoch + 1,
            step: globalStep,
            epochStep: es + 1,
            epochSteps,
            loss: lossSum! / accSamples,
            ce: ceSum! / accSamples,
            traceGs: traceSum! / accSamples,
            lambdaMaxGs: lmaxSum! / accSamples,
            accuracy: correct! / accSamples,
            samplesPerSecond: accSamples / Math.max(intervalTrain, 1e-9),
          };
          const bad = nonFinite(rec as unknown as Record<string, unknown>, STEP_CHECKED);
          if (bad) {
            tf.dispose([acc, epochAcc]);
            diverged(bad, epoch);
          }
          lastLoss = rec.loss;
          writer.metric(rec);
          writer.log('step', {
            epoch: rec.epoch,
            step: rec.step,
            epoch_step: `${rec.epochStep}/${epochSteps}`,
            loss: rec.loss,
            ce: rec.ce,
            trace_gs: rec.traceGs,
            lmax_gs: rec.lambdaMaxGs,
            acc: rec.accuracy,
            samples_per_s: Math.round(rec.samplesPerSecond),
          });
          acc.dispose();
          acc = tf.zeros([5]);
          accSamples = 0;
          intervalTrain = 0;
          intervalStart = performance.now();
          writer.updateStatus({ epoch, step: globalStep });
        }
        hooks.onProgress?.({
          runDir: writer.dir,
          phase: 'train',
          epoch: epoch + 1,
          epochs: config.epochs,
          epochStep: es + 1,
          epochSteps,
          step: globalStep,
          totalSteps,
          ...(lastLoss !== undefined ? { loss: lastLoss } : {}),
          samplesPerSecond: samplesSeen / Math.max(trainSeconds, 1e-9),
        });
        // Let signals (Ctrl-C) and RPC messages in between steps.
        await new Promise<void>((r) => setImmediate(r));
      }
      void intervalStart;

      hooks.onProgress?.({
        runDir: writer.dir,
        phase: 'eval',
        epoch: epoch + 1,
        epochs: config.epochs,
        epochStep: epochSteps,
        epochSteps,
        step: globalStep,
        totalSteps,
        samplesPerSecond: samplesSeen / Math.max(trainSeconds, 1e-9),
      });
      const [lossSum, ceSum, traceSum, , correct] = Array.from(await epochAcc.data());
      tf.dispose([acc, epochAcc]);
      const test = await evaluateTest(model, data.test);
      const em: EpochMetrics = {
        kind: 'epoch',
        time: new Date().toISOString(),
        epoch: epoch + 1,
        step: globalStep,
        trainLoss: lossSum! / Math.max(epochSamples, 1),
        trainCe: ceSum! / Math.max(epochSamples, 1),
        trainAccuracy: correct! / Math.max(epochSamples, 1),
        trainTraceGs: traceSum! / Math.max(epochSamples, 1),
        ...test,
        seconds: (performance.now() - epochStart) / 1000,
        samplesPerSecond: epochSamples / Math.max(epochTrainSeconds, 1e-9),
      };
      const badEpoch = nonFinite(em as unknown as Record<string, unknown>, EPOCH_CHECKED);
      if (badEpoch) diverged(badEpoch, epoch);
      s.lastEpochMetrics = em;
      writer.metric(em);
      hooks.onEpoch?.(em);
      writer.log('epoch', {
        epoch: em.epoch,
        step: em.step,
        loss: em.trainLoss,
        ce: em.trainCe,
        acc: em.trainAccuracy,
        trace_gs: em.trainTraceGs,
        test_acc: em.testAccuracy,
        test_ce: em.testCe,
        test_trace_gs_mean: em.testMeanTraceGs,
        test_trace_gs_median: em.testMedianTraceGs,
        test_lmax_gs_mean: em.testMeanLambdaMaxGs,
        seconds: Number(em.seconds.toFixed(1)),
        samples_per_s: Math.round(em.samplesPerSecond),
      });
      await saveCheckpoint(epoch + 1, 0);
    }
    return finish('completed');
  } catch (e) {
    if (e instanceof TrainingError) throw e;
    const msg = `training failed: ${errorMessage(e)}`;
    try {
      writer.log('error', { msg });
    } catch {
      // The run directory itself may be the problem (disk full); the status matters more.
    }
    try {
      finish('failed', msg);
    } catch {
      // as above: the original error is what the caller reports
    }
    throw e;
  }
}
