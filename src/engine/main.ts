/**
 * The engine process: JSON-RPC 2.0 over stdio (src/protocol/engine.ts), spawned by the VS Code
 * extension host. stdout is the protocol channel, so nothing else may write there: console output
 * and stray `process.stdout.write` calls (from libraries) are sent to stderr, which the extension
 * shows in its "FIM Engine" output channel.
 *
 * A backend that cannot start is reported as an `initialize` error, not a crash.
 */
import { protocolOut } from './stdio';
import {
  type CancellationToken,
  ErrorCodes,
  ResponseError,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import pkg from '../../package.json';
import {
  AttackSweep,
  CheckSetup,
  CompleteInspection,
  Distance,
  RunAutoAttack,
  EngineErrorCode,
  ExportModel,
  ImportModel,
  Initialize,
  Inspect,
  JobProgress,
  JobStarted,
  Log,
  PROTOCOL_VERSION,
  Resume,
  Shutdown,
  StopJob,
  Train,
  Transfer,
  WorstCase,
  type AttackInfo,
  type EngineInfo,
  type JobParams,
  type JobProgressParams,
  type TrainParams,
} from '../protocol/engine';
import type { BackendRequest } from '../protocol/backend';
import { validateParams, type ParamsMethod } from '../protocol/engineParams';
import { errorMessage } from '../shared/errors';
import { backendRequestFrom, initBackend } from './backend/select';
import { datasetLoaders } from './data/registry';
import { isInputError } from './errors';
import { listAttacks, resolveOptions } from './attacks/registry';
import { Cancelled } from './attacks/attack';
import { checkSetup } from './eval/engineJobs';
import { TABLE1_ATTACKS } from './eval/distance';
import type { EvalJobKind, EvalJobParams, EvalJobResult } from './evalJobs';
import { runEvalInWorker } from './evalThread';
import { exportRun } from './eval/exportRun';
import { importModel } from './train/importModel';
import { builtinDefinitions } from './models/builtin';
import { resume, train, type TrainHooks, type TrainRequest } from './train/trainer';
import { assertModelAllowed, assertPathAllowed, type TrustPolicy } from './trust';

const log = (msg: string) => process.stderr.write(`[engine ${new Date().toISOString()}] ${msg}\n`);

const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(protocolOut), {
  error: (m) => log(`rpc error: ${m}`),
  warn: (m) => log(`rpc warning: ${m}`),
  info: () => undefined,
  log: () => undefined,
});

// --- jobs -------------------------------------------------------------------------------------
const jobs = new Map<string, AbortController>();

/**
 * Whether the workspace is trusted, as `fim/initialize` said; untrusted until then. Untrusted, the
 * engine loads no model definition of the workspace and no path outside it (src/engine/trust.ts).
 */
let trust: TrustPolicy = { trusted: false, workspace: process.cwd() };

/** A request's params checked against its schema (src/protocol/engineParams.ts), or InvalidParams naming the field. */
function checked<M extends ParamsMethod>(method: M, params: unknown) {
  const r = validateParams(method, params);
  if (!r.ok) throw new ResponseError(ErrorCodes.InvalidParams, r.message);
  return r.value;
}

/** Turns an engine error into a JSON-RPC error the host can show as is. */
function toResponseError(e: unknown): ResponseError<unknown> {
  if (e instanceof ResponseError) return e;
  const msg = errorMessage(e);
  if (isInputError(e)) return new ResponseError(EngineErrorCode.InputError, msg);
  if (e instanceof Cancelled) return new ResponseError(EngineErrorCode.Cancelled, msg);
  const summary = (e as { summary?: unknown }).summary;
  log(`job failed: ${e instanceof Error ? (e.stack ?? msg) : msg}`);
  return new ResponseError(EngineErrorCode.EngineFailure, msg, summary ? { summary } : undefined);
}

/** Runs a job with an AbortSignal fed by $/cancelRequest and fim/stopJob. */
async function runJob<R>(params: JobParams, token: CancellationToken, work: (signal: AbortSignal) => Promise<R>): Promise<R> {
  if (typeof params?.jobId !== 'string' || !params.jobId) throw new ResponseError(EngineErrorCode.InputError, 'request has no jobId');
  if (jobs.has(params.jobId)) throw new ResponseError(EngineErrorCode.InputError, `job ${params.jobId} is already running`);
  const ac = new AbortController();
  jobs.set(params.jobId, ac);
  const sub = token.onCancellationRequested(() => ac.abort());
  try {
    return await work(ac.signal);
  } catch (e) {
    throw toResponseError(e);
  } finally {
    sub.dispose();
    jobs.delete(params.jobId);
  }
}

