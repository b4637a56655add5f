/** Where the run store is, from the setting and the workspace (pure, for tests). */
import * as path from 'node:path';
import { DEFAULT_RUNS_DIR } from '../runs/paths';

/** The store: `fim.runStore` (relative to the first workspace folder), default `.fim/runs`. */
export function resolveRunStore(setting: string, workspaceFolder: string | undefined, trusted: boolean): string | null {
  // An untrusted workspace could point the store anywhere (its settings are its own); keep it inside.
  const s = trusted ? setting.trim() || DEFAULT_RUNS_DIR : DEFAULT_RUNS_DIR;
  if (path.isAbsolute(s)) return s;
  return workspaceFolder ? path.join(workspaceFolder, s) : null;
}
