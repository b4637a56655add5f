/** The defence comparison: opens the panel of a `fim reproduce --defences` directory. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMMAND } from '../commandIds';
import { findDefenceReproductions } from '../panels/panelData';
import type { CommandDeps, CommandHandlers } from './context';

async function compareDefences(deps: CommandDeps, arg: unknown): Promise<void> {
  if (arg instanceof vscode.Uri) {
    deps.panels.open({
      kind: 'defences',
      reproduceDir: path.basename(arg.fsPath) === 'report.json' ? path.dirname(arg.fsPath) : arg.fsPath,
    });
    return;
  }
  // Reproductions live beside the run store (.fim/reproduce, .fim/reproduce-defences, …).
  const root = deps.store.directory ? path.dirname(deps.store.directory) : undefined;
  const found = root ? findDefenceReproductions(root) : [];
  type Item = vscode.QuickPickItem & { dir?: string };
  const items: Item[] = found.map((d) => ({ label: path.basename(d), description: d, dir: d }));
  items.push({ label: '$(folder-opened) Choose a reproduction folder…', detail: 'a folder written by fim reproduce --defences' });
  const pick =
    found.length === 0 && !root
      ? items[items.length - 1]
      : await vscode.window.showQuickPick(items, {
          title: 'FIM: defence comparison to show',
          placeHolder: found.length
            ? 'fim reproduce --defences reports in this workspace'
            : 'none found in this workspace; run fim reproduce --defences all',
        });
  if (!pick) return;
  let dir = pick.dir;
  if (!dir) {
    const dirs = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      title: 'Reproduction folder (with report.json)',
    });
    dir = dirs?.[0]?.fsPath;
  }
  if (dir) deps.panels.open({ kind: 'defences', reproduceDir: dir });
}

export function defencesCommands(deps: CommandDeps): CommandHandlers {
  return { [COMMAND.compareDefences]: (arg) => compareDefences(deps, arg) };
}