let backendRequest: BackendRequest = 'auto';

async function ensureBackend() {
  return initBackend(backendRequest);
}

function trainHooks(jobId: string): TrainHooks {
  let runDir: string | undefined;
  let lastSent = 0;
  return {
    onStart(dir, config, backend, notes) {
      runDir = dir;
      void conn.sendNotification(JobStarted, { jobId, runDir: dir, config, backend, notes });
    },
    onProgress(p) {
      // Progress arrives every step; a few updates a second are enough for a progress bar.
      const now = Date.now();
      const last = p.epochStep === p.epochSteps || p.phase === 'eval';
      if (!last && now - lastSent < 250) return;
      lastSent = now;
      const message =
        p.phase === 'eval'
          ? `epoch ${p.epoch}/${p.epochs}: evaluating on the test set`
          : `epoch ${p.epoch}/${p.epochs}, step ${p.epochStep}/${p.epochSteps}${p.loss === undefined ? '' : `, loss ${p.loss.toFixed(4)}`}, ${Math.round(p.samplesPerSecond)} samples/s`;
      void conn.sendNotification(JobProgress, {
        jobId,
        runDir: p.runDir,
        phase: p.phase,
        fraction: p.step / Math.max(p.totalSteps, 1),
        message,
        epoch: p.epoch,
        epochs: p.epochs,
        step: p.step,
        totalSteps: p.totalSteps,
        ...(p.loss === undefined ? {} : { loss: p.loss }),
        samplesPerSecond: p.samplesPerSecond,
      });
    },
    onLog(line) {
      void conn.sendNotification(Log, { jobId, ...(runDir ? { runDir } : {}), line });
    },
  };
}

function trainRequest(p: TrainParams): TrainRequest {
  const { jobId: _jobId, ...spec } = p;
  return { ...spec, backend: backendRequest, trust };
}

// --- evaluations (FIM inspection, attack sweeps) -----------------------------------------------
function attackInfo(): AttackInfo[] {
  return listAttacks().map((a) => ({
    name: a.name,
    title: a.title,
    norm: a.norm,
    kind: a.kind,
    budgetUnit: a.budgetUnit(resolveOptions(a)),
  }));
}

// --- handlers ---------------------------------------------------------------------------------
conn.onRequest(Initialize, async (raw) => {
  const params = checked('fim/initialize', raw);
  try {
    backendRequest = backendRequestFrom(params.backend);
  } catch (e) {
    throw new ResponseError(EngineErrorCode.InputError, errorMessage(e));
  }
  trust = { trusted: params.trusted === true, workspace: process.cwd() };
  let backend;
  try {
    backend = await ensureBackend();
  } catch (e) {
    throw toResponseError(e);
  }
  const info: EngineInfo = {
    protocolVersion: PROTOCOL_VERSION,
    engineVersion: pkg.version,
    pid: process.pid,
    node: process.version,
    backend,
    models: builtinDefinitions().map((b) => ({ name: b.name, description: b.description, defaultDataset: b.defaultDataset })),
    datasets: datasetLoaders().map((d) => ({ name: d.name, description: d.description, needsDataDir: d.needsDataDir })),
    attacks: attackInfo(),
    table1Attacks: [...TABLE1_ATTACKS],
  };
  log(
    `initialised: ${backend.name} backend, protocol ${PROTOCOL_VERSION}, pid ${process.pid}, workspace ${trust.trusted ? 'trusted' : `not trusted (restricted to built-in models and ${trust.workspace})`}`,
  );
  return info;
});

conn.onRequest(Train, async (raw, token) => {
  const params = checked('fim/train', raw);
  return runJob(params, token, async (signal) => {
    await ensureBackend();
    return { summary: await train(trainRequest(params), trainHooks(params.jobId), signal) };
  });
});

conn.onRequest(Resume, async (raw, token) => {
  const params = checked('fim/resume', raw);
  return runJob(params, token, async (signal) => {
    await ensureBackend();
    return { summary: await resume(params.runDir, { backend: backendRequest, trust }, trainHooks(params.jobId), signal) };
  });
});

