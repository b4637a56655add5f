/** Opening what the store holds: panels, the training log, evaluation files, the run folder; the engine's log and restart. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runFile } from '../../runs/paths';
import { COMMAND } from '../commandIds';
import { evalsOfKind } from '../panels/panelData';
import type { RunsNode } from '../runsTree';
import { readEvalKind } from '../runsTreeModel';
import { pickRun, runDirFromArg, type CommandDeps, type CommandHandlers } from './context';

async function compareRuns(deps: CommandDeps, arg: unknown, selected?: unknown[]): Promise<void> {
  const fromArgs = (selected && selected.length > 1 ? selected : arg ? [arg] : [])
    .map(runDirFromArg)
    .filter((d): d is string => Boolean(d));
  if (fromArgs.length > 1) {
    deps.panels.open({ kind: 'fooling', runDirs: fromArgs });
    return;
  }
  const runs = deps.store.runs();
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('FIM: no runs to compare yet.');
    return;
  }
  const withSweeps = new Set(runs.filter((r) => evalsOfKind(r, 'sweep').length > 0).map((r) => r.dir));
  const picks = await vscode.window.showQuickPick(
    runs.map((r) => ({
      label: r.config?.name ?? r.id,
      description: `${r.config?.mu ? `defended μ=${r.config.mu}` : 'baseline'}${withSweeps.has(r.dir) ? ' · has attack sweeps' : ' · no attack sweep yet'}`,
      detail: r.id,
      picked: withSweeps.has(r.dir) || fromArgs.includes(r.dir),
      run: r,
    })),
    { title: 'FIM: runs to compare (baseline and defended overlaid)', canPickMany: true },
  );
  if (!picks || picks.length === 0) return;
  deps.panels.open({ kind: 'fooling', runDirs: picks.map((p) => p.run.dir) });
}

async function openTrainingLog(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: training log of run');
  if (!run) return;
  const file = runFile(run.dir, 'log');
  if (!fs.existsSync(file)) {
    void vscode.window.showErrorMessage(`FIM: ${run.id} has no training log (${file})`);
    return;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  await vscode.window.showTextDocument(doc.languageId === 'fimlog' ? doc : await vscode.languages.setTextDocumentLanguage(doc, 'fimlog'), {
    preview: false,
  });
}

async function openEvaluation(deps: CommandDeps, arg: unknown): Promise<void> {
  if (!arg || typeof arg !== 'object' || !('evalName' in arg)) return;
  const node = arg as Extract<RunsNode, { type: 'eval' }>;
  const kind = readEvalKind(node.run.dir, node.evalName);
  if (kind === 'inspect') deps.panels.open({ kind: 'inspect', runDir: node.run.dir, evalName: node.evalName });
  else if (kind === 'sweep') deps.panels.open({ kind: 'adversarial', runDir: node.run.dir, evalName: node.evalName });
  else if (kind === 'distance') deps.panels.open({ kind: 'fooling', runDirs: [node.run.dir] });
  else if (kind === 'autoattack') deps.panels.open({ kind: 'autoattack', runDir: node.run.dir, evalName: node.evalName });
  else await vscode.window.showTextDocument(vscode.Uri.file(path.join(node.run.dir, 'evals', `${node.evalName}.json`)));
}

export function openCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.compareRuns]: (arg, selected) => compareRuns(deps, arg, selected as unknown[] | undefined),
    [COMMAND.openTrainingLog]: (arg) => openTrainingLog(deps, arg),
    [COMMAND.openDashboard]: async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: training dashboard of run');
      if (run) deps.panels.open({ kind: 'training', runDir: run.dir });
    },
    [COMMAND.openAdversarial]: async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: adversarial images of run', (r) => evalsOfKind(r, 'sweep').length > 0);
      if (run)
        deps.panels.open({
          kind: 'adversarial',
          runDir: run.dir,
          ...(arg && typeof arg === 'object' && 'evalName' in arg ? { evalName: (arg as { evalName: string }).evalName } : {}),
        });
    },
    [COMMAND.openInspection]: async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: inspection of run', (r) => evalsOfKind(r, 'inspect').length > 0);
      if (!run) return;
      const names = evalsOfKind(run, 'inspect');
      const evalName =
        arg && typeof arg === 'object' && 'evalName' in arg
          ? (arg as { evalName: string }).evalName
          : names.length === 1
            ? names[0]
            : await vscode.window.showQuickPick(names, { title: 'FIM: inspection' });
      if (!evalName) {
        if (names.length === 0)
          void vscode.window.showInformationMessage(`FIM: ${run.id} has no FIM inspection yet; run FIM: Inspect Run.`);
        return;
      }
      deps.panels.open({ kind: 'inspect', runDir: run.dir, evalName });
    },
    [COMMAND.openEvaluation]: (arg) => openEvaluation(deps, arg),
    [COMMAND.refreshRuns]: () => deps.tree.refresh(),
    [COMMAND.revealRun]: (arg) => {
      const dir = runDirFromArg(arg);
      if (dir) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    },
    [COMMAND.showEngineLog]: () => deps.engine.output.show(),
    [COMMAND.restartEngine]: async () => {
      try {
        const info = await deps.engine.client.restart();
        void vscode.window.showInformationMessage(`FIM: engine restarted (${info.backend.name}, pid ${info.pid}).`);
      } catch (e) {
        void vscode.window.showErrorMessage(`FIM: ${(e as Error).message}`);
      }
    },
  };
}
