/**
 * The engine child process and its JSON-RPC connection, with the crash policy of
 * vscode-languageclient (restart after a crash, but give up after too many crashes in a short
 * window). No `vscode` import: the extension wraps it, and the tests drive it under plain Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CancellationTokenSource,
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
  type MessageConnection,
  type NotificationType,
  type RequestType,
  type RequestType0,
} from 'vscode-jsonrpc/node';
import { markRunIncomplete } from '../runs/status';
import {
  Initialize,
  JobProgress,
  JobStarted,
  Log,
  PROTOCOL_VERSION,
  Shutdown,
  StopJob,
  type EngineInfo,
  type InitializeParams,
  type JobParams,
  type JobProgressParams,
  type JobStartedParams,
  type LogParams,
} from '../protocol/engine';

export interface EngineLaunch {
  /** The Node runtime (a `node` binary, or Electron with ELECTRON_RUN_AS_NODE=1). */
  command: string;
  /** The engine script (dist/engine.js) and any runtime flags before it. */
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Restart policy of vscode-languageclient's default error handler: restart after a crash unless
 * the engine crashed `maxRestarts + 1` times within `windowMs`.
 */
export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxRestarts = 4,
    readonly windowMs = 3 * 60_000,
  ) {}

  /** Records a crash at `now`; true when the engine should be restarted. */
  crashed(now = Date.now()): boolean {
    this.crashes.push(now);
    this.crashes = this.crashes.filter((t) => now - t <= this.windowMs);
    return this.crashes.length <= this.maxRestarts;
  }

  reset(): void {
    this.crashes = [];
  }
}

/** A job failed because the engine process exited under it. */
export class EngineCrashedError extends Error {
  constructor(
    message: string,
    readonly runDir: string | undefined,
    readonly runMarkedIncomplete: boolean,
  ) {
    super(message);
    this.name = 'EngineCrashedError';
  }
}

export type EngineState = 'stopped' | 'starting' | 'ready' | 'crashed' | 'failed';

export interface EngineEvents {
  onStderr?(text: string): void;
  onState?(state: EngineState, detail?: string): void;
  onProgress?(p: JobProgressParams): void;
  onJobStarted?(p: JobStartedParams): void;
  onLog?(p: LogParams): void;
  /** A job failed because the engine died; `restarting` says whether a new engine is coming up. */
  onJobLost?(jobId: string, error: EngineCrashedError): void;
  /**
   * Run directories whose status names `pid` as their running owner (the run store scanned), so
   * runs are marked incomplete even when the engine died before telling which run a job writes.
   */
  runsOwnedBy?(pid: number): string[];
}

interface PendingJob {
  jobId: string;
  runDir?: string;
  reject(e: Error): void;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

let jobCounter = 0;
export function newJobId(kind: string): string {
  return `${kind}-${Date.now().toString(36)}-${++jobCounter}`;
}

/**
 * One logical engine: starts the process on first use, restarts it after a crash (bounded),
 * fails the jobs that were running in a crashed process with a clear message, and marks their
 * runs incomplete.
 */
export class EngineClient {
  private child: ChildProcess | null = null;
  private conn: MessageConnection | null = null;
  private starting: Promise<EngineInfo> | null = null;
  private info: EngineInfo | null = null;
  private readonly pending = new Map<string, PendingJob>();
  private readonly policy: RestartPolicy;
  private disposed = false;
  private stopping = false;
  state: EngineState = 'stopped';

