/**
 * Runs one evaluation job in a worker thread (src/engine/evalWorker.ts) and relays its progress.
 * Stopping sets the worker's shared stop flag, which the attacks check between batches; a worker
 * still busy after STOP_GRACE_MS (one long batch) is terminated. Nothing is written either way:
 * evaluations write their files only at the end.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Cancelled } from './attacks/attack';
import { InputError } from './errors';
import type { TrustPolicy } from './trust';
import type { EvalJobKind, EvalJobParams, EvalJobResult, EvalWorkerData, EvalWorkerMessage, ProgressSink } from './evalJobs';

export const STOP_GRACE_MS = 5000;

/** The worker script: the bundle beside dist/engine.js, or the TypeScript source under tsx (tests). */
function startWorker(data: EvalWorkerData): Worker {
  if (__filename.endsWith('.ts')) {
    const tsx = createRequire(__filename).resolve('tsx/cjs/api');
    const entry = path.join(__dirname, 'evalWorker.ts');
    return new Worker(`require(${JSON.stringify(tsx)}).require(${JSON.stringify(entry)}, ${JSON.stringify(__filename)});`, {
      eval: true,
      workerData: data,
      stdout: true,
    });
  }
  return new Worker(path.join(__dirname, 'evalWorker.js'), { workerData: data, stdout: true });
}

export function runEvalInWorker<K extends EvalJobKind>(
  kind: K,
  params: EvalJobParams<K>,
  backend: string,
  trust: TrustPolicy,
  progress: ProgressSink,
  signal: AbortSignal,
): Promise<EvalJobResult<K>> {
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const worker = startWorker({ kind, params, backend, trust, stop });
  // The worker's stdout is not the protocol channel: what it prints goes to the engine's log.
  worker.stdout.pipe(process.stderr);
  return new Promise<EvalJobResult<K>>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      f();
      void worker.terminate();
    };
    const onAbort = () => {
      Atomics.store(flag, 0, 1);
      timer = setTimeout(() => finish(() => reject(new Cancelled())), STOP_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
    worker.on('message', (m: EvalWorkerMessage) => {
      if (m.type === 'progress') progress(m.progress);
      else if (m.type === 'result') finish(() => resolve(m.result as EvalJobResult<K>));
      else
        finish(() => {
          if (m.cancelled) reject(new Cancelled());
          else if (m.input) reject(new InputError(m.message));
          else reject(Object.assign(new Error(m.message), m.stack ? { stack: m.stack } : {}));
        });
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`the evaluation worker exited with code ${code} before answering`))));
  });
}
