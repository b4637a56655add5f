/**
 * The engine as the extension uses it: an EngineClient whose process is launched with the
 * configured Node runtime, its stderr in the "FIM Engine" log channel, its state in the status
 * bar, and crash/restart messages for the user.
 */
import * as vscode from 'vscode';
import type { EngineInfo, JobProgressParams, JobStartedParams, LogParams } from '../protocol/engine';
import { EngineClient, type EngineCrashedError, type EngineLaunch, type EngineState } from './engineProcess';
import { listRuns } from '../runs/reader';
import { chooseRuntime } from './runtime';
import { readSettings } from './settings';
import { COMMAND } from './commandIds';

export class Engine implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly client: EngineClient;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly progressEmitter = new vscode.EventEmitter<JobProgressParams>();
  private readonly startedEmitter = new vscode.EventEmitter<JobStartedParams>();
  private readonly logEmitter = new vscode.EventEmitter<LogParams>();
  private readonly lostEmitter = new vscode.EventEmitter<{ jobId: string; error: EngineCrashedError }>();
  readonly onProgress = this.progressEmitter.event;
  readonly onJobStarted = this.startedEmitter.event;
  readonly onLog = this.logEmitter.event;
  readonly onJobLost = this.lostEmitter.event;
  private stderrTail = '';

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('FIM Engine', { log: true });
    this.statusItem = vscode.window.createStatusBarItem('fim.engine', vscode.StatusBarAlignment.Left, 10);
    this.statusItem.name = 'FIM Engine';
    this.statusItem.command = COMMAND.showEngineLog;
    this.client = new EngineClient(
      () => this.launch(),
      // The engine enforces restricted mode itself (src/engine/trust.ts); it learns the trust state here.
      () => ({ protocolVersion: 1, backend: readSettings().backend, trusted: vscode.workspace.isTrusted }),
      {
        onStderr: (t) => this.stderr(t),
        onState: (s, detail) => this.onState(s, detail),
        onProgress: (p) => this.progressEmitter.fire(p),
        onJobStarted: (p) => this.startedEmitter.fire(p),
        onLog: (p) => {
          this.output.info(p.line);
          this.logEmitter.fire(p);
        },
        onJobLost: (jobId, error) => this.lostEmitter.fire({ jobId, error }),
        runsOwnedBy: (pid) => {
          const store = readSettings().runStore;
          return store
            ? listRuns(store)
                .filter((r) => r.status?.state === 'running' && r.status.pid === pid)
                .map((r) => r.dir)
            : [];
        },
      },
    );
    this.onState('stopped');
    this.statusItem.show();
  }

  private launch(): EngineLaunch {
    const s = readSettings();
    const choice = chooseRuntime({
      configured: s.nodePath,
      trusted: vscode.workspace.isTrusted,
      pathVar: process.env.PATH,
      execPath: process.execPath,
    });
    if (choice.note) this.output.warn(choice.note);
    const script = this.context.asAbsolutePath('dist/engine.js');
    this.output.info(`starting the engine: ${choice.command} ${script} (runtime from ${choice.source})`);
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this.context.extensionPath;
    return { command: choice.command, args: [script], env: { ...process.env, ...choice.env }, cwd };
  }

  private stderr(text: string): void {
    const lines = (this.stderrTail + text).split('\n');
    this.stderrTail = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) this.output.info(l);
  }

  private onState(state: EngineState, detail?: string): void {
    const info = this.client?.engineInfo;
    const icons: Record<EngineState, string> = {
      stopped: '$(circle-outline)',
      starting: '$(sync~spin)',
      ready: '$(pulse)',
      crashed: '$(warning)',
      failed: '$(error)',
    };
    this.statusItem.text = `${icons[state]} FIM${state === 'ready' && info ? `: ${info.backend.name}` : state === 'stopped' ? '' : `: ${state}`}`;
    this.statusItem.tooltip = `FIM engine: ${state}${detail ? ` — ${detail}` : ''}${info ? ` (pid ${info.pid})` : ''}. Click for the engine log.`;
    this.statusItem.backgroundColor =
      state === 'failed'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : state === 'crashed'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    if (detail)
      if (state === 'failed' || state === 'crashed') this.output.error(`engine ${state}: ${detail}`);
      else this.output.info(`engine ${state}: ${detail}`);
    if (state === 'crashed') {
      void vscode.window.showWarningMessage(`FIM: ${detail ?? 'the engine crashed'}.`, 'Show Log').then((a) => a && this.output.show());
    } else if (state === 'failed') {
      void vscode.window.showErrorMessage(`FIM: ${detail ?? 'the engine failed'}`, 'Show Log', 'Restart Engine').then((a) => {
        if (a === 'Show Log') this.output.show();
        if (a === 'Restart Engine') void vscode.commands.executeCommand(COMMAND.restartEngine);
      });
    }
  }

  start(): Promise<EngineInfo> {
    return this.client.start();
  }

  dispose(): void {
    void this.client.dispose();
    this.statusItem.dispose();
    this.output.dispose();
    this.progressEmitter.dispose();
    this.startedEmitter.dispose();
    this.logEmitter.dispose();
    this.lostEmitter.dispose();
  }
}