/** An evaluation in its own worker thread (src/engine/evalThread.ts), its progress sent as notifications. */
function evalJob<K extends EvalJobKind>(
  kind: K,
  params: EvalJobParams<K> & JobParams,
  runDir: string,
  token: CancellationToken,
): Promise<EvalJobResult<K>> {
  const sink = (p: Omit<JobProgressParams, 'jobId' | 'runDir'>) =>
    void conn.sendNotification(JobProgress, { jobId: params.jobId, runDir, ...p });
  return runJob<EvalJobResult<K>>(params, token, (signal) =>
    ensureBackend().then(() => runEvalInWorker(kind, params, backendRequest, trust, sink, signal)),
  );
}

conn.onRequest(Inspect, async (raw, token) => {
  const params = checked('fim/inspect', raw);
  return evalJob('inspect', params, params.runDir, token);
});
conn.onRequest(AttackSweep, async (raw, token) => {
  const params = checked('fim/attackSweep', raw);
  return evalJob('sweep', params, params.runDir, token);
});
conn.onRequest(Distance, async (raw, token) => {
  const params = checked('fim/distance', raw);
  return evalJob('distance', params, params.runDir, token);
});
conn.onRequest(Transfer, async (raw, token) => {
  const params = checked('fim/transfer', raw);
  return evalJob('transfer', params, params.fromRunDir, token);
});
conn.onRequest(WorstCase, async (raw, token) => {
  const params = checked('fim/worstCase', raw);
  return evalJob('worstCase', params, params.runDir, token);
});
conn.onRequest(CompleteInspection, async (raw, token) => {
  const params = checked('fim/completeInspection', raw);
  return evalJob('completeInspection', params, params.runDir, token);
});
conn.onRequest(CheckSetup, async () => {
  try {
    return await checkSetup();
  } catch (e) {
    throw toResponseError(e);
  }
});

conn.onRequest(RunAutoAttack, async (raw, token) => {
  const params = checked('fim/autoattack', raw);
  return evalJob('autoattack', params, params.runDir, token);
});

conn.onRequest(ImportModel, async (raw, token) => {
  const params = checked('fim/import', raw);
  return runJob(params, token, async () => {
    assertModelAllowed(trust, params.model, 'the import request');
    assertPathAllowed(trust, params.storeDir, 'the run store');
    assertPathAllowed(trust, params.dataDir, 'the dataset directory');
    await ensureBackend();
    const { jobId: _jobId, ...req } = params;
    void conn.sendNotification(JobProgress, { jobId: params.jobId, phase: 'load', message: `importing ${params.model}` });
    return importModel({ ...req, backend: backendRequest });
  });
});

conn.onRequest(ExportModel, async (raw, token) => {
  const params = checked('fim/export', raw);
  return runJob(params, token, async () => {
    assertPathAllowed(trust, params.runDir, 'the run directory');
    assertPathAllowed(trust, params.out, 'the file to write');
    await ensureBackend();
    void conn.sendNotification(JobProgress, {
      jobId: params.jobId,
      runDir: params.runDir,
      phase: 'save',
      message: `writing ${params.out}`,
    });
    return exportRun({
      runDir: params.runDir,
      out: params.out,
      format: 'onnx',
      ...(params.inputLayout ? { inputLayout: params.inputLayout } : {}),
      backend: backendRequest,
    });
  });
});

conn.onRequest(StopJob, async (raw) => {
  const params = checked('fim/stopJob', raw);
  const ac = jobs.get(params.jobId);
  if (!ac) return { stopped: false };
  ac.abort();
  return { stopped: true };
});

let shuttingDown = false;
/** Stops every job (training writes a checkpoint) and exits once they have returned. */
async function shutdown(code: number, why: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`shutting down (${why}); ${jobs.size} job(s) running`);
  for (const ac of jobs.values()) ac.abort();
  const deadline = Date.now() + 30_000;
  while (jobs.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  process.exit(code);
}

conn.onRequest(Shutdown, async () => {
  setImmediate(() => void shutdown(0, 'shutdown request'));
});
// The host went away (window closed, extension host crashed): stop cleanly rather than linger.
conn.onClose(() => void shutdown(0, 'connection closed'));
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGINT', () => void shutdown(130, 'SIGINT'));
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? errorMessage(e)}`));

conn.listen();
log(`engine ${pkg.version} started (pid ${process.pid}, node ${process.version})`);
