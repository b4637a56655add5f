/**
 * Real trained runs for the end-to-end test: a baseline (μ = 0) and a defended (μ = 0.022)
 * ConvNet trained through the CLI on 20,000 MNIST samples for 2 epochs (enough that the defended
 * model is meaningfully trained, docs/design.md §2), cached outside the repository under a hash
 * of everything that decides their weights (the engine's sources, the native kernels' sources,
 * the locked dependencies, the command lines), so a rerun with unchanged inputs copies them in
 * seconds and any change retrains.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE, log } from './workbench';

const root = path.resolve(__dirname, '../..');

export const REAL_RUNS = [
  { name: 'e2e-baseline', mu: 0 },
  { name: 'e2e-defended', mu: 0.022 },
] as const;

const TRAIN_ARGS = ['--epochs', '2', '--limit-train', '20000', '--limit-test', '2000', '--seed', '0', '--batch', '128'];

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}

/** A hash of the inputs that decide the trained weights. */
export function realRunsKey(): string {
  const h = createHash('sha256');
  const inputs = [
    ...['src/engine', 'src/runs', 'src/protocol', 'src/shared', 'src/cli', 'native/src'].flatMap((d) => filesUnder(path.join(root, d))),
    path.join(root, 'package-lock.json'),
  ].sort();
  for (const f of inputs) {
    h.update(path.relative(root, f));
    h.update(fs.readFileSync(f));
  }
  h.update(JSON.stringify({ runs: REAL_RUNS, args: TRAIN_ARGS }));
  return h.digest('hex').slice(0, 16);
}

/**
 * The run store holding both trained runs (trained now when not cached). Training uses the built
 * CLI (dist/cli.js), the same bundle the VSIX carries.
 */
export function trainedStore(): { dir: string; cached: boolean; seconds: number } {
  const dir = path.join(CACHE, 'trained', realRunsKey());
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return { dir, cached: true, seconds: 0 };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  for (const r of REAL_RUNS) {
    log(`training ${r.name} (μ = ${r.mu}) through the CLI: ${TRAIN_ARGS.join(' ')}`);
    const res = spawnSync(
      process.execPath,
      [path.join(root, 'dist', 'cli.js'), 'train', '--mu', String(r.mu), '--name', r.name, '--out', dir, ...TRAIN_ARGS, '--json'],
      { cwd: root, encoding: 'utf8', env: { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'auto' } },
    );
    if (res.status !== 0) throw new Error(`training ${r.name} failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
    const summary = JSON.parse(res.stdout) as { testAccuracy: number; wallSeconds: number };
    log(`${r.name}: test accuracy ${(summary.testAccuracy * 100).toFixed(2)}% in ${summary.wallSeconds.toFixed(0)} s`);
  }
  fs.writeFileSync(done, new Date().toISOString());
  return { dir, cached: false, seconds: (Date.now() - t0) / 1000 };
}

/** Copies the cached runs into a workspace's run store (the test writes evaluations into them). */
export function copyRuns(from: string, to: string): string[] {
  fs.mkdirSync(to, { recursive: true });
  const out: string[] = [];
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    fs.cpSync(path.join(from, e.name), path.join(to, e.name), { recursive: true });
    out.push(path.join(to, e.name));
  }
  return out;
}
