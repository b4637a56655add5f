/**
 * The FIM commands: palette, tree context menus, CodeLens and webview requests all land here.
 * Their multi-step inputs keep open when focus moves (ignoreFocusOut), as VS Code's multi-step
 * input sample does: a panel or notification taking focus must not throw away the steps so far.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AttackSweep, Inspect, Resume, Train, type EngineInfo, type TrainParams } from '../protocol/engine';
import { isRunDir, readRun } from '../runs/reader';
import { runFile } from '../runs/paths';
import type { RunInfo } from '../runs/types';
import type { Engine } from './engine';
import type { Jobs } from './jobs';
import { modelFileKind } from './modelFiles';
import { evalsOfKind } from './panels/panelData';
import type { PanelManager } from './panels/panelManager';
import type { RunsNode, RunsTreeProvider } from './runsTree';
import { readEvalKind } from './runsTreeModel';
import type { RunStore } from './runStore';
import { defaultBudgets, parseBudgets, parseMu, parsePositiveInt } from './inputs';
import { readSettings } from './settings';
import { untrustedModelMessage } from './trust';
import { COMMAND } from './commandIds';

export interface CommandDeps {
  engine: Engine;
  jobs: Jobs;
  store: RunStore;
  tree: RunsTreeProvider;
  panels: PanelManager;
}

/** A run directory from a command argument: a tree node, a path, a Uri, or nothing. */
export function runDirFromArg(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && 'run' in arg) return (arg as RunsNode).run.dir;
  return undefined;
}

async function engineInfo(engine: Engine): Promise<EngineInfo | undefined> {
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'FIM: starting the engine' }, () =>
      engine.start(),
    );
  } catch (e) {
    void vscode.window.showErrorMessage(`FIM: ${(e as Error).message}`, 'Show Log').then((a) => a && engine.output.show());
    return undefined;
  }
}

function requireStore(store: RunStore): string | undefined {
  const dir = store.directory;
  if (!dir)
    void vscode.window.showErrorMessage(
      'FIM: open a folder first (runs are stored in the workspace, .fim/runs by default), or set fim.runStore to an absolute path.',
    );
  return dir ?? undefined;
}

