/**
 * Long engine jobs (training, inspection, attack sweeps) as VS Code sees them: a cancellable
 * notification with progress, an entry for "FIM: Stop Job", live progress for the runs tree, and
 * a clear message when the job fails or its engine dies.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ResponseError, type RequestType } from 'vscode-jsonrpc';
import { EngineErrorCode, type JobParams, type JobProgressParams } from '../protocol/engine';
import type { Engine } from './engine';
import { EngineCrashedError, newJobId } from './engineProcess';

export type JobKind =
  | 'train'
  | 'resume'
  | 'inspect'
  | 'sweep'
  | 'distance'
  | 'transfer'
  | 'worst-case'
  | 'complete'
  | 'reproduce'
  | 'import'
  | 'export'
  | 'autoattack';

export interface RunningJob {
  jobId: string;
  kind: JobKind;
  title: string;
  runDir?: string;
  progress?: JobProgressParams;
  cancel(): void;
}

/** A user-facing sentence for a failed job. */
export function describeJobError(e: unknown): string {
  if (e instanceof EngineCrashedError) return e.message;
  if (e instanceof ResponseError) {
    if (e.code === EngineErrorCode.InputError || e.code === EngineErrorCode.Cancelled) return e.message;
    return `the engine failed: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export class Jobs implements vscode.Disposable {
  private readonly jobs = new Map<string, RunningJob>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly engine: Engine) {
    this.subs.push(
      engine.onProgress((p) => {
        const job = this.jobs.get(p.jobId);
        if (!job) return;
        job.progress = p;
        if (p.runDir) job.runDir = p.runDir;
        this.changed.fire();
      }),
      engine.onJobStarted((p) => {
        const job = this.jobs.get(p.jobId);
        if (job) job.runDir = p.runDir;
        this.changed.fire();
      }),
    );
  }

  list(): RunningJob[] {
    return [...this.jobs.values()];
  }

  /** A job that does not run in the engine (a `fim reproduce` process), listed for FIM: Stop Job. */
  register(job: RunningJob): vscode.Disposable {
    this.jobs.set(job.jobId, job);
    this.changed.fire();
    return new vscode.Disposable(() => {
      if (this.jobs.get(job.jobId) === job) this.jobs.delete(job.jobId);
      this.changed.fire();
    });
  }

  /** Live progress of the job writing `runDir`, if any. */
  progressFor(runDir: string): JobProgressParams | undefined {
    const r = path.resolve(runDir);
    for (const j of this.jobs.values()) if (j.runDir && path.resolve(j.runDir) === r) return j.progress;
    return undefined;
  }

  /**
   * Runs one job with a cancellable progress notification. Resolves with the result, or
   * undefined after showing why it failed.
   */
  async run<P extends JobParams, R>(
    kind: JobKind,
    title: string,
    type: RequestType<P, R, void>,
    params: Omit<P, 'jobId'>,
  ): Promise<R | undefined> {
    const jobId = newJobId(kind);
    const full = { ...params, jobId } as P;
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `FIM: ${title}`, cancellable: true },
      async (progress, token) => {
        const cts = new vscode.CancellationTokenSource();
        const job: RunningJob = { jobId, kind, title, cancel: () => cts.cancel() };
        if ('runDir' in params && typeof params.runDir === 'string') job.runDir = params.runDir;
        this.jobs.set(jobId, job);
        this.changed.fire();
        let reported = 0;
        const sub = this.engine.onProgress((p) => {
          if (p.jobId !== jobId) return;
          const increment = p.fraction !== undefined ? Math.max(0, p.fraction * 100 - reported) : undefined;
          if (p.fraction !== undefined) reported = Math.max(reported, p.fraction * 100);
          progress.report({ message: p.message, ...(increment ? { increment } : {}) });
        });
        const tokenSub = token.onCancellationRequested(() => {
          progress.report({ message: 'stopping (writing a checkpoint)…' });
          cts.cancel();
        });
        try {
          progress.report({ message: 'starting the engine…' });
          return await this.engine.client.job(type, full, cts.token);
        } catch (e) {
          if (e instanceof ResponseError && e.code === EngineErrorCode.Cancelled) {
            void vscode.window.showInformationMessage(`FIM: ${title} stopped; nothing was written.`);
            return undefined;
          }
          const msg = describeJobError(e);
          this.engine.output.error(`${title}: ${msg}`);
          const expected = e instanceof ResponseError && (e.code === EngineErrorCode.InputError || e.code === EngineErrorCode.Cancelled);
          const actions = e instanceof EngineCrashedError || !expected ? ['Show Log'] : [];
          void vscode.window.showErrorMessage(`FIM: ${title} failed: ${msg}`, ...actions).then((a) => a && this.engine.output.show());
          return undefined;
        } finally {
          sub.dispose();
          tokenSub.dispose();
          cts.dispose();
          this.jobs.delete(jobId);
          this.changed.fire();
        }
      },
    );
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
