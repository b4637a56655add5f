import { writeJsonAtomic } from './atomic';
import { acquireRunLock, RunLockedError } from './lock';
import { runFile } from './paths';
import { readJsonFile } from './reader';
import type { RunStatus } from './types';

/**
 * A `running` run owned by a dead engine would otherwise look alive until the next reader checks
 * its pid; mark it `incomplete` with the reason, atomically (readers see the old or new status).
 * Returns whether the status was changed. Runs owned by another process are left alone: the
 * run lock is taken first (the dead owner's is stale), so a run that a new process has resumed
 * meanwhile is not touched.
 */
export function markRunIncomplete(runDir: string, deadPid: number | undefined, reason: string): boolean {
  const file = runFile(runDir, 'status');
  const before = readJsonFile<RunStatus>(file);
  if (!before || before.state !== 'running') return false;
  let lock;
  try {
    lock = acquireRunLock(runDir, 'marking it incomplete');
  } catch (e) {
    if (e instanceof RunLockedError) return false;
    throw e;
  }
  try {
    const status = readJsonFile<RunStatus>(file);
    if (!status || status.state !== 'running') return false;
    if (deadPid !== undefined && status.pid !== undefined && status.pid !== deadPid) return false;
    const next: RunStatus = { ...status, state: 'incomplete', updatedAt: new Date().toISOString(), message: reason };
    delete next.pid;
    writeJsonAtomic(file, next);
    return true;
  } finally {
    lock.release();
  }
}
