/**
 * Reproductions in VS Code: `fim reproduce` processes started from the commands (with a
 * cancellable progress notification per stage, an entry for FIM: Stop Job and their output in
 * the "FIM Reproduce" log), and every reproduction directory of the workspace, live from its
 * progress.json whether VS Code or a terminal started it.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readJsonFile } from '../runs/reader';
import { REPRODUCE_FILES, type ReproduceProgress, type ReproduceStatus } from '../runs/reproduce';
import { COMMAND } from './commandIds';
import { newJobId } from './engineProcess';
import type { Jobs } from './jobs';
import {
  cancelArgs,
  describeStatus,
  findReproductions,
  overallFraction,
  readReproduction,
  reproduceArgs,
  statusArgs,
  type ReproduceChoice,
  type ReproductionInfo,
} from './reproductionModel';
import { describeReproductionExit, ReproductionProcess, type ReproductionExit } from './reproductionProcess';
import { chooseRuntime } from './runtime';
import { readSettings } from './settings';

const REMEMBERED = 'fim.reproductionDirs';
const POLL_MS = 1000;
/** `fim reproduce --status` asks squeue/sacct: not more often than this. */
const SLURM_POLL_MS = 10_000;

interface Launch {
  command: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  cli: string;
}

/** Runs the CLI once and returns its stdout (null when it failed; the log says why). */
function cliOutput(l: Launch, args: string[], log: (line: string) => void): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(l.command, [l.cli, ...args], { cwd: l.cwd, env: l.env, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) log(`fim ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').pop() ?? ''}`);
      resolve(err ? null : stdout);
    });
  });
}

/** The workspace's `.fim/` folder, where `fim reproduce` puts its directories by default. */
export function fimFolder(): string | null {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return folder ? path.join(folder, '.fim') : null;
}

