/**
 * Reproduction directories as the extension reads them (plan, state, progress), the CLI
 * arguments it starts `fim reproduce` with, and the process wrapper: SIGINT first (the CLI stops
 * after its step), SIGKILL on a second stop, and what each exit code tells the user.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  describeReproduction,
  findReproductions,
  overallFraction,
  progressLive,
  readReproduction,
  describeStatus,
  reproduceArgs,
  statusArgs,
} from '../../src/extension/reproductionModel';
import { describeReproductionExit, ReproductionProcess } from '../../src/extension/reproductionProcess';
import { makePlan } from '../../src/reproduce/plan';
import { REPRODUCE_FILES, type ReproduceProgress, type ReproduceStatus } from '../../src/runs/reproduce';
import { tmpDir } from '../helpers';

function progress(over: Partial<ReproduceProgress> = {}): ReproduceProgress {
  return {
    formatVersion: 1,
    mode: 'quick',
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:01:00Z',
    state: 'running',
    stages: [
      { key: 'train:mu0:s0', kind: 'train', title: 'train μ = 0', status: 'reused' },
      { key: 'train:mu0.022:s0', kind: 'train', title: 'train μ = 0.022', status: 'done', wallSeconds: 10 },
      { key: 'inspect:mu0:s0', kind: 'inspect', title: 'inspect μ = 0', status: 'running' },
      { key: 'sweep:ossa:mu0:s0', kind: 'sweep', title: 'Fig. 3 OSSA μ = 0', status: 'pending' },
    ],
    current: { key: 'inspect:mu0:s0', index: 2, message: 'inspecting: 150/300 samples', fraction: 0.5 },
    ...over,
  };
}

describe('reproduction directories', () => {
  const fim = tmpDir();
  const quick = path.join(fim, 'reproduce-quick');
  const other = path.join(fim, 'runs');
  fs.mkdirSync(quick, { recursive: true });
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(path.join(quick, REPRODUCE_FILES.plan), JSON.stringify(makePlan({ quick: true })));
  fs.writeFileSync(path.join(quick, REPRODUCE_FILES.progress), JSON.stringify(progress()));

  it('finds reproductions under .fim (not the run store) and extra ones', () => {
    const extra = tmpDir();
    fs.writeFileSync(path.join(extra, REPRODUCE_FILES.state), JSON.stringify({ formatVersion: 1, stages: {}, sessions: [] }));
    assert.deepEqual(findReproductions(fim), [quick]);
    assert.deepEqual(findReproductions(fim, [extra, path.join(fim, 'nope')]).sort(), [quick, extra].sort());
    assert.deepEqual(findReproductions(path.join(fim, 'missing')), []);
  });

  it('reads where a reproduction stands from its progress', () => {
    const r = readReproduction(quick);
    assert.equal(r.live, true, 'this process owns the progress');
    assert.equal(r.done, 2);
    assert.equal(r.total, 4);
    assert.equal(r.plan?.mode, 'quick');
    assert.equal(r.hasReport, false);
    assert.equal(describeReproduction(r), 'quick · 2/4 stages · running: inspect μ = 0 50%');
    assert.equal(overallFraction(progress()), (2 + 0.5) / 4);
  });

  it('a running progress whose process is gone reads as interrupted', () => {
    assert.equal(
      progressLive(progress(), () => false),
      false,
    );
    assert.equal(
      progressLive(progress({ hostname: 'elsewhere' }), () => false),
      true,
      'another host: cannot tell, assume running',
    );
    assert.equal(
      progressLive(progress({ state: 'finished' }), () => true),
      false,
    );
    const dir = path.join(fim, 'interrupted');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, REPRODUCE_FILES.progress), JSON.stringify(progress({ pid: 2 ** 22 + 17 })));
    assert.match(describeReproduction(readReproduction(dir)), /interrupted$/);
  });

  it('reports unreadable files instead of failing', () => {
    const dir = path.join(fim, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, REPRODUCE_FILES.plan), '{ not json');
    const r = readReproduction(dir);
    assert.equal(r.plan, null);
    assert.match(r.problems.join(), /plan\.json is not valid JSON/);
  });

  it('turns the choices into the CLI arguments of fim reproduce', () => {
    assert.deepEqual(reproduceArgs({ mode: 'quick', outDir: '/w/.fim/reproduce-quick' }, 'auto'), [
      'reproduce',
      '--out',
      '/w/.fim/reproduce-quick',
      '--backend',
      'auto',
      '--quick',
    ]);
    assert.deepEqual(
      reproduceArgs(
        { mode: 'custom', outDir: '/d', mus: [0.01, 0.022], seeds: 2, epochs: 3, samples: 100, tableSamples: 8, baselines: false },
        'wasm',
      ),
      [
        'reproduce',
        '--out',
        '/d',
        '--backend',
        'wasm',
        '--mu',
        '0.01,0.022',
        '--seeds',
        '2',
        '--epochs',
        '3',
        '--samples',
        '100',
        '--table-samples',
        '8',
        '--no-baselines',
      ],
    );
    assert.deepEqual(reproduceArgs({ mode: 'full', outDir: '/d', resume: true }, 'auto'), [
      'reproduce',
      '--out',
      '/d',
      '--backend',
      'auto',
      '--plan',
      path.join('/d', 'plan.json'),
    ]);
    const slurm = { executor: 'slurm' as const, slurm: { partition: 'gpu', shards: 4 } };
    assert.deepEqual(reproduceArgs({ mode: 'quick', outDir: '/d' }, 'cpu', slurm), [
      'reproduce',
      '--out',
      '/d',
      '--backend',
      'cpu',
      '--executor',
      'slurm',
      '--partition',
      'gpu',
      '--shards',
      '4',
      '--wait',
      '--quick',
    ]);
  });
});

describe('the fim reproduce process', () => {
  /** A stand-in CLI: prints, then waits; SIGINT makes it finish its "step" and exit 130, as fim reproduce does. */
  function fake(ignoreSigint: boolean) {
    const dir = tmpDir();
    const script = path.join(dir, 'cli.js');
    fs.writeFileSync(
      script,
      `process.on('SIGINT', () => { ${ignoreSigint ? '' : "process.stderr.write('stopping\\n'); setTimeout(() => process.exit(130), 50);"} });
       process.stderr.write('[1/3] train μ = 0\\n');
       setInterval(() => {}, 1000);`,
    );
    const lines: string[] = [];
    const p = new ReproductionProcess(
      dir,
      { command: process.execPath, env: process.env, cwd: dir, cli: script, args: ['reproduce'] },
      (l) => lines.push(l),
    );
    return { p, lines };
  }

  it('interrupts with SIGINT first: the CLI stops after its step with exit code 130', async () => {
    const { p, lines } = fake(false);
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.stop(), 'interrupt');
    const exit = await p.exited;
    assert.equal(exit.code, 130);
    assert.deepEqual(lines, ['[1/3] train μ = 0', 'stopping']);
    assert.match(describeReproductionExit(exit, p.stderrTail).text, /stopped; finished stages are kept/);
  });

  it('kills on a second stop when the step does not end (a long synchronous attack loop)', async () => {
    const { p, lines } = fake(true);
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.stop(), 'interrupt');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(p.stop(), 'kill');
    const exit = await p.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.match(describeReproductionExit(exit, '').text, /killed; at most the running stage is lost/);
  });

  it('says what each exit means', () => {
    assert.deepEqual(describeReproductionExit({ code: 0, signal: null }, ''), { ok: true, text: 'complete' });
    assert.match(describeReproductionExit({ code: 1, signal: null }, '').text, /failed stages/);
    assert.match(
      describeReproductionExit({ code: 2, signal: null }, 'x\nfim: another fim reproduce (pid 4) is working in /d').text,
      /failed \(exit 2\): fim: another fim reproduce/,
    );
  });
});

