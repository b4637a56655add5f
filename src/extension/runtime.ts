/**
 * Which Node runtime runs the engine. The engine needs Node ≥ 20 (tfjs, wasm); VS Code's own
 * runtime (Electron, run as Node with ELECTRON_RUN_AS_NODE=1) is the fallback that always exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RuntimeChoice {
  command: string;
  /** Variables to add to the engine's environment. */
  env: Record<string, string>;
  /** Where the choice came from, for the log. */
  source: 'setting' | 'path' | 'vscode';
  /** Why a configured path was not used (untrusted workspace). */
  note?: string;
}

/** First executable called `name` on a PATH string. */
export function findOnPath(name: string, pathVar: string | undefined, platform = process.platform): string | null {
  if (!pathVar) return null;
  const exts = platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/**
 * The configured runtime when the workspace is trusted (a custom path runs code of the
 * workspace's choosing), else `node` on PATH, else VS Code's runtime as Node.
 */
export function chooseRuntime(opts: {
  configured: string;
  trusted: boolean;
  pathVar: string | undefined;
  execPath: string;
  platform?: NodeJS.Platform;
}): RuntimeChoice {
  const configured = opts.configured.trim();
  let note: string | undefined;
  if (configured) {
    if (opts.trusted) return { command: configured, env: {}, source: 'setting' };
    note = `fim.engine.nodePath (${configured}) is ignored in an untrusted workspace`;
  }
  const onPath = findOnPath('node', opts.pathVar, opts.platform);
  if (onPath) return { command: onPath, env: {}, source: 'path', ...(note ? { note } : {}) };
  return { command: opts.execPath, env: { ELECTRON_RUN_AS_NODE: '1' }, source: 'vscode', ...(note ? { note } : {}) };
}
