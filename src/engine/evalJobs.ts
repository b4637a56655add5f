/**
 * The engine process's evaluation jobs by kind, shared by the process (src/engine/main.ts) and
 * its evaluation worker (src/engine/evalWorker.ts), so both name the same set.
 */
import type { ProgressSink } from './eval/engineJobs';
import type { TrustPolicy } from './trust';
import { autoAttackJob, completeInspectionJob, distanceJob, inspectJob, sweepJob, transferJob, worstCaseJob } from './eval/engineJobs';

export const EVAL_JOBS = {
  inspect: inspectJob,
  sweep: sweepJob,
  distance: distanceJob,
  transfer: transferJob,
  worstCase: worstCaseJob,
  completeInspection: completeInspectionJob,
  autoattack: autoAttackJob,
} as const;

export type EvalJobKind = keyof typeof EVAL_JOBS;
export type EvalJobParams<K extends EvalJobKind> = Parameters<(typeof EVAL_JOBS)[K]>[0];
export type EvalJobResult<K extends EvalJobKind> = Awaited<ReturnType<(typeof EVAL_JOBS)[K]>>;
export type { ProgressSink };

/** What the worker is started with. */
export interface EvalWorkerData {
  kind: EvalJobKind;
  params: unknown;
  backend: string;
  /** Workspace trust as the engine was told it (src/engine/trust.ts): the worker enforces it too. */
  trust: TrustPolicy;
  /** Int32 flag, 1 = stop: the worker's jobs run synchronous attack loops that cannot receive events. */
  stop: SharedArrayBuffer;
}

/** Messages worker → process. */
export type EvalWorkerMessage =
  | { type: 'progress'; progress: Parameters<ProgressSink>[0] }
  | { type: 'result'; result: unknown }
  | { type: 'error'; message: string; stack?: string; input: boolean; cancelled: boolean };