export class Reproductions implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  private readonly running = new Map<string, ReproductionProcess>();
  /** The reproductions running as Slurm jobs (stopped with --cancel), with how to run the CLI. */
  private readonly slurm = new Map<string, Launch>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly watcher: vscode.FileSystemWatcher | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly jobs: Jobs,
  ) {
    this.output = vscode.window.createOutputChannel('FIM Reproduce', { log: true });
    const fim = fimFolder();
    this.watcher = fim
      ? vscode.workspace.createFileSystemWatcher(
          new vscode.RelativePattern(
            vscode.Uri.file(fim),
            `*/{${REPRODUCE_FILES.progress},${REPRODUCE_FILES.state},${REPRODUCE_FILES.reportHtml}}`,
          ),
        )
      : null;
    if (this.watcher) {
      const fire = () => this.fireSoon();
      this.watcher.onDidChange(fire);
      this.watcher.onDidCreate(fire);
      this.watcher.onDidDelete(fire);
    }
  }

  private fireSoon(delayMs = 300): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.changed.fire();
    }, delayMs);
  }

  private remembered(): string[] {
    return this.context.workspaceState.get<string[]>(REMEMBERED, []);
  }

  private remember(dir: string): void {
    const list = this.remembered().filter((d) => d !== dir);
    void this.context.workspaceState.update(REMEMBERED, [dir, ...list].slice(0, 20));
  }

  /** Every reproduction of the workspace (under .fim/, and others started from VS Code). */
  list(): ReproductionInfo[] {
    return findReproductions(fimFolder(), [...this.remembered(), ...this.running.keys()]).map((d) => readReproduction(d));
  }

  /**
   * Where reproductions live, also before their plan.json exists (a report panel opens as the
   * process starts): the workspace's .fim/ folder, those started from VS Code, those running.
   */
  roots(): string[] {
    const fim = fimFolder();
    return [...(fim ? [fim] : []), ...this.remembered(), ...this.running.keys()];
  }

  isRunning(dir: string): boolean {
    return this.running.has(path.resolve(dir));
  }

  /** Starts `fim reproduce`; resolves when it has ended (the user was told how). */
  async start(choice: ReproduceChoice, started?: () => void): Promise<ReproductionExit | undefined> {
    const dir = path.resolve(choice.outDir);
    if (this.running.has(dir)) {
      void vscode.window.showWarningMessage(`FIM: a reproduction is already running in ${dir}.`);
      return undefined;
    }
    const s = readSettings();
    const runtime = chooseRuntime({
      configured: s.nodePath,
      trusted: vscode.workspace.isTrusted,
      pathVar: process.env.PATH,
      execPath: process.execPath,
    });
    if (runtime.note) this.output.warn(runtime.note);
    const args = reproduceArgs(choice, s.backend, s.reproduce);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(dir);
    const cli = this.context.asAbsolutePath(path.join('dist', 'cli.js'));
    this.output.info(`${runtime.command} ${cli} ${args.join(' ')} (in ${cwd})`);
    // The report panel opens at once, and panels open only directories that exist.
    fs.mkdirSync(dir, { recursive: true });
    const proc = new ReproductionProcess(dir, { command: runtime.command, env: { ...process.env, ...runtime.env }, cwd, cli, args }, (l) =>
      this.output.info(l),
    );
    this.running.set(dir, proc);
    const launch: Launch = { command: runtime.command, env: { ...process.env, ...runtime.env }, cwd, cli };
    const onSlurm = s.reproduce.executor === 'slurm';
    if (onSlurm) this.slurm.set(dir, launch);
    this.remember(dir);
    this.fireSoon(0);
    started?.();
    const title = `Reproduce (${choice.resume ? 'resume' : choice.mode}, ${path.basename(dir)})`;
    const job = this.jobs.register({
      jobId: newJobId('reproduce'),
      kind: 'reproduce',
      title,
      cancel: () => this.stop(dir),
    });
    let exit: ReproductionExit | undefined;
    try {
      exit = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `FIM: ${title}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => this.stop(dir));
          let reported = 0;
          let lastMessage = '';
          let lastUpdate = '';
          const report = (message: string, frac: number) => {
            if (message === lastMessage && frac <= reported) return;
            lastMessage = message;
            progress.report({ message, ...(frac > reported ? { increment: frac - reported } : {}) });
            reported = Math.max(reported, frac);
          };
          const poll = onSlurm
            ? null
            : setInterval(() => {
                const p = readJsonFile<ReproduceProgress>(path.join(dir, REPRODUCE_FILES.progress));
                if (!p || p.pid !== proc.pid) return;
                // The tree and the report panel follow progress.json (rewritten every few seconds at most).
                if (p.updatedAt !== lastUpdate) this.fireSoon();
                lastUpdate = p.updatedAt;
                const c = p.current;
                const message = proc.stopping
                  ? 'stopping after the current step (Stop Job again to kill it)…'
                  : c
                    ? `[${c.index + 1}/${p.stages.length}] ${p.stages[c.index]?.title ?? c.key}: ${c.message}`
                    : `${p.stages.filter((x) => x.status === 'reused').length} stages reused`;
                report(message, overallFraction(p) * 100);
              }, POLL_MS);
          // Under Slurm the stages run on compute nodes: follow them through fim reproduce --status.
          let ended = false;
          let slurmTimer: NodeJS.Timeout | null = null;
          const pollSlurm = async () => {
            const out = await cliOutput(launch, statusArgs(dir), (l) => this.output.warn(l));
            if (ended) return;
            try {
              if (out) {
                const d = describeStatus(JSON.parse(out) as ReproduceStatus);
                this.fireSoon();
                report(proc.stopping ? 'cancelling the Slurm jobs…' : d.message, d.fraction * 100);
              }
            } catch {
              this.output.warn('fim reproduce --status --json printed no JSON');
            }
            slurmTimer = setTimeout(() => void pollSlurm(), SLURM_POLL_MS);
          };
          if (onSlurm) slurmTimer = setTimeout(() => void pollSlurm(), 2000);
          try {
            progress.report({ message: 'starting…' });
            return await proc.exited;
          } finally {
            ended = true;
            if (poll) clearInterval(poll);
            if (slurmTimer) clearTimeout(slurmTimer);
          }
        },
      );
    } finally {
      job.dispose();
      this.running.delete(dir);
      this.slurm.delete(dir);
      this.fireSoon(0);
    }
    this.tellExit(dir, exit, proc.stderrTail);
    return exit;
  }

  private tellExit(dir: string, exit: ReproductionExit, tail: string): void {
    const how = describeReproductionExit(exit, tail);
    const hasReport = fs.existsSync(path.join(dir, REPRODUCE_FILES.reportHtml));
    const actions = [...(hasReport ? ['Open Report'] : []), ...(how.ok ? [] : ['Resume', 'Show Log'])];
    const show = how.ok || exit.code === 1 || exit.code === 130 ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
    void show(`FIM: reproduction in ${path.basename(dir)} ${how.text}.`, ...actions).then((a) => {
      if (a === 'Open Report') void vscode.commands.executeCommand(COMMAND.openReport, dir);
      if (a === 'Resume') void vscode.commands.executeCommand(COMMAND.resumeReproduction, dir);
      if (a === 'Show Log') this.output.show();
    });
  }

  /** Stops the reproduction in `dir` (a second stop kills it). */
  stop(dir: string): boolean {
    const proc = this.running.get(path.resolve(dir));
    if (!proc) return false;
    const slurm = this.slurm.get(path.resolve(dir));
    if (slurm && !proc.stopping) {
      // Interrupting `--wait` only stops following: the jobs are cancelled first (scancel), then it ends.
      this.output.info(`cancelling the Slurm jobs of the reproduction in ${dir}`);
      void cliOutput(slurm, cancelArgs(path.resolve(dir)), (l) => this.output.warn(l)).then((out) => {
        if (out !== null) this.output.info(out.trim() || 'cancelled');
        proc.stop();
        this.fireSoon(0);
      });
      this.fireSoon(0);
      return true;
    }
    const how = proc.stop();
    this.output.info(`${how === 'kill' ? 'killing' : 'interrupting'} the reproduction in ${dir} (pid ${proc.pid})`);
    this.fireSoon(0);
    return true;
  }

  dispose(): void {
    // VS Code is closing: let each reproduction stop after its current step, as Ctrl-C would.
    for (const p of this.running.values()) p.child.kill('SIGTERM');
    this.watcher?.dispose();
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
    this.output.dispose();
  }
}
