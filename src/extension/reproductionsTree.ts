/**
 * The Reproductions view: every reproduction directory of the workspace with its progress (live
 * from progress.json), and below each its trainings and their evaluations, which open in the same
 * panels as the runs of the run store.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { listRuns } from '../runs/reader';
import { REPRODUCE_FILES } from '../runs/reproduce';
import { COMMAND } from './commandIds';
import type { Jobs } from './jobs';
import { describeReproduction, type ReproductionInfo } from './reproductionModel';
import type { Reproductions } from './reproductions';
import { runsNodeItem, type RunsNode } from './runsTree';

export type ReproductionsNode = { type: 'repro'; reproduction: ReproductionInfo } | RunsNode;

function reproductionItem(r: ReproductionInfo, runningHere: boolean): vscode.TreeItem {
  const item = new vscode.TreeItem(r.name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `repro:${r.dir}`;
  item.description = describeReproduction(r);
  const icon = r.live ? 'sync~spin' : r.failed ? 'error' : r.total !== null && r.done === r.total ? 'pass' : 'debug-pause';
  item.iconPath = new vscode.ThemeIcon(icon);
  const tip = new vscode.MarkdownString(
    [`**${r.name}** (${r.plan?.mode ?? '?'})`, `\`${r.dir}\``, describeReproduction(r), ...r.problems.map((p) => `problem: ${p}`)].join(
      '\n\n',
    ),
  );
  item.tooltip = tip;
  item.contextValue = `fimRepro${r.live ? '.live' : '.idle'}${runningHere ? '.here' : ''}${r.hasReport ? '.report' : ''}${r.plan ? '.plan' : ''}`;
  item.command = { command: COMMAND.openReport, title: 'Open Report', arguments: [{ reproduction: r }] };
  return item;
}

export class ReproductionsTreeProvider implements vscode.TreeDataProvider<ReproductionsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ReproductionsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subs: vscode.Disposable[];

  constructor(
    private readonly reproductions: Reproductions,
    private readonly jobs: Jobs,
  ) {
    this.subs = [reproductions.onDidChange(() => this.refresh()), jobs.onDidChange(() => this.changed.fire(undefined))];
    this.refresh();
  }

  refresh(): void {
    void vscode.commands.executeCommand('setContext', 'fim.hasReproductions', this.reproductions.list().length > 0);
    this.changed.fire(undefined);
  }

  getTreeItem(node: ReproductionsNode): vscode.TreeItem {
    if (node.type === 'repro') return reproductionItem(node.reproduction, this.reproductions.isRunning(node.reproduction.dir));
    return runsNodeItem(node, this.jobs);
  }

  getChildren(node?: ReproductionsNode): ReproductionsNode[] {
    if (!node) return this.reproductions.list().map((reproduction) => ({ type: 'repro', reproduction }));
    if (node.type === 'repro') return listRuns(path.join(node.reproduction.dir, REPRODUCE_FILES.runs)).map((run) => ({ type: 'run', run }));
    if (node.type === 'run') return node.run.evals.map((evalName) => ({ type: 'eval', run: node.run, evalName }));
    return [];
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
