import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { makePlan } from '../../src/reproduce/plan';
import { FILES } from '../../src/reproduce/orchestrate';
import { tmpDir } from '../helpers';
import { tinyPlan } from '../reproduce/tinyPlan';

/**
 * `fim reproduce` on the command line: usage errors, --help, --report-only with --json (exactly
 * one JSON object on stdout, progress on stderr) on a reproduction that has not run yet, and the
 * one-reproduction-per-directory lock. The stages themselves are tested in test/engine/reproduce.
 */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

test('bad flags and values give a usage message and exit code 2; --help exits 0', () => {
  for (const args of [
    ['--mu', 'abc'],
    ['--mu', '-0.1'],
    ['--seeds', '0'],
    ['--samples', '1.5'],
    ['--nope'],
    ['--backend', 'tpu'],
    ['--mu', '0'],
  ]) {
    const r = fim(['reproduce', ...args, '--out', tmpDir()]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /fim reproduce/);
  }
  const help = fim(['reproduce', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /fim reproduce \[options\][\s\S]*squared l2 norm[\s\S]*--quick/);
  assert.match(fim(['--help']).stdout, /reproduce/);
});

test('--report-only --json rebuilds the report from the directory and prints one JSON object', () => {
  const out = tmpDir();
  const plan = makePlan({ quick: true });
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  // Flags that differ from the stored plan do not matter: --report-only uses plan.json.
  const r = fim(['reproduce', '--report-only', '--seeds', '4', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { html: string; json: string; complete: boolean; findings: unknown[]; sanity: unknown[] };
  assert.equal(j.complete, false);
  assert.equal(j.html, path.join(out, FILES.reportHtml));
  assert.ok(fs.readFileSync(j.html, 'utf8').includes('Partial report'));
  assert.equal(JSON.parse(fs.readFileSync(j.json, 'utf8')).plan.seeds.length, 1);
  assert.match(r.stderr, /wrote .*report\.html/);
  assert.equal(fs.existsSync(path.join(out, FILES.lock)), false, 'the lock is released');
});

test('a second reproduction in a directory that is in use is refused', () => {
  const out = tmpDir();
  fs.writeFileSync(path.join(out, FILES.lock), JSON.stringify({ pid: process.pid }));
  const r = fim(['reproduce', '--report-only', '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`another fim reproduce \\(pid ${process.pid}\\) is working in`));
});

test('--plan DIR/plan.json resumes with the directory’s own plan (as VS Code’s Resume Reproduction runs it)', () => {
  const out = tmpDir();
  const plan = tinyPlan(out);
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  const r = fim(['reproduce', '--plan', path.join(out, FILES.plan), '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const j = JSON.parse(r.stdout) as { complete: boolean };
  assert.equal(j.complete, true);
  const runs = fs.readdirSync(path.join(out, FILES.runs));
  assert.equal(runs.length, 2, 'the tiny plan trains two models');
  for (const run of runs) {
    const config = JSON.parse(fs.readFileSync(path.join(out, FILES.runs, run, 'config.json'), 'utf8')) as {
      model: string;
      trainSamples: number;
    };
    assert.equal(config.model, plan.model, 'the stored plan’s model definition');
    assert.equal(config.trainSamples, plan.trainSamples);
  }
  const progress = JSON.parse(fs.readFileSync(path.join(out, FILES.progress), 'utf8')) as { state: string };
  assert.equal(progress.state, 'finished');
});
