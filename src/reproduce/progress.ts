import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../runs/atomic';
import {
  REPRODUCE_FILES,
  REPRODUCE_FORMAT_VERSION,
  type ReproduceMode,
  type ReproduceProgress,
  type ReproduceStageProgress,
  type StageRecord,
} from '../runs/reproduce';
import type { ReproduceHooks } from './orchestrate';
import type { Stage } from './plan';

/** Between stage boundaries, progress.json is rewritten at most this often. */
export const PROGRESS_WRITE_MS = 2000;

const STATUS_OF: Record<StageRecord['status'], ReproduceStageProgress['status']> = {
  started: 'interrupted',
  done: 'done',
  failed: 'failed',
};

/**
 * Wraps a reproduction's hooks so that progress.json (ReproduceProgress, src/runs/reproduce.ts)
 * follows them: the stage list with each stage's status, and the running stage's message and
 * fraction. `finish` writes the invocation's end state.
 */
export function trackProgress(
  outDir: string,
  mode: ReproduceMode,
  hooks: ReproduceHooks,
  now: () => number = Date.now,
): { hooks: ReproduceHooks; finish(state: 'finished' | 'stopped'): void } {
  const file = path.join(outDir, REPRODUCE_FILES.progress);
  const progress: ReproduceProgress = {
    formatVersion: REPRODUCE_FORMAT_VERSION,
    mode,
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date(now()).toISOString(),
    updatedAt: new Date(now()).toISOString(),
    state: 'running',
    stages: [],
  };
  let lastWrite = 0;
  const write = (force: boolean) => {
    if (!force && now() - lastWrite < PROGRESS_WRITE_MS) return;
    lastWrite = now();
    progress.updatedAt = new Date(lastWrite).toISOString();
    writeJsonAtomic(file, progress);
  };
  const stage = (key: string) => progress.stages.find((s) => s.key === key);
  return {
    hooks: {
      ...hooks,
      onStages(stages: Stage[], reusable: number, done?: (s: Stage) => boolean) {
        progress.stages = stages.map((s) => ({ key: s.key, kind: s.kind, title: s.title, status: done?.(s) ? 'reused' : 'pending' }));
        write(true);
        hooks.onStages?.(stages, reusable, done);
      },
      onStageStart(s, index, total, note) {
        const p = stage(s.key);
        if (p) p.status = 'running';
        progress.current = { key: s.key, index, message: note || 'starting', fraction: 0 };
        write(true);
        hooks.onStageStart?.(s, index, total, note);
      },
      onStageProgress(s, message, fraction) {
        if (progress.current?.key === s.key) progress.current = { ...progress.current, message, fraction };
        write(false);
        hooks.onStageProgress?.(s, message, fraction);
      },
      onStageEnd(s, record, index, total) {
        const p = stage(s.key);
        if (p) {
          p.status = STATUS_OF[record.status];
          p.wallSeconds = record.wallSeconds;
          if (record.message) p.message = record.message;
        }
        delete progress.current;
        write(true);
        hooks.onStageEnd?.(s, record, index, total);
      },
    },
    finish(state) {
      progress.state = state;
      delete progress.current;
      // Stages that never started because a training they need did not finish.
      for (const s of progress.stages) if (s.status === 'pending' && state === 'finished') s.status = 'waiting';
      write(true);
    },
  };
}
