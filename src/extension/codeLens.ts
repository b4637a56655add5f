/**
 * CodeLens above a model definition (a model.json or a model module): "Train Defended Model",
 * and once runs of it exist, the latest run's accuracy and OSSA fooling ratio.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunInfo } from '../runs/types';
import { definitionLine, modelFileKind } from './modelFiles';
import { evalsOfKind, loadEval } from './panels/panelData';
import type { RunStore } from './runStore';

/** The latest completed run of a model file and its OSSA fooling ratio at the largest budget. */
export function latestRunSummary(runs: readonly RunInfo[], modelFile: string): { run: RunInfo; text: string } | null {
  const file = path.resolve(modelFile);
  const mine = runs.filter((r) => r.config && path.resolve(r.config.model) === file && r.summary);
  const run = mine[0]; // listRuns is newest first
  if (!run) return null;
  const parts = [`latest run ${run.config!.name}: ${run.summary!.testAccuracy === null ? 'no accuracy yet' : `${(run.summary!.testAccuracy * 100).toFixed(1)}% accuracy`}`];
  for (const name of evalsOfKind(run, 'sweep')) {
    try {
      const ev = loadEval(run.dir, name, 'sweep');
      if (ev.attack.toLowerCase() !== 'ossa' || ev.results.length === 0) continue;
      const last = ev.results.reduce((a, b) => (b.budget > a.budget ? b : a));
      parts.push(`OSSA fooling ${(last.foolingRatio * 100).toFixed(1)}% at ε=${last.budget}`);
      break;
    } catch {
      // a damaged eval file is reported when opened, not in a lens
    }
  }
  return { run, text: parts.join(' · ') };
}

export class ModelCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: RunStore) {
    this.sub = store.onDidChange(() => this.changed.fire());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const kind = modelFileKind(doc.fileName, doc.getText());
    if (!kind) return [];
    const line = definitionLine(kind, doc.getText());
    const range = new vscode.Range(line, 0, line, 0);
    const lenses = [
      new vscode.CodeLens(range, { title: '$(shield) Train Defended Model', command: 'fim.trainDefended', arguments: [doc.uri], tooltip: 'Train this architecture with the FIM trace term (CE + μ·tr G_s)' }),
      new vscode.CodeLens(range, { title: 'Train Baseline', command: 'fim.trainBaseline', arguments: [doc.uri], tooltip: 'Train this architecture with plain cross-entropy (μ = 0)' }),
    ];
    const latest = latestRunSummary(this.store.runs(), doc.fileName);
    if (latest) lenses.push(new vscode.CodeLens(range, { title: latest.text, command: 'fim.openDashboard', arguments: [latest.run.dir], tooltip: latest.run.dir }));
    return lenses;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
