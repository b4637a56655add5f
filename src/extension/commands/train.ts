/** Training: train defended or baseline, resume, stop, and what is said when a run ends. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Resume, Train, type EngineInfo, type TrainParams } from '../../protocol/engine';
import { DEFENCES, defenceInfo, defenceLabel, resolveDefence } from '../../runs/defence';
import { COMMAND } from '../commandIds';
import { parseMu, parsePositiveInt } from '../inputs';
import { modelFileKind } from '../modelFiles';
import { readSettings } from '../settings';
import { untrustedModelMessage, untrustedResumeProblem } from '../trust';
import { engineInfo, pickRun, requireStore, type CommandDeps, type CommandHandlers } from './context';

/** The model to train: an explicit Uri (explorer, CodeLens), the active editor's model file, or a built-in. */
async function pickModel(arg: unknown, info: EngineInfo): Promise<{ model: string; label: string; defaultDataset?: string } | undefined> {
  const uri = arg instanceof vscode.Uri ? arg : undefined;
  const candidates: vscode.Uri[] = uri ? [uri] : vscode.window.activeTextEditor ? [vscode.window.activeTextEditor.document.uri] : [];
  for (const c of candidates) {
    if (c.scheme !== 'file') continue;
    let text: string;
    try {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === c.toString());
      // An ONNX file is binary and recognised by its name; do not read it as text.
      text = path.extname(c.fsPath).toLowerCase() === '.onnx' ? '' : open ? open.getText() : fs.readFileSync(c.fsPath, 'utf8');
    } catch (e) {
      void vscode.window.showErrorMessage(`FIM: cannot read ${c.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
    const kind = modelFileKind(c.fsPath, text);
    if (kind) {
      // An ONNX file is data the engine reads, not code: it trains in restricted mode too.
      if (!vscode.workspace.isTrusted && kind !== 'onnx') {
        void vscode.window
          .showWarningMessage(untrustedModelMessage(kind), 'Manage Workspace Trust')
          .then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
        return undefined;
      }
      return { model: c.fsPath, label: path.basename(c.fsPath) };
    }
    if (uri) {
      void vscode.window.showErrorMessage(
        `FIM: ${path.basename(c.fsPath)} is not a model definition (an ONNX file, a tfjs Layers model.json, or a JS/TS module whose default export builds a tf.LayersModel).`,
      );
      return undefined;
    }
  }
  type Item = vscode.QuickPickItem & { model?: string; defaultDataset?: string; browse?: boolean };
  const items: Item[] = info.models.map((m) => ({
    label: m.name,
    description: `built-in · ${m.defaultDataset}`,
    detail: m.description,
    model: m.name,
    defaultDataset: m.defaultDataset,
  }));
  items.push({
    label: '$(folder-opened) Choose a model file…',
    detail: vscode.workspace.isTrusted
      ? 'an ONNX file (fine-tunes its weights), a tfjs Layers model.json or a JS/TS model module'
      : 'an ONNX file (fine-tunes its weights)',
    browse: true,
  });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'FIM: model definition to train',
    placeHolder: 'No model file selected: pick a built-in definition',
  });
  if (!pick) return undefined;
  if (pick.browse) {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: vscode.workspace.isTrusted
        ? { 'Model definitions': ['onnx', 'json', 'js', 'mjs', 'cjs', 'ts', 'mts', 'cts'] }
        : { ONNX: ['onnx'] },
      title: 'Model definition',
    });
    return files?.[0] ? pickModel(files[0], info) : undefined;
  }
  return { model: pick.model!, label: pick.label, ...(pick.defaultDataset ? { defaultDataset: pick.defaultDataset } : {}) };
}

/** The defence and its weight (docs/defences.md); the options keep their defaults (the CLI's --defence-option sets them). */
async function pickDefence(): Promise<ReturnType<typeof resolveDefence> | undefined> {
  const kind = await vscode.window.showQuickPick(
    DEFENCES.map((d) => ({ label: d.kind, detail: d.title, picked: d.kind === 'trace' })),
    { title: 'FIM: defence', placeHolder: "the paper's trace term, or a FIM-derived defence beyond it", ignoreFocusOut: true },
  );
  if (!kind) return undefined;
  const info = defenceInfo(kind.label);
  const text = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: `FIM: ${info.weightMeaning}`,
    value: String(info.defaultWeight),
    prompt: kind.label === 'trace' ? 'The paper uses μ = 0.022 for MNIST; 0 trains the plain baseline' : info.title,
    validateInput: (v) => (parseMu(v) === null ? 'the weight must be a finite number ≥ 0' : undefined),
  });
  if (text === undefined) return undefined;
  return resolveDefence(kind.label, parseMu(text)!);
}

async function train(deps: CommandDeps, arg: unknown, defended: boolean): Promise<void> {
  const storeDir = requireStore(deps.store);
  if (!storeDir) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const model = await pickModel(arg, info);
  if (!model) return;
  const datasetItems = info.datasets.map((d) => ({
    label: d.name,
    detail: d.description,
    needsDataDir: d.needsDataDir,
    picked: d.name === (model.defaultDataset ?? 'mnist'),
  }));
  datasetItems.sort((a, b) => Number(b.picked) - Number(a.picked));
  const dataset =
    datasetItems.length === 1
      ? datasetItems[0]
      : await vscode.window.showQuickPick(datasetItems, { title: `FIM: dataset for ${model.label}`, ignoreFocusOut: true });
  if (!dataset) return;
  let dataDir: string | undefined;
  if (dataset.needsDataDir) {
    const dirs = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      title: `Folder with the ${dataset.label} files`,
    });
    if (!dirs?.[0]) return;
    dataDir = dirs[0].fsPath;
  }
  let choice: ReturnType<typeof resolveDefence> = { mu: 0 };
  if (defended) {
    const picked = await pickDefence();
    if (!picked) return;
    choice = picked;
  }
  const { mu, defence } = choice;
  const epochsText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: epochs',
    value: '2',
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (epochsText === undefined) return;
  const s = readSettings();
  const params: Omit<TrainParams, 'jobId'> = {
    model: model.model,
    dataset: dataset.label,
    ...(dataDir ? { dataDir } : {}),
    mu,
    ...(defence ? { defence } : {}),
    epochs: parsePositiveInt(epochsText)!,
    batchSize: s.train.batchSize,
    learningRate: s.train.learningRate,
    seed: s.train.seed,
    ...(s.train.limitTrain ? { limitTrain: s.train.limitTrain } : {}),
    ...(s.train.limitTest ? { limitTest: s.train.limitTest } : {}),
    logEvery: s.train.logEvery,
    storeDir,
  };
  const title = `${defended ? 'Train Defended Model' : 'Train Baseline Model'} (${model.label}, ${defenceLabel({ mu, defence })})`;
  const started = deps.engine.onJobStarted((p) => {
    deps.store.fireSoon(0);
    deps.panels.open({ kind: 'training', runDir: p.runDir }, vscode.ViewColumn.Beside, true);
  });
  let result;
  try {
    result = await deps.jobs.run('train', title, Train, params);
  } finally {
    started.dispose();
  }
  deps.store.fireSoon(0);
  if (result) reportTrained(deps, result.summary.runDir, result.summary.state, result.summary.testAccuracy, result.summary.message);
}

function reportTrained(deps: CommandDeps, runDir: string, state: string, acc: number | null, message?: string): void {
  deps.panels.refreshRun(runDir);
  const name = path.basename(runDir);
  if (state === 'completed') {
    void vscode.window
      .showInformationMessage(
        `FIM: ${name} finished: test accuracy ${acc === null ? '–' : (acc * 100).toFixed(2) + '%'}.`,
        'Inspect Run',
        'Open Dashboard',
      )
      .then((a) => {
        if (a === 'Inspect Run') void vscode.commands.executeCommand(COMMAND.inspectRun, runDir);
        if (a === 'Open Dashboard') deps.panels.open({ kind: 'training', runDir });
      });
  } else {
    void vscode.window
      .showWarningMessage(`FIM: ${name} ${state}${message ? `: ${message}` : ''}.`, 'Resume Training')
      .then((a) => a && vscode.commands.executeCommand(COMMAND.resumeRun, runDir));
  }
}

async function stopJob(deps: CommandDeps): Promise<void> {
  const jobs = deps.jobs.list();
  if (jobs.length === 0) {
    void vscode.window.showInformationMessage('FIM: no job is running.');
    return;
  }
  const pick =
    jobs.length === 1
      ? { job: jobs[0]! }
      : await vscode.window.showQuickPick(
          jobs.map((j) => ({ label: j.title, description: j.progress?.message ?? '', job: j })),
          { title: 'FIM: job to stop' },
        );
  if (!pick) return;
  pick.job.cancel();
  void vscode.window.showInformationMessage(
    `FIM: stopping "${pick.job.title}"${pick.job.kind === 'train' || pick.job.kind === 'resume' ? ' (a checkpoint is written; resume it later)' : ''}.`,
  );
}

async function resumeRun(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to resume', (r) => ['stopped', 'incomplete', 'failed'].includes(r.effectiveState));
  if (!run) return;
  if (!vscode.workspace.isTrusted) {
    const info = await engineInfo(deps.engine);
    if (!info) return;
    const problem = untrustedResumeProblem(
      run.config?.model,
      false,
      info.models.map((m) => m.name),
    );
    if (problem) {
      void vscode.window.showWarningMessage(problem);
      return;
    }
  }
  const result = await deps.jobs.run('resume', `Resume ${run.config?.name ?? run.id}`, Resume, { runDir: run.dir });
  deps.store.fireSoon(0);
  if (result) reportTrained(deps, result.summary.runDir, result.summary.state, result.summary.testAccuracy, result.summary.message);
}

export function trainCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.trainDefended]: (arg) => train(deps, arg, true),
    [COMMAND.trainBaseline]: (arg) => train(deps, arg, false),
    [COMMAND.stopJob]: () => stopJob(deps),
    [COMMAND.resumeRun]: (arg) => resumeRun(deps, arg),
  };
}
