/** Opening what the store holds: panels, the training log, evaluation files, the run folder; the engine's log and restart. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PanelKey } from '../../protocol/webview';
import type { EvalKind, TransferEval } from '../../runs/evals';
import { evalFile, runFile } from '../../runs/paths';
import { readJsonFile } from '../../runs/reader';
import type { RunInfo } from '../../runs/types';
import { COMMAND } from '../commandIds';
import { evalsOfKind } from '../panels/panelData';
import type { RunsNode } from '../runsTree';
import { readEvalKind } from '../runsTreeModel';
import { pickRun, runDirFromArg, runDirsFromArgs, type CommandDeps, type CommandHandlers } from './context';

/** Runs from a tree selection, or else a multi-pick over the store (`preselect` ticks the likely ones). */
async function pickRuns(
  deps: CommandDeps,
  arg: unknown,
  selected: unknown,
  title: string,
  describe: (r: RunInfo) => string,
  preselect: (r: RunInfo) => boolean,
): Promise<string[] | undefined> {
  const fromArgs = runDirsFromArgs(arg, selected);
  if (fromArgs.length > 1) return fromArgs;
  const runs = deps.store.runs();
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('FIM: no runs to compare yet.');
    return undefined;
  }
  const picks = await vscode.window.showQuickPick(
    runs.map((r) => ({
      label: r.config?.name ?? r.id,
      description: `${r.config?.mu ? `defended μ=${r.config.mu}` : 'baseline'} · ${describe(r)}`,
      detail: r.id,
      picked: fromArgs.includes(r.dir) || (fromArgs.length === 0 && preselect(r)),
      run: r,
    })),
    { title, canPickMany: true, ignoreFocusOut: true },
  );
  return picks && picks.length > 0 ? picks.map((p) => p.run.dir) : undefined;
}

async function compareRuns(deps: CommandDeps, arg: unknown, selected?: unknown): Promise<void> {
  const withSweeps = (r: RunInfo) => evalsOfKind(r, 'sweep').length > 0;
  const dirs = await pickRuns(
    deps,
    arg,
    selected,
    'FIM: runs to compare (baseline and defended overlaid)',
    (r) => (withSweeps(r) ? 'has attack sweeps' : 'no attack sweep yet'),
    withSweeps,
  );
  if (dirs) deps.panels.open({ kind: 'fooling', runDirs: dirs });
}

async function compareTraining(deps: CommandDeps, arg: unknown, selected?: unknown): Promise<void> {
  const dirs = await pickRuns(
    deps,
    arg,
    selected,
    'FIM: runs whose training curves to overlay',
    (r) => `${r.effectiveState}${r.config ? ` · ${r.config.epochs} epoch(s)` : ''}`,
    (r) => r.effectiveState === 'completed',
  );
  if (dirs) deps.panels.open({ kind: 'curves', runDirs: dirs });
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

/** The panel of an evaluation of one run (transfer panels show both runs of the pair). */
export function evalPanelKey(runDir: string, evalName: string, kind: EvalKind | null): PanelKey | null {
  switch (kind) {
    case 'inspect':
      return { kind: 'inspect', runDir, evalName };
    case 'sweep':
      return { kind: 'adversarial', runDir, evalName };
    case 'distance':
      return { kind: 'distance', runDirs: [runDir] };
    case 'transfer': {
      const other = readJsonFile<TransferEval>(evalFile(runDir, evalName))?.otherRunDir;
      return { kind: 'transfer', runDirs: other ? [runDir, other] : [runDir] };
    }
    case 'worst-case':
      return { kind: 'worstcase', runDirs: [runDir] };
    case 'autoattack':
      return { kind: 'autoattack', runDir, evalName };
    default:
      return null;
  }
}

async function openEvaluation(deps: CommandDeps, arg: unknown): Promise<void> {
  let runDir: string;
  let evalName: string;
  if (arg && typeof arg === 'object' && 'evalName' in arg) {
    const node = arg as Extract<RunsNode, { type: 'eval' }>;
    runDir = node.run.dir;
    evalName = node.evalName;
  } else {
    const run = await pickRun(deps, arg, 'FIM: evaluation of run', (r) => r.evals.length > 0);
    if (!run) return;
    const pick = await vscode.window.showQuickPick(
      run.evals.map((n) => ({ label: n, description: readEvalKind(run.dir, n) ?? 'unknown kind' })),
      { title: `FIM: evaluation of ${run.config?.name ?? run.id}` },
    );
    if (!pick) return;
    runDir = run.dir;
    evalName = pick.label;
  }
  const key = evalPanelKey(runDir, evalName, readEvalKind(runDir, evalName));
  if (key) deps.panels.open(key);
  else await vscode.window.showTextDocument(vscode.Uri.file(path.join(runDir, 'evals', `${evalName}.json`)));
}

export function openCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.compareRuns]: (arg, selected) => compareRuns(deps, arg, selected),
    [COMMAND.compareTraining]: (arg, selected) => compareTraining(deps, arg, selected),
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
