/**
 * Bring your own model: import an ONNX file or a tfjs Layers model.json as a run (then inspect
 * it), and export a run's model as ONNX. Fine-tuning an ONNX model is "Train Defended Model" on
 * the .onnx file (train.ts). In a restricted (untrusted) workspace an ONNX file is data, not code:
 * importing, fine-tuning and exporting it is allowed (the engine reads the file, and external
 * data only from beside it); a model.json stays refused there, as for training.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExportModel, ImportModel, type ImportParams } from '../../protocol/engine';
import { parseNormalizeSpec } from '../../shared/normalize';
import { COMMAND } from '../commandIds';
import { untrustedModelMessage } from '../trust';
import { engineInfo, hasCheckpoint, pickRun, requireStore, type CommandDeps, type CommandHandlers } from './context';

const IMPORTABLE = ['.onnx', '.json'];

async function modelFile(arg: unknown): Promise<string | undefined> {
  if (arg instanceof vscode.Uri && arg.scheme === 'file') return arg.fsPath;
  const files = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'ONNX or tfjs Layers model': ['onnx', 'json'] },
    title: 'FIM: model to import',
  });
  return files?.[0]?.fsPath;
}

async function importModel(deps: CommandDeps, arg: unknown): Promise<void> {
  const storeDir = requireStore(deps.store);
  if (!storeDir) return;
  const file = await modelFile(arg);
  if (!file) return;
  const ext = path.extname(file).toLowerCase();
  if (!IMPORTABLE.includes(ext)) {
    void vscode.window.showErrorMessage(`FIM: ${path.basename(file)} is neither an ONNX file (.onnx) nor a tfjs Layers model.json.`);
    return;
  }
  if (ext === '.json' && !vscode.workspace.isTrusted) {
    void vscode.window
      .showWarningMessage(untrustedModelMessage('model-json'), 'Manage Workspace Trust')
      .then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
    return;
  }
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const dataset = await vscode.window.showQuickPick(
    info.datasets.map((d) => ({ label: d.name, detail: d.description, needsDataDir: d.needsDataDir, picked: d.name === 'mnist' })),
    { title: `FIM: the dataset ${path.basename(file)} was trained on`, ignoreFocusOut: true },
  );
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
  let normalize: { mean: number[]; std: number[] } | undefined;
  if (ext === '.onnx') {
    const text = await vscode.window.showInputBox({
      ignoreFocusOut: true,
      title: 'FIM: input normalisation (empty: the model takes pixels in [0, 1] or normalises them itself)',
      placeHolder: 'mean=0.1307,std=0.3081   or per channel: mean=0.485:0.456:0.406,std=0.229:0.224:0.225',
      validateInput: (v) => {
        if (v.trim() === '') return undefined;
        const r = parseNormalizeSpec(v);
        return typeof r === 'string' ? r : undefined;
      },
    });
    if (text === undefined) return;
    if (text.trim()) normalize = parseNormalizeSpec(text) as { mean: number[]; std: number[] };
  }
  const params: Omit<ImportParams, 'jobId'> = {
    model: file,
    dataset: dataset.label,
    ...(dataDir ? { dataDir } : {}),
    storeDir,
    ...(normalize ? { modelOptions: { normalize } } : {}),
  };
  const result = await deps.jobs.run('import', `Import ${path.basename(file)}`, ImportModel, params);
  deps.store.fireSoon(0);
  if (!result) return;
  const notes = result.notes.length ? ` (${result.notes.join('; ')})` : '';
  void vscode.window.showInformationMessage(
    `FIM: imported ${path.basename(file)}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% on ${result.testSamples} samples${notes}.`,
  );
  await vscode.commands.executeCommand(COMMAND.inspectRun, result.runDir);
}

async function exportOnnx(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to export as ONNX', hasCheckpoint);
  if (!run) return;
  const base = run.config?.name ?? run.id;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    title: `FIM: export ${base} as ONNX`,
    filters: { ONNX: ['onnx'] },
    ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${base}.onnx`) } : {}),
  });
  if (!target) return;
  const result = await deps.jobs.run('export', `Export ${base} as ONNX`, ExportModel, { runDir: run.dir, out: target.fsPath });
  if (!result) return;
  const what = result.kind === 'imported' ? 'the imported graph with the run’s weights' : 'a graph converted from the run’s layers';
  void vscode.window.showInformationMessage(
    `FIM: wrote ${path.basename(result.file)}: ${what}, input "${result.inputName}" [${result.inputShape.map((d) => d ?? '?').join(', ')}], output "${result.outputName}", opset ${result.opset}; read back within ${result.maxRelativeDifference.toExponential(1)} of the run's logits.`,
  );
}

export function modelCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.importModel]: (arg) => importModel(deps, arg),
    [COMMAND.exportOnnx]: (arg) => exportOnnx(deps, arg),
  };
}