/** The model to train: an explicit Uri (explorer, CodeLens), the active editor's model file, or a built-in. */
async function pickModel(arg: unknown, info: EngineInfo): Promise<{ model: string; label: string; defaultDataset?: string } | undefined> {
  const uri = arg instanceof vscode.Uri ? arg : undefined;
  const candidates: vscode.Uri[] = uri ? [uri] : vscode.window.activeTextEditor ? [vscode.window.activeTextEditor.document.uri] : [];
  for (const c of candidates) {
    if (c.scheme !== 'file') continue;
    let text: string;
    try {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === c.toString());
      text = open ? open.getText() : fs.readFileSync(c.fsPath, 'utf8');
    } catch (e) {
      void vscode.window.showErrorMessage(`FIM: cannot read ${c.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
    const kind = modelFileKind(c.fsPath, text);
    if (kind) {
      if (!vscode.workspace.isTrusted) {
        void vscode.window
          .showWarningMessage(untrustedModelMessage(kind), 'Manage Workspace Trust')
          .then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
        return undefined;
      }
      return { model: c.fsPath, label: path.basename(c.fsPath) };
    }
    if (uri) {
      void vscode.window.showErrorMessage(
        `FIM: ${path.basename(c.fsPath)} is not a model definition (a tfjs Layers model.json, or a JS/TS module whose default export builds a tf.LayersModel).`,
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
  if (vscode.workspace.isTrusted)
    items.push({
      label: '$(folder-opened) Choose a model file…',
      detail: 'a tfjs Layers model.json or a JS/TS model module',
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
      filters: { 'Model definitions': ['json', 'js', 'mjs', 'cjs', 'ts', 'mts', 'cts'] },
      title: 'Model definition',
    });
    return files?.[0] ? pickModel(files[0], info) : undefined;
  }
  return { model: pick.model!, label: pick.label, ...(pick.defaultDataset ? { defaultDataset: pick.defaultDataset } : {}) };
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
  let mu = 0;
  if (defended) {
    const muText = await vscode.window.showInputBox({
      ignoreFocusOut: true,
      title: 'FIM: weight μ of the trace term (loss = CE + μ·tr G_s)',
      value: '0.022',
      prompt: 'The paper uses μ = 0.022 for MNIST; 0 trains the plain baseline',
      validateInput: (v) => (parseMu(v) === null ? 'μ must be a finite number ≥ 0' : undefined),
    });
    if (muText === undefined) return;
    mu = parseMu(muText)!;
  }
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
    epochs: parsePositiveInt(epochsText)!,
    batchSize: s.train.batchSize,
    learningRate: s.train.learningRate,
    seed: s.train.seed,
    ...(s.train.limitTrain ? { limitTrain: s.train.limitTrain } : {}),
    ...(s.train.limitTest ? { limitTest: s.train.limitTest } : {}),
    logEvery: s.train.logEvery,
    storeDir,
  };
  const title = `${defended ? 'Train Defended Model' : 'Train Baseline Model'} (${model.label}, μ=${mu})`;
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

/** A run from the argument, or a quick pick over the store (optionally filtered). */
async function pickRun(
  deps: CommandDeps,
  arg: unknown,
  title: string,
  filter: (r: RunInfo) => boolean = () => true,
): Promise<RunInfo | undefined> {
  const dir = runDirFromArg(arg);
  if (dir) {
    if (!isRunDir(dir)) {
      void vscode.window.showErrorMessage(`FIM: ${dir} is not a run directory`);
      return undefined;
    }
    return readRun(dir);
  }
  const runs = deps.store.runs().filter(filter);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(
      'FIM: no suitable runs in the run store yet. Train a model first (FIM: Train Defended Model).',
    );
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({
      label: r.config?.name ?? r.id,
      description: `μ=${r.config?.mu ?? '?'} · ${r.effectiveState}${r.summary?.testAccuracy != null ? ` · ${(r.summary.testAccuracy * 100).toFixed(1)}%` : ''}`,
      detail: r.id,
      run: r,
    })),
    { title, ignoreFocusOut: true },
  );
  return pick?.run;
}

/** Every inspected sample gets its image and eigen-direction in the table, up to this many (two small PNGs each). */
const MAX_INSPECT_IMAGES = 2000;

const hasCheckpoint = (r: RunInfo) => Boolean(r.status?.latestCheckpoint ?? r.summary?.checkpoint);

async function inspectRun(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to inspect', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const text = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: test samples to inspect',
    value: String(readSettings().inspectSamples),
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (text === undefined) return;
  const result = await deps.jobs.run('inspect', `Inspect ${run.config?.name ?? run.id}`, Inspect, {
    runDir: run.dir,
    samples: parsePositiveInt(text)!,
    images: Math.min(parsePositiveInt(text)!, MAX_INSPECT_IMAGES),
  });
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'inspect', runDir: run.dir, evalName: path.basename(result.evalFile, '.json') });
}

async function attackSweep(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to attack', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const described = new Map(info.attacks.map((a) => [a.name, a]));
  const pick = await vscode.window.showQuickPick(
    info.attacks.map((a) => ({
      label: a.name,
      description: `${a.norm} · ${a.kind}`,
      detail: `${a.title} — ${a.budgetUnit}`,
      name: a.name,
    })),
    { title: 'FIM: attack', matchOnDetail: true, ignoreFocusOut: true },
  );
  if (!pick) return;
  const attack = pick.name;
  const a = described.get(attack);
  const budgetsText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: `FIM: budgets ε for ${attack}`,
    prompt: `comma-separated; ${a?.budgetUnit ?? 'in the attack’s own unit'}`,
    value: defaultBudgets(attack, a?.norm),
    validateInput: (v) => (parseBudgets(v) === null ? 'numbers ≥ 0 separated by commas' : undefined),
  });
  if (budgetsText === undefined) return;
  const samplesText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: test samples to attack',
    value: String(readSettings().attackSamples),
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (samplesText === undefined) return;
  const result = await deps.jobs.run('sweep', `${attack} sweep on ${run.config?.name ?? run.id}`, AttackSweep, {
    runDir: run.dir,
    attack,
    budgets: parseBudgets(budgetsText)!,
    samples: parsePositiveInt(samplesText)!,
  });
  deps.store.fireSoon(0);
  if (result) {
    const evalName = path.basename(result.evalFile, '.json');
    void vscode.window
      .showInformationMessage(`FIM: ${attack} sweep written to ${evalName}.`, 'Fooling Ratio', 'Adversarial Images')
      .then((a) => {
        if (a === 'Fooling Ratio') deps.panels.open({ kind: 'fooling', runDirs: [run.dir] });
        if (a === 'Adversarial Images') deps.panels.open({ kind: 'adversarial', runDir: run.dir, evalName });
      });
  }
}

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
  if (run.config && !vscode.workspace.isTrusted && path.isAbsolute(run.config.model)) {
    void vscode.window.showWarningMessage(untrustedModelMessage(run.config.model.endsWith('.json') ? 'model-json' : 'module'));
    return;
  }
  const result = await deps.jobs.run('resume', `Resume ${run.config?.name ?? run.id}`, Resume, { runDir: run.dir });
  deps.store.fireSoon(0);
  if (result) reportTrained(deps, result.summary.runDir, result.summary.state, result.summary.testAccuracy, result.summary.message);
}

async function openEvaluation(deps: CommandDeps, arg: unknown): Promise<void> {
  if (!arg || typeof arg !== 'object' || !('evalName' in arg)) return;
  const node = arg as Extract<RunsNode, { type: 'eval' }>;
  const kind = readEvalKind(node.run.dir, node.evalName);
  if (kind === 'inspect') deps.panels.open({ kind: 'inspect', runDir: node.run.dir, evalName: node.evalName });
  else if (kind === 'sweep') deps.panels.open({ kind: 'adversarial', runDir: node.run.dir, evalName: node.evalName });
  else if (kind === 'distance') deps.panels.open({ kind: 'fooling', runDirs: [node.run.dir] });
  else await vscode.window.showTextDocument(vscode.Uri.file(path.join(node.run.dir, 'evals', `${node.evalName}.json`)));
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const reg = (id: string, f: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, f);
  return [
    reg(COMMAND.trainDefended, (arg) => train(deps, arg, true)),
    reg(COMMAND.trainBaseline, (arg) => train(deps, arg, false)),
    reg(COMMAND.inspectRun, (arg) => inspectRun(deps, arg)),
    reg(COMMAND.attackSweep, (arg) => attackSweep(deps, arg)),
    reg(COMMAND.compareRuns, (arg, selected) => compareRuns(deps, arg, selected as unknown[] | undefined)),
    reg(COMMAND.openTrainingLog, (arg) => openTrainingLog(deps, arg)),
    reg(COMMAND.stopJob, () => stopJob(deps)),
    reg(COMMAND.resumeRun, (arg) => resumeRun(deps, arg)),
    reg(COMMAND.openDashboard, async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: training dashboard of run');
      if (run) deps.panels.open({ kind: 'training', runDir: run.dir });
    }),
    reg(COMMAND.openAdversarial, async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: adversarial images of run', (r) => evalsOfKind(r, 'sweep').length > 0);
      if (run)
        deps.panels.open({
          kind: 'adversarial',
          runDir: run.dir,
          ...(arg && typeof arg === 'object' && 'evalName' in arg ? { evalName: (arg as { evalName: string }).evalName } : {}),
        });
    }),
    reg(COMMAND.openInspection, async (arg) => {
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
    }),
    reg(COMMAND.openEvaluation, (arg) => openEvaluation(deps, arg)),
    reg(COMMAND.refreshRuns, () => deps.tree.refresh()),
    reg(COMMAND.revealRun, (arg) => {
      const dir = runDirFromArg(arg);
      if (dir) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    }),
    reg(COMMAND.showEngineLog, () => deps.engine.output.show()),
    reg(COMMAND.restartEngine, async () => {
      try {
        const info = await deps.engine.client.restart();
        void vscode.window.showInformationMessage(`FIM: engine restarted (${info.backend.name}, pid ${info.pid}).`);
      } catch (e) {
        void vscode.window.showErrorMessage(`FIM: ${(e as Error).message}`);
      }
    }),
  ];
}