  constructor(
    private readonly launch: () => EngineLaunch,
    private readonly init: () => InitializeParams,
    private readonly events: EngineEvents = {},
    policy?: RestartPolicy,
  ) {
    this.policy = policy ?? new RestartPolicy();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get engineInfo(): EngineInfo | null {
    return this.info;
  }

  get runningJobs(): { jobId: string; runDir?: string }[] {
    return [...this.pending.values()].map((j) => ({ jobId: j.jobId, ...(j.runDir ? { runDir: j.runDir } : {}) }));
  }

  private setState(s: EngineState, detail?: string): void {
    this.state = s;
    this.events.onState?.(s, detail);
  }

  /** Starts the engine if needed and returns its info. */
  start(): Promise<EngineInfo> {
    if (this.disposed) return Promise.reject(new Error('the engine client was disposed'));
    if (this.conn && this.info) return Promise.resolve(this.info);
    this.starting ??= this.spawnEngine().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async spawnEngine(): Promise<EngineInfo> {
    const launch = this.launch();
    this.setState('starting');
    const script = launch.args[launch.args.length - 1];
    if (script && !fs.existsSync(script)) {
      const msg = `the engine script ${script} is missing (build the extension with npm run build)`;
      this.setState('failed', msg);
      throw new Error(msg);
    }
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.child = child;
    const spawnError = new Promise<never>((_, reject) => {
      child.once('error', (e) =>
        reject(
          new Error(`cannot start the engine with "${launch.command}": ${e.message}. Set fim.engine.nodePath to a Node.js ≥ 20 binary.`),
        ),
      );
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => this.events.onStderr?.(t));
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onNotification(JobProgress, (p) => {
      const job = this.pending.get(p.jobId);
      if (job && p.runDir) job.runDir = p.runDir;
      this.events.onProgress?.(p);
    });
    conn.onNotification(JobStarted, (p) => {
      const job = this.pending.get(p.jobId);
      if (job) job.runDir = p.runDir;
      this.events.onJobStarted?.(p);
    });
    conn.onNotification(Log, (p) => this.events.onLog?.(p));
    conn.onError(() => undefined); // exit handling below reports what happened
    conn.listen();
    this.conn = conn;
    child.once('exit', (code, signal) => this.onExit(child, conn, code, signal));
    try {
      const info = await Promise.race([conn.sendRequest(Initialize, this.init()), spawnError]);
      if (info.protocolVersion !== PROTOCOL_VERSION)
        throw new Error(`engine speaks protocol ${info.protocolVersion}, the extension ${PROTOCOL_VERSION}; rebuild the extension`);
      this.info = info;
      this.setState('ready', `${info.backend.name} backend, pid ${info.pid}`);
      return info;
    } catch (e) {
      const msg = e instanceof ResponseError || e instanceof Error ? e.message : String(e);
      this.info = null;
      this.kill(child);
      this.setState('failed', msg);
      throw new Error(`the engine could not start: ${msg}`, { cause: e });
    }
  }

  private kill(child: ChildProcess): void {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private onExit(child: ChildProcess, conn: MessageConnection, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    this.conn = null;
    this.info = null;
    conn.dispose();
    const expected = this.stopping || this.disposed;
    const how = describeExit(code, signal);
    const jobs = [...this.pending.values()];
    this.pending.clear();
    const restart = !expected && this.policy.crashed();
    const reason = `the engine process ${how} during this job; resume it with FIM: Resume Training or fim train --resume`;
    const mark = (runDir: string): boolean => {
      try {
        return markRunIncomplete(runDir, child.pid, reason);
      } catch {
        return false; // an unwritable run directory stays as it was; readers see the dead pid as incomplete
      }
    };
    const known = new Set(jobs.map((j) => j.runDir && path.resolve(j.runDir)).filter((d): d is string => Boolean(d)));
    let orphans: string[];
    try {
      orphans =
        child.pid === undefined
          ? []
          : (this.events.runsOwnedBy?.(child.pid) ?? []).map((d) => path.resolve(d)).filter((d) => !known.has(d));
    } catch {
      orphans = [];
    }
    // A job whose run the engine never announced: with one unclaimed orphan run, that is its run.
    const unannounced = jobs.filter((j) => !j.runDir);
    if (unannounced.length === 1 && orphans.length === 1) unannounced[0]!.runDir = orphans.shift();
    for (const d of orphans) mark(d);
    for (const job of jobs) {
      const marked = job.runDir ? mark(job.runDir) : false;
      const err = new EngineCrashedError(
        `The FIM engine ${how} while running this job.${job.runDir ? ` Its run ${path.basename(job.runDir)} was ${marked ? 'marked incomplete' : 'left as it was'}; its last checkpoint is kept and it can be resumed.` : ''}${expected ? '' : restart ? ' The engine is being restarted.' : ' The engine crashed too often and will not be restarted automatically.'}`,
        job.runDir,
        marked,
      );
      this.events.onJobLost?.(job.jobId, err);
      job.reject(err);
    }
    if (expected) {
      this.setState('stopped');
      return;
    }
    if (restart) {
      this.setState('crashed', `the engine ${how}; restarting`);
      this.start().catch(() => undefined);
    } else {
      this.setState('failed', `the engine ${how} and crashed too often; restart it with FIM: Restart Engine`);
    }
  }

  /**
   * Sends a job request. The promise rejects with EngineCrashedError when the engine dies before
   * answering, with the engine's ResponseError when the job fails, and resolves otherwise
   * (a cancelled training run resolves with a `stopped` summary).
   */
  async job<P extends JobParams, R>(type: RequestType<P, R, void>, params: P, token?: CancellationToken): Promise<R> {
    await this.start();
    const conn = this.conn;
    if (!conn) throw new Error('the engine is not running');
    return new Promise<R>((resolve, reject) => {
      const entry: PendingJob = { jobId: params.jobId, reject };
      if ('runDir' in params && typeof params.runDir === 'string') entry.runDir = params.runDir;
      this.pending.set(params.jobId, entry);
      const cts = new CancellationTokenSource();
      const sub = token?.onCancellationRequested(() => cts.cancel());
      conn.sendRequest(type, params, cts.token).then(
        (r) => {
          if (this.pending.get(params.jobId) === entry) this.pending.delete(params.jobId);
          sub?.dispose();
          resolve(r);
        },
        (e: unknown) => {
          sub?.dispose();
          // After a crash the exit handler has already rejected with the clearer error.
          if (this.pending.get(params.jobId) !== entry) return;
          this.pending.delete(params.jobId);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** A request without parameters that is not a job (e.g. fim/checkSetup). */
  async request<R>(type: RequestType0<R, void>): Promise<R> {
    await this.start();
    if (!this.conn) throw new Error('the engine is not running');
    return this.conn.sendRequest(type);
  }

  /** Asks the engine to stop a job (training keeps a checkpoint). */
  async stopJob(jobId: string): Promise<boolean> {
    if (!this.conn) return false;
    return (await this.conn.sendRequest(StopJob, { jobId })).stopped;
  }

  sendNotification<P>(type: NotificationType<P>, params: P): void {
    void this.conn?.sendNotification(type, params);
  }

  /** Stops the engine: asks it to shut down (jobs are stopped with a checkpoint), then kills it. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    const conn = this.conn;
    if (!child) return;
    this.stopping = true;
    try {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      conn?.sendRequest(Shutdown).catch(() => undefined);
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        this.kill(child);
        await exited;
      }
    } finally {
      this.stopping = false;
    }
  }

  /** Stops and starts again (the user's "FIM: Restart Engine"), with a fresh crash budget. */
  async restart(): Promise<EngineInfo> {
    await this.stop();
    this.policy.reset();
    return this.start();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stop(5_000);
  }
}
