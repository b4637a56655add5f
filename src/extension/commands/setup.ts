/** FIM: Check Setup: what runs the engine, on which backend and kernels, and which datasets load. */
import * as vscode from 'vscode';
import { CheckSetup, type SetupReport } from '../../protocol/engine';
import { COMMAND } from '../commandIds';
import { chooseRuntime } from '../runtime';
import { readSettings } from '../settings';
import { setupMarkdown, type SetupFacts } from '../setupReport';
import type { CommandDeps, CommandHandlers } from './context';

/** The report as a read-only document (nothing to save when it is closed). */
const SETUP_URI = vscode.Uri.from({ scheme: 'fim-setup', path: '/FIM Setup.md' });

class SetupDocuments implements vscode.TextDocumentContentProvider {
  private text = '';
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  set(text: string): void {
    this.text = text;
    this.changed.fire(SETUP_URI);
  }
  provideTextDocumentContent(): string {
    return this.text;
  }
}

const setupDocs = new SetupDocuments();
let registered: vscode.Disposable | undefined;

async function checkSetup(deps: CommandDeps): Promise<void> {
  registered ??= vscode.workspace.registerTextDocumentContentProvider(SETUP_URI.scheme, setupDocs);
  const s = readSettings();
  const runtime = chooseRuntime({
    configured: s.nodePath,
    trusted: vscode.workspace.isTrusted,
    pathVar: process.env.PATH,
    execPath: process.execPath,
  });
  const engine = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'FIM: checking the setup (engine, backend, datasets)…' },
    async (): Promise<SetupFacts['engine']> => {
      let info;
      try {
        info = await deps.engine.start();
      } catch (e) {
        return { error: (e as Error).message };
      }
      let setup: SetupReport | null = null;
      let setupError: string | undefined;
      try {
        setup = await deps.engine.client.request(CheckSetup);
      } catch (e) {
        setupError = (e as Error).message;
      }
      return { info, setup, ...(setupError ? { setupError } : {}) };
    },
  );
  const ext = vscode.extensions.getExtension('fim-inspector.fim-inspector');
  const report = setupMarkdown({
    runtime,
    engine,
    runStore: deps.store.directory,
    runCount: deps.store.runs().length,
    trusted: vscode.workspace.isTrusted,
    extensionVersion: String((ext?.packageJSON as { version?: string } | undefined)?.version ?? '?'),
  });
  setupDocs.set(report.markdown);
  const doc = await vscode.workspace.openTextDocument(SETUP_URI);
  await vscode.window.showTextDocument(await vscode.languages.setTextDocumentLanguage(doc, 'markdown'), { preview: true });
  const show = report.ok ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(`FIM setup: ${report.summary}.`, 'Show Engine Log').then((a) => a && deps.engine.output.show());
}

export function setupCommands(deps: CommandDeps): CommandHandlers {
  return { [COMMAND.checkSetup]: () => checkSetup(deps) };
}
