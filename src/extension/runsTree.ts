/** The activity-bar tree of runs and their evaluations, refreshed from the run store. */
import * as vscode from 'vscode';
import type { RunInfo } from '../runs/types';
import type { Jobs } from './jobs';
import type { RunStore } from './runStore';
import { evalItemModel, readEvalKind, runItemModel, type ItemModel } from './runsTreeModel';
import { COMMAND } from './commandIds';

export type RunsNode = { type: 'run'; run: RunInfo } | { type: 'eval'; run: RunInfo; evalName: string };

export function toTreeItem(m: ItemModel, id: string): vscode.TreeItem {
  const item = new vscode.TreeItem(
    m.label,
    m.collapsible ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
  );
  item.id = id;
  item.description = m.description;
  item.tooltip = new vscode.MarkdownString(m.tooltip);
  item.iconPath = new vscode.ThemeIcon(m.icon, m.iconColor ? new vscode.ThemeColor(m.iconColor) : undefined);
  item.contextValue = m.contextValue;
  return item;
}

/** The tree item of a run or an evaluation (also under a reproduction, src/extension/reproductionsTree.ts). */
export function runsNodeItem(node: RunsNode, jobs: Jobs): vscode.TreeItem {
  if (node.type === 'run') {
    const item = toTreeItem(runItemModel(node.run, jobs.progressFor(node.run.dir)), node.run.dir);
    item.command = { command: COMMAND.openDashboard, title: 'Open Training Dashboard', arguments: [node] };
    return item;
  }
  const kind = readEvalKind(node.run.dir, node.evalName);
  const item = toTreeItem(evalItemModel(node.run.dir, node.evalName, kind), `${node.run.dir}#${node.evalName}`);
  item.command = { command: COMMAND.openEvaluation, title: 'Open Evaluation', arguments: [node] };
  return item;
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subs: vscode.Disposable[];
  private runs: RunInfo[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly jobs: Jobs,
  ) {
    this.subs = [store.onDidChange(() => this.refresh()), jobs.onDidChange(() => this.changed.fire(undefined))];
    this.refresh();
  }

  refresh(): void {
    this.runs = this.store.runs();
    void vscode.commands.executeCommand('setContext', 'fim.hasRuns', this.runs.length > 0);
    this.changed.fire(undefined);
  }

  get currentRuns(): readonly RunInfo[] {
    return this.runs;
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    return runsNodeItem(node, this.jobs);
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (!node) return this.runs.map((run) => ({ type: 'run', run }));
    if (node.type === 'run') return node.run.evals.map((evalName) => ({ type: 'eval', run: node.run, evalName }));
    return [];
  }

  getParent(node: RunsNode): RunsNode | undefined {
    return node.type === 'eval' ? { type: 'run', run: node.run } : undefined;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
