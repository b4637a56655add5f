/**
 * CodeLens above a model definition (a model.json or a model module): "Train Defended Model",
 * and once runs of it exist, the latest run's accuracy and OSSA fooling ratio.
 */
import * as vscode from 'vscode';
import { definitionLine, modelFileKind } from './modelFiles';
import { latestRunSummary } from './modelRuns';
import type { RunStore } from './runStore';
import { COMMAND } from './commandIds';

export class ModelCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: RunStore) {
    this.sub = store.onDidChange(() => this.changed.fire());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const kind = modelFileKind(doc.fileName, doc.getText());
    if (!kind || kind === 'onnx') return [];
    const line = definitionLine(kind, doc.getText());
    const range = new vscode.Range(line, 0, line, 0);
    const lenses = [
      new vscode.CodeLens(range, {
        title: '$(shield) Train Defended Model',
        command: COMMAND.trainDefended,
        arguments: [doc.uri],
        tooltip: 'Train this architecture with the FIM trace term (CE + μ·tr G_s)',
      }),
      new vscode.CodeLens(range, {
        title: 'Train Baseline',
        command: COMMAND.trainBaseline,
        arguments: [doc.uri],
        tooltip: 'Train this architecture with plain cross-entropy (μ = 0)',
      }),
    ];
    const latest = latestRunSummary(this.store.runs(), doc.fileName);
    if (latest)
      lenses.push(
        new vscode.CodeLens(range, {
          title: latest.text,
          command: COMMAND.openDashboard,
          arguments: [latest.run.dir],
          tooltip: latest.run.dir,
        }),
      );
    return lenses;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
