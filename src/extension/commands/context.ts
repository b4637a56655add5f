/**
 * What every command module shares: the extension's services, and turning a command argument (a
 * runs-tree node, a path, a Uri, or nothing) into a run, asking the user when there is none.
 */
import * as vscode from 'vscode';
import type { EngineInfo } from '../../protocol/engine';
import { isRunDir, readRun } from '../../runs/reader';
import type { RunInfo } from '../../runs/types';
import type { CommandId } from '../commandIds';
import type { Engine } from '../engine';
import type { Jobs } from '../jobs';
import type { PanelManager } from '../panels/panelManager';
import type { RunsNode, RunsTreeProvider } from '../runsTree';
import type { Reproductions } from '../reproductions';
import type { RunStore } from '../runStore';

/** The handlers a command module contributes, by command id (registered in commands/index.ts). */
export type CommandHandlers = Partial<Record<CommandId, (...args: unknown[]) => unknown>>;

export interface CommandDeps {
  engine: Engine;
  jobs: Jobs;
  store: RunStore;
  tree: RunsTreeProvider;
  panels: PanelManager;
  reproductions: Reproductions;
}

/** Several runs from a command invoked on a tree selection (VS Code passes the clicked node and the selection). */
export function runDirsFromArgs(arg: unknown, selected?: unknown): string[] {
  const list = Array.isArray(selected) && selected.length > 1 ? (selected as unknown[]) : arg ? [arg] : [];
  return list.map(runDirFromArg).filter((d): d is string => Boolean(d));
}

/** A run directory from a command argument: a tree node, a path, a Uri, or nothing. */
export function runDirFromArg(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && 'run' in arg) return (arg as RunsNode).run.dir;
  return undefined;
}

export async function engineInfo(engine: Engine): Promise<EngineInfo | undefined> {
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'FIM: starting the engine' }, () =>
      engine.start(),
    );
  } catch (e) {
    void vscode.window.showErrorMessage(`FIM: ${(e as Error).message}`, 'Show Log').then((a) => a && engine.output.show());
    return undefined;
  }
}

export function requireStore(store: RunStore): string | undefined {
  const dir = store.directory;
  if (!dir)
    void vscode.window.showErrorMessage(
      'FIM: open a folder first (runs are stored in the workspace, .fim/runs by default), or set fim.runStore to an absolute path.',
    );
  return dir ?? undefined;
}

/** A run from the argument, or a quick pick over the store (optionally filtered). */
export async function pickRun(
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

export const hasCheckpoint = (r: RunInfo) => Boolean(r.status?.latestCheckpoint ?? r.summary?.checkpoint);
