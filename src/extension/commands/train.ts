/** Training: train defended or baseline, resume, stop, and what is said when a run ends. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Resume, Train, type EngineInfo, type TrainParams } from '../../protocol/engine';
import { DEFENCES, defenceInfo, defenceLabel, resolveDefence, type DefenceKind } from '../../runs/defence';
import {
  AUGMENTATIONS,
  defaultAtEpsilonFor,
  defaultAtStepSize,
  defaultAugmentationFor,
  type Augmentation,
} from '../../protocol/trainDefaults';
import { parsedBy, runForm, type Field } from '../form';
import { adversarialOf } from '../trainOptions';
import { COMMAND } from '../commandIds';
import { parseMu, parseNumberIn, parsePositive, parsePositiveInt } from '../inputs';
import { modelFileKind } from '../modelFiles';
import { BATCHNORM_CHOICES, LAYOUT_CHOICES, modelOptionsOf, type LayoutChoice } from '../onnxOptions';
import { parseNormalizeSpec } from '../../shared/normalize';
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
    ignoreFocusOut: true,
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

/** The training form's answers (src/extension/form.ts). */
interface TrainAnswers extends Record<string, unknown> {
  dataset: { name: string; needsDataDir: boolean };
  /** Train Defended Model only: the defence (docs/defences.md) and its weight (the trace term's μ). */
  defence: DefenceKind;
  weight: number;
  epochs: number;
  labelSmoothing: number;
  augmentation: 'auto' | Augmentation;
  adversarial: 'off' | 'default' | 'custom';
  atEpsilon: number;
  atSteps: number;
  atStepSize: number;
  atRatio: number;
  /** ONNX models only: how the graph's input is read (fim train --normalize, --input-layout, --freeze-bn). */
  normalize: { mean: number[]; std: number[] } | undefined;
  layout: LayoutChoice;
  freezeBatchNorm: boolean;
}

/**
 * The form behind Train Defended / Baseline Model: dataset, μ, epochs, label smoothing (the
 * paper's LSR comparison), augmentation and PGD adversarial training, each with the default
 * from the settings (and for the radius and augmentation, the dataset's usual one, as fim train).
 */
function trainFields(
  info: EngineInfo,
  model: { model: string; label: string; defaultDataset?: string },
  defended: boolean,
): Field<TrainAnswers>[] {
  const s = readSettings().train;
  const datasets = info.datasets.map((d) => ({
    label: d.name,
    detail: d.description,
    value: { name: d.name, needsDataDir: d.needsDataDir },
  }));
  const wanted = model.defaultDataset ?? 'mnist';
  const onnx = path.extname(model.model).toLowerCase() === '.onnx';
  const eps = (a: Partial<TrainAnswers>) => s.atEpsilon || defaultAtEpsilonFor(a.dataset?.name ?? wanted);
  return [
    {
      type: 'pick',
      key: 'dataset',
      title: `dataset for ${model.label}`,
      when: () => datasets.length > 1,
      options: () => datasets,
      initial: () =>
        Math.max(
          0,
          datasets.findIndex((d) => d.label === wanted),
        ),
    },
    {
      type: 'text',
      key: 'normalize',
      title: 'ONNX input normalisation (empty: the model takes pixels in [0, 1] or normalises them itself)',
      prompt: 'mean=0.1307,std=0.3081   or per channel: mean=0.485:0.456:0.406,std=0.229:0.224:0.225',
      when: () => onnx,
      value: () => '',
      parse: (t) => {
        if (t.trim() === '') return { value: undefined };
        const r = parseNormalizeSpec(t);
        return typeof r === 'string' ? { error: r } : { value: r };
      },
    },
    {
      type: 'pick',
      key: 'layout',
      title: 'layout of the ONNX graph’s input',
      when: () => onnx,
      options: () => LAYOUT_CHOICES.map((c) => ({ label: c.label, detail: c.detail, value: c.choice })),
    },
    {
      type: 'pick',
      key: 'freezeBatchNorm',
      title: 'BatchNormalization while fine-tuning',
      when: () => onnx,
      options: () => BATCHNORM_CHOICES.map((c) => ({ label: c.label, detail: c.detail, value: c.freeze })),
    },
    {
      type: 'pick',
      key: 'defence',
      title: "defence: the paper's trace term, or a FIM-derived defence beyond it",
      when: () => defended,
      options: () => DEFENCES.map((d) => ({ label: d.kind, detail: d.title, value: d.kind })),
    },
    {
      type: 'text',
      key: 'weight',
      title: 'weight of the defence (for the trace term: μ in CE + μ·tr G_s)',
      prompt: 'The paper uses μ = 0.022 for MNIST; 0 trains the plain baseline; other options: fim train --defence-option',
      when: () => defended,
      value: (a) => String(defenceInfo(a.defence ?? 'trace').defaultWeight),
      parse: parsedBy(parseMu, 'the weight must be a finite number ≥ 0'),
    },
    {
      type: 'text',
      key: 'epochs',
      title: 'epochs',
      value: () => String(s.epochs),
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'text',
      key: 'labelSmoothing',
      title: 'label smoothing α (the paper’s LSR comparison; 0 = off)',
      prompt: 'targets become y·(1 − α) + α/K; the paper gives no α, 0.1 is usual',
      value: () => String(s.labelSmoothing),
      parse: parsedBy((t) => parseNumberIn(t, 0, 1, false), 'α must be a number in [0, 1)'),
    },
    {
      type: 'pick',
      key: 'augmentation',
      title: 'augmentation of training batches',
      options: (a) => [
        {
          label: 'dataset default',
          description: defaultAugmentationFor(a.dataset?.name ?? wanted),
          detail: 'crop + flip for CIFAR-10, crop for GTSRB, none otherwise',
          value: 'auto',
        },
        { label: 'none', value: 'none' },
        { label: 'crop', detail: 'random crop of the 4-pixel-padded image', value: 'crop' },
        { label: 'crop-flip', detail: 'random crop and horizontal flip', value: 'crop-flip' },
      ],
      initial: () => ['auto', ...AUGMENTATIONS].indexOf(s.augmentation),
    },
    {
      type: 'pick',
      key: 'adversarial',
      title: 'PGD adversarial training (Madry et al.)',
      options: (a) => [
        { label: 'off', value: 'off' },
        {
          label: 'on',
          description: `l∞ ε = ${fmtNum(eps(a))}, ${s.atSteps} steps, ratio ${s.atRatio}`,
          detail: 'each batch partly replaced by PGD adversarials (a baseline defence to compare with)',
          value: 'default',
        },
        { label: 'on, with other settings…', detail: 'choose ε, steps, step size and ratio', value: 'custom' },
      ],
      initial: () => (s.adversarialTraining ? 1 : 0),
    },
    {
      type: 'text',
      key: 'atEpsilon',
      title: 'adversarial training: l∞ radius ε (pixels in [0, 1])',
      when: (a) => a.adversarial === 'custom',
      value: (a) => fmtNum(eps(a)),
      parse: parsedBy((t) => parsePositive(t, 1), 'ε must be in (0, 1]'),
    },
    {
      type: 'text',
      key: 'atSteps',
      title: 'adversarial training: PGD steps per batch',
      when: (a) => a.adversarial === 'custom',
      value: () => String(s.atSteps),
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'text',
      key: 'atStepSize',
      title: 'adversarial training: PGD step size',
      prompt: 'default 2.5·ε/steps (Madry et al.)',
      when: (a) => a.adversarial === 'custom',
      value: (a) => fmtNum(defaultAtStepSize(a.atEpsilon ?? eps(a), a.atSteps ?? s.atSteps)),
      parse: parsedBy((t) => parsePositive(t), 'a number > 0'),
    },
    {
      type: 'text',
      key: 'atRatio',
      title: 'adversarial training: fraction of each batch replaced by PGD examples',
      when: (a) => a.adversarial === 'custom',
      value: () => String(s.atRatio),
      parse: parsedBy((t) => parsePositive(t, 1), 'a fraction in (0, 1]'),
    },
  ];
}

