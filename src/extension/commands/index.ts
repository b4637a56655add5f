/**
 * The FIM commands: palette, tree context menus, CodeLens and webview requests all land here.
 * Each area contributes its handlers from its own module (train, evaluate, open, …); this file
 * registers them all and refuses to start with a declared command that has no handler. Multi-step
 * inputs keep open when focus moves (ignoreFocusOut), as VS Code's multi-step input sample does: a
 * panel or notification taking focus must not throw away the steps so far.
 */
import * as vscode from 'vscode';
import { COMMAND, type CommandId } from '../commandIds';
import type { CommandDeps, CommandHandlers } from './context';
import { defencesCommands } from './defences';
import { evaluateCommands } from './evaluate';
import { evaluationCommands } from './evaluations';
import { modelCommands } from './models';
import { openCommands } from './open';
import { reproduceCommands } from './reproduce';
import { setupCommands } from './setup';
import { trainCommands } from './train';
import { autoattackCommands } from './autoattack';

export type { CommandDeps } from './context';
export { runDirFromArg } from './context';

/** Every command module's handlers, merged; a command id claimed twice is a bug. */
export function commandHandlers(deps: CommandDeps): CommandHandlers {
  const all: CommandHandlers = {};
  for (const part of [
    trainCommands(deps),
    evaluateCommands(deps),
    openCommands(deps),
    evaluationCommands(deps),
    reproduceCommands(deps),
    setupCommands(deps),
    modelCommands(deps),
    autoattackCommands(deps),
    defencesCommands(deps),
  ]) {
    for (const [id, f] of Object.entries(part) as [CommandId, CommandHandlers[CommandId]][]) {
      if (all[id]) throw new Error(`command ${id} has two handlers`);
      all[id] = f;
    }
  }
  return all;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const handlers = commandHandlers(deps);
  const missing = Object.values(COMMAND).filter((id) => !handlers[id]);
  if (missing.length) throw new Error(`commands without a handler: ${missing.join(', ')}`);
  return Object.entries(handlers).map(([id, f]) => vscode.commands.registerCommand(id, f));
}
