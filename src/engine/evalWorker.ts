/**
 * The engine's evaluation worker (bundled as dist/evalWorker.js): one worker thread per
 * evaluation job (src/engine/evalJobs.ts). The attacks run long synchronous loops; in a worker
 * they leave the engine process's event loop free, so its progress notifications flow, a stop
 * request is received at once, and training and evaluations run side by side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Cancelled } from './attacks/attack';
import { backendRequestFrom, initBackend } from './backend/select';
import { isInputError } from './errors';
import type { TrustPolicy } from './trust';
import { EVAL_JOBS, type EvalWorkerData, type EvalWorkerMessage } from './evalJobs';

const data = workerData as EvalWorkerData;
const stop = new Int32Array(data.stop);
const send = (m: EvalWorkerMessage) => parentPort!.postMessage(m);
/**
 * The jobs only read `signal.aborted` between batches (src/engine/attacks): a view of the shared
 * stop flag answers that without the event loop, which a synchronous attack loop never yields to.
 */
const signal = {
  get aborted() {
    return Atomics.load(stop, 0) === 1;
  },
} as AbortSignal;

async function main(): Promise<void> {
  try {
    await initBackend(backendRequestFrom(data.backend));
    const job = EVAL_JOBS[data.kind] as (
      p: unknown,
      progress: (p: unknown) => void,
      s: AbortSignal,
      trust: TrustPolicy,
    ) => Promise<unknown>;
    const result = await job(data.params, (progress) => send({ type: 'progress', progress: progress as never }), signal, data.trust);
    send({ type: 'result', result });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    send({
      type: 'error',
      message: err.message,
      ...(err.stack ? { stack: err.stack } : {}),
      input: isInputError(e),
      cancelled: e instanceof Cancelled,
    });
  }
}

void main();
