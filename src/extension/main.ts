/**
 * FIM Inspector's VS Code extension: commands, the runs tree, training-log hovers, CodeLens and
 * webview panels over the engine process (src/engine/main.ts) and the run store (src/runs).
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { ModelCodeLensProvider } from './codeLens';
import { Engine } from './engine';
import { FIMLOG_LANGUAGE, FimlogHoverProvider } from './fimlogHover';
import { Jobs } from './jobs';
import { PanelManager } from './panels/panelManager';
import { RunsTreeProvider } from './runsTree';
import { RunStore } from './runStore';
import { SECTION } from './settings';
import { COMMAND } from './commandIds';

let engine: Engine | undefined;

export function activate(context: vscode.ExtensionContext): { engine: Engine } {
  engine = new Engine(context);
  const store = new RunStore();
  const jobs = new Jobs(engine);
  const tree = new RunsTreeProvider(store, jobs);
  const panels = new PanelManager(context.extensionUri, engine.output, () => store.directory);
  const hover = new FimlogHoverProvider();
  const lenses = new ModelCodeLensProvider(store);
  const view = vscode.window.createTreeView('fim.runs', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true });

  context.subscriptions.push(
    engine,
    store,
    jobs,
    tree,
    panels,
    lenses,
    view,
    ...panels.registerSerializers(),
    ...registerCommands({ engine, jobs, store, tree, panels }),
    vscode.languages.registerHoverProvider({ language: FIMLOG_LANGUAGE }, hover),
    vscode.workspace.onDidCloseTextDocument((d) => hover.forget(d)),
    vscode.languages.registerCodeLensProvider(
      [
        { scheme: 'file', pattern: '**/*.json' },
        { scheme: 'file', language: 'typescript' },
        { scheme: 'file', language: 'javascript' },
      ],
      lenses,
    ),
    // Progress of a running job moves the tree's live progress; the watcher covers the rest.
    engine.onProgress(() => store.fireSoon(1000)),
    engine.onJobLost(() => store.fireSoon(0)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SECTION}.runStore`)) store.reconfigure();
      if (e.affectsConfiguration(`${SECTION}.engine`)) {
        void vscode.window
          .showInformationMessage('FIM: engine settings changed; they apply when the engine restarts.', 'Restart Engine')
          .then((a) => a && vscode.commands.executeCommand(COMMAND.restartEngine));
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      store.reconfigure();
      tree.refresh();
      // The engine learnt the trust state when it started: an idle one is stopped, so the next
      // job starts one that may load the workspace's model definitions.
      if (engine && engine.client.runningJobs.length === 0) void engine.client.stop();
    }),
  );
  return { engine };
}

export async function deactivate(): Promise<void> {
  // Stops running jobs with a checkpoint before VS Code tears the process down.
  await engine?.client.dispose();
  engine = undefined;
}
