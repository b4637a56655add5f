/**
 * One `fim reproduce` child process started from VS Code. The reproduction runs in the CLI
 * (dist/cli.js), not in the engine process: it is the layer above the engine (src/reproduce),
 * and as its own process it keeps the CLI's directory lock, its resume and its Ctrl-C semantics,
 * exactly as `npm start` runs it. No `vscode` import (tested under plain Node).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ReproductionLaunch {
  /** The Node runtime and its environment (the engine's choice, src/extension/runtime.ts). */
  command: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** dist/cli.js. */
  cli: string;
  args: string[];
}

export interface ReproductionExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Exit codes of `fim reproduce` (docs/reproduction.md). */
export function describeReproductionExit(e: ReproductionExit, stderrTail: string): { ok: boolean; text: string } {
  if (e.code === 0) return { ok: true, text: 'complete' };
  if (e.code === 1) return { ok: false, text: 'finished with failed stages (the report says which)' };
  if (e.code === 130 || e.signal === 'SIGINT' || e.signal === 'SIGTERM')
    return { ok: false, text: 'stopped; finished stages are kept, Resume continues' };
  if (e.signal === 'SIGKILL') return { ok: false, text: 'killed; at most the running stage is lost, Resume continues' };
  const last = stderrTail.trim().split('\n').pop() ?? '';
  return { ok: false, text: `failed (exit ${e.code ?? e.signal})${last ? `: ${last}` : ''}` };
}

export class ReproductionProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ReproductionExit>;
  private tail = '';
  private stopRequested = 0;

  constructor(
    readonly dir: string,
    launch: ReproductionLaunch,
    onOutput: (line: string) => void,
  ) {
    this.child = spawn(launch.command, [launch.cli, ...launch.args], {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    const emit = (l: string) => {
      if (!l.trim()) return;
      this.tail = (this.tail + '\n' + l).slice(-4000);
      onOutput(l);
    };
    const lines = (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split(/\r?\n|\r/);
      partial = parts.pop() ?? '';
      parts.forEach(emit);
    };
    this.child.stdout?.on('data', lines);
    this.child.stderr?.on('data', lines);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => {
        this.tail += `\n${e.message}`;
        resolve({ code: -1, signal: null });
      });
      // 'close' comes after the output streams have ended, so the last lines are in.
      this.child.once('close', (code, signal) => {
        emit(partial);
        partial = '';
        resolve({ code, signal });
      });
    });
  }

  get stderrTail(): string {
    return this.tail;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * First call: SIGINT, as Ctrl-C — the reproduction stops after its current step (a training
   * writes a checkpoint). A stage inside a long synchronous attack loop answers only when the loop
   * ends; a second call kills it (SIGKILL), losing at most that stage.
   */
  stop(): 'interrupt' | 'kill' {
    this.stopRequested++;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return 'interrupt';
    if (this.stopRequested === 1) {
      this.child.kill('SIGINT');
      return 'interrupt';
    }
    this.child.kill('SIGKILL');
    return 'kill';
  }

  get stopping(): boolean {
    return this.stopRequested > 0;
  }
}