const fmtNum = (v: number) => String(Number(v.toPrecision(4)));

async function train(deps: CommandDeps, arg: unknown, defended: boolean): Promise<void> {
  const storeDir = requireStore(deps.store);
  if (!storeDir) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const model = await pickModel(arg, info);
  if (!model) return;
  const only = info.datasets.length === 1 ? info.datasets[0] : undefined;
  const answers = await runForm<TrainAnswers>(
    defended ? 'Train Defended Model' : 'Train Baseline Model',
    trainFields(info, model, defended),
    {
      defence: 'trace',
      weight: 0,
      atEpsilon: 0,
      atSteps: 0,
      atStepSize: 0,
      atRatio: 0,
      normalize: undefined,
      layout: 'detect',
      freezeBatchNorm: false,
      ...(only ? { dataset: { name: only.name, needsDataDir: only.needsDataDir } } : {}),
    },
  );
  if (!answers) return;
  let dataDir: string | undefined;
  if (answers.dataset.needsDataDir) {
    const dirs = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      title: `Folder with the ${answers.dataset.name} files`,
    });
    if (!dirs?.[0]) return;
    dataDir = dirs[0].fsPath;
  }
  let choice: ReturnType<typeof resolveDefence> = { mu: 0 };
  if (defended) {
    try {
      choice = resolveDefence(answers.defence, answers.weight);
    } catch (e) {
      void vscode.window.showErrorMessage(`FIM: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }
  const { mu, defence } = choice;
  const s = readSettings();
  const adversarialTraining = adversarialOf(answers.adversarial, answers.dataset.name, s.train, answers);
  const augmentation = answers.augmentation === 'auto' ? defaultAugmentationFor(answers.dataset.name) : answers.augmentation;
  const modelOptions = modelOptionsOf(answers);
  const params: Omit<TrainParams, 'jobId'> = {
    model: model.model,
    ...(modelOptions ? { modelOptions } : {}),
    dataset: answers.dataset.name,
    ...(dataDir ? { dataDir } : {}),
    mu,
    ...(defence ? { defence } : {}),
    ...(answers.labelSmoothing ? { labelSmoothing: answers.labelSmoothing } : {}),
    ...(augmentation !== 'none' ? { augmentation } : {}),
    ...(adversarialTraining ? { adversarialTraining } : {}),
    epochs: answers.epochs,
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
