/**
 * Processes that meet over one run store: two resumes of the same run, two evaluations of the
 * same name, and `fim runs` read in a loop while a run trains. Real processes (the bundled CLI),
 * started together: whichever wins, the other gets a clear "in use" error, the files stay whole
 * and no record is written twice.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { train } from '../../src/engine/train/trainer';
import type { InspectEval } from '../../src/runs/evals';
import { listRuns, readJsonFile, readMetrics, readRun } from '../../src/runs/reader';
import type { MetricRecord } from '../../src/runs/types';
import { bundled, runFim } from '../cliBundle';
import { writeSmallDefinition } from '../engine/eval/tinyRun';
import { tmpDir, useEngineBackend } from '../helpers';

let root: string;
let definition: string;

before(async () => {
  await useEngineBackend();
  root = tmpDir('fim-conc-');
  definition = writeSmallDefinition(root, 1);
});

/** A run stopped (as by Ctrl-C) after `stopAfter` steps of `epochs` epochs of 20 steps. */
async function stoppedRun(store: string, epochs: number, stopAfter: number): Promise<string> {
  const ac = new AbortController();
  const s = await train(
    {
      model: definition,
      dataset: 'mnist',
      mu: 0.01,
      epochs,
      batchSize: 16,
      learningRate: 1e-3,
      seed: 4,
      limitTrain: 320,
      limitTest: 32,
      storeDir: store,
      name: 'shared',
      backend: 'wasm',
      logEvery: 5,
    },
    { onProgress: (p) => p.step >= stopAfter && ac.abort() },
    ac.signal,
  );
  assert.equal(s.state, 'stopped');
  return s.runDir;
}

/** Each (kind, step) once: nothing trained twice was logged twice. */
function assertNoDuplicates(records: MetricRecord[]): void {
  const keys = records.map((r) => `${r.kind}:${r.step}`);
  assert.deepEqual(
    keys.filter((k, i) => keys.indexOf(k) !== i),
    [],
    'no record twice',
  );
}

test('two resumes of one run started together: one trains, the other is told the run is in use', { timeout: 180_000 }, async () => {
  const store = path.join(root, 'resumes');
  const run = await stoppedRun(store, 4, 7);
  const [a, b] = await Promise.all([runFim(['train', '--resume', run]), runFim(['train', '--resume', run])]);
  const codes = [a.status, b.status].sort();
  assert.deepEqual(codes, [0, 2], `exit codes ${a.status}, ${b.status}\n${a.stderr}\n${b.stderr}`);
  const loser = a.status === 2 ? a : b;
  // Usually the two overlap ("in use"); on a slow start the second finds the run finished.
  assert.match(loser.stderr, /is in use by pid \d+ \(resuming its training|already completed all 4 epochs/);
  console.log(`two resumes: the second ${/in use/.test(loser.stderr) ? 'was refused while the first trained' : 'found the run completed'}`);
  const info = readRun(run);
  assert.equal(info.effectiveState, 'completed');
  const records = readMetrics(run).records;
  assertNoDuplicates(records);
  assert.deepEqual(
    records.filter((r) => r.kind === 'epoch').map((r) => r.epoch),
    [1, 2, 3, 4],
  );
  assert.ok(!fs.existsSync(path.join(run, '.lock')), 'the lock is released');
});

test(
  'two evaluations of one name started together: the JSON always names images that exist, nothing is left over',
  { timeout: 180_000 },
  async () => {
    const store = path.join(root, 'evals');
    const run = await stoppedRun(store, 1, 12);
    const args = ['inspect', '--run', run, '--samples', '6', '--held-out', '20', '--images', '3', '--name', 'same'];
    const results = await Promise.all([runFim(args), runFim(args)]);
    const ok = results.filter((r) => r.status === 0);
    assert.ok(ok.length >= 1, results.map((r) => r.stderr).join('\n'));
    for (const r of results.filter((x) => x.status !== 0)) {
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /evaluation same of run .* is in use by pid \d+ \(inspect/);
    }
    console.log(`two evaluations: ${ok.length === 2 ? 'both ran, one after the other' : 'one ran, the other was refused'}`);
    const evals = path.join(run, 'evals');
    const ev = readJsonFile<InspectEval>(path.join(evals, 'same.json'))!;
    const images = ev.samples.flatMap((s) => [s.image, s.eigenImage]).filter((x): x is string => Boolean(x));
    assert.equal(images.length, 6);
    for (const img of images) assert.ok(fs.existsSync(path.join(evals, img)), `${img} exists`);
    const version = path.dirname(images[0]!).split('/')[1]!;
    assert.deepEqual(fs.readdirSync(evals).sort(), ['same', 'same.json']);
    assert.deepEqual(fs.readdirSync(path.join(evals, 'same')), [version], 'only the version the JSON names');
    assert.deepEqual(
      fs.readdirSync(run).filter((n) => n.startsWith('.')),
      [],
      'no lock or temp file left',
    );
  },
);

test('fim runs, read in a loop while a run trains, never sees a torn or unreadable run', { timeout: 180_000 }, async () => {
  const store = path.join(root, 'loop');
  const cli = await bundled('cli');
  const child = spawn(
    process.execPath,
    [
      cli,
      'train',
      '--model',
      definition,
      '--out',
      store,
      '--limit-train',
      '480',
      '--limit-test',
      '32',
      '--epochs',
      '3',
      '--batch',
      '16',
      '--name',
      'looped',
    ],
    { env: { ...process.env, FIM_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const seen = new Map<string, number>();
  let reads = 0;
  let listings = 0;
  const bad: string[] = [];
  // The CLI's own listing, as a user would run it, over and over in the background.
  const cliLoop = (async () => {
    while (!done) {
      const l = await runFim(['runs', '--out', store, '--json']);
      listings++;
      if (l.status !== 0) bad.push(`fim runs exit ${l.status}: ${l.stderr}`);
      else JSON.parse(l.stdout);
    }
  })();
  while (!done) {
    for (const r of listRuns(store)) {
      reads++;
      seen.set(r.effectiveState, (seen.get(r.effectiveState) ?? 0) + 1);
      if (r.problems.length) bad.push(`${r.effectiveState}: ${r.problems.join('; ')}`);
      if (r.effectiveState !== 'running' && r.effectiveState !== 'completed') bad.push(`state ${r.effectiveState}`);
      const m = readMetrics(r.dir);
      if (m.skippedLines) bad.push(`${m.skippedLines} torn metrics line(s)`);
      assertNoDuplicates(m.records);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await cliLoop;
  assert.equal(await exited, 0, stderr);
  assert.deepEqual(bad, []);
  console.log(
    `fim runs in a loop: ${reads} reads in the test process and ${listings} fim runs listings during training, states ${JSON.stringify(Object.fromEntries(seen))}`,
  );
  assert.ok(reads > 10 && listings > 0, `${reads} reads, ${listings} fim runs listings`);
  assert.ok(seen.has('running'), `states seen: ${[...seen.keys()].join(', ')}`);
  assert.equal(listRuns(store)[0]!.effectiveState, 'completed');
});
