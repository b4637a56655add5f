/**
 * Run directories that reach a panel from untrusted places: a webview's `open` message, the state
 * a webview saved (handed back after a reload), a command argument. They become webview resource
 * roots and files to read, so each is resolved to its real path (symbolic links followed) and
 * must lie inside the run store. No `vscode` import, so it is tested under plain Node.
 */
import { panelDirs, type PanelKey } from '../../protocol/webview';
import { realPathWithin } from '../../runs/paths';

/** The key with every run directory as a real path inside one of `roots`, or null when one is not. */
export function confinePanelKey(key: PanelKey, roots: string[]): PanelKey | null {
  const inside = (d: string) => realPathWithin(d, roots);
  switch (key.kind) {
    case 'training':
    case 'inspect':
    case 'adversarial':
    case 'autoattack': {
      const runDir = inside(key.runDir);
      return runDir ? { ...key, runDir } : null;
    }
    case 'report': {
      const dir = inside(key.dir);
      return dir ? { kind: 'report', dir } : null;
    }
    case 'fooling':
    case 'distance':
    case 'transfer':
    case 'worstcase':
    case 'curves': {
      const runDirs = key.runDirs.map(inside);
      return runDirs.every((d): d is string => d !== null) ? { kind: key.kind, runDirs } : null;
    }
    case 'defences': {
      // The roots include the workspace's .fim/ (where fim reproduce --defences writes by default)
      // and the reproductions started from VS Code (extension/main.ts panelRoots).
      const reproduceDir = inside(key.reproduceDir);
      return reproduceDir ? { kind: 'defences', reproduceDir } : null;
    }
  }
}

/** A path a panel may reveal: inside one of the run directories it shows, symbolic links resolved. */
export function revealablePath(p: unknown, key: PanelKey): string | null {
  return realPathWithin(p, panelDirs(key));
}