describe('following a Slurm reproduction (fim reproduce --status --json)', () => {
  it('reads the CLI’s own status of a directory and says how far it is', () => {
    const out = tmpDir();
    const plan = makePlan({ quick: true });
    fs.writeFileSync(path.join(out, REPRODUCE_FILES.plan), JSON.stringify(plan));
    const cli = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...statusArgs(out)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const st = JSON.parse(r.stdout) as ReproduceStatus;
    const d = describeStatus(st);
    assert.equal(d.fraction, 0);
    assert.match(d.message, new RegExp(`^Slurm: 0/${st.stages.length} stages done`));
  });

  it('counts finished stages, names the running ones and says when no job is left', () => {
    const stage = (key: string, state: ReproduceStatus['stages'][number]['state']) => ({
      key,
      kind: 'train' as const,
      title: `train ${key}`,
      state,
      attempts: 1,
      wallSeconds: 1,
    });
    const st: ReproduceStatus = {
      outDir: '/d',
      mode: 'quick',
      complete: false,
      counts: { done: 2, running: 1, queued: 1, failed: 1 },
      stages: [stage('a', 'done'), stage('b', 'done'), stage('c', 'running'), stage('d', 'queued'), stage('e', 'failed')],
      submission: { submittedAt: 't', host: 'h', jobs: ['1'], active: false },
      report: { html: '/d/report.html', exists: false },
    };
    const d = describeStatus(st);
    assert.equal(d.fraction, 3 / 5);
    assert.equal(d.message, 'Slurm: 2/5 stages done · 1 running (train c) · 1 queued · 1 failed · no job queued or running');
  });
});
