import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { makeDirs, removeDirAtomic, writeDirAtomic, writeJsonAtomic } from '../../src/runs/atomic';
import { listCheckpoints } from '../../src/runs/checkpoints';
import { sweepRunLeftovers } from '../../src/runs/sweep';
import { formatFimlogLine, parseFimlog } from '../../src/runs/fimlog';
import { runFile } from '../../src/runs/paths';
import { listRuns, readMetrics, readRun } from '../../src/runs/reader';
import { tmpDir } from '../helpers';

test('atomic JSON writes leave no temp files and replace content', () => {
  const d = tmpDir();
  const f = path.join(d, 'a.json');
  writeJsonAtomic(f, { v: 1 });
  writeJsonAtomic(f, { v: 2 });
  assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { v: 2 });
  assert.deepEqual(fs.readdirSync(d), ['a.json']);
});

test('atomic directory publish refuses to replace a directory (no rename can) and cleans up on failure', () => {
  const d = tmpDir();
  const target = path.join(d, 'ckpt');
  writeDirAtomic(target, (t) => fs.writeFileSync(path.join(t, 'x'), '1'));
  assert.throws(() => writeDirAtomic(target, (t) => fs.writeFileSync(path.join(t, 'y'), '2')), /already exists/);
  assert.deepEqual(fs.readdirSync(target), ['x']);
  const other = path.join(d, 'other');
  assert.throws(
    () =>
      writeDirAtomic(other, () => {
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.deepEqual(fs.readdirSync(d), ['ckpt']);
});

test('a run with a dead owner is incomplete; corrupt files are reported, the rest still read', () => {
  const store = tmpDir();
  const run = path.join(store, '2026-01-01T00-00-00-x');
  fs.mkdirSync(run);
  writeJsonAtomic(runFile(run, 'config'), { name: 'x', mu: 0.01 });
  // pid 2^22+1 exceeds Linux's pid_max, so no such process exists.
  writeJsonAtomic(runFile(run, 'status'), {
    state: 'running',
    pid: 4194305,
    startedAt: '',
    updatedAt: '',
    epoch: 0,
    step: 3,
    totalSteps: 10,
  });
  fs.writeFileSync(runFile(run, 'summary'), '{"torn":');
  fs.writeFileSync(runFile(run, 'metrics'), '{"kind":"step","step":1}\n{"kind":"step","step":2}\n{"kind":"ep');
  const info = readRun(run);
  assert.equal(info.effectiveState, 'incomplete');
  assert.equal(info.config?.mu, 0.01);
  assert.equal(info.summary, null);
  assert.match(info.problems.join(), /summary\.json is not valid JSON/);
  const m = readMetrics(run);
  assert.equal(m.records.length, 2);
  assert.equal(m.skippedLines, 1);
  assert.equal(listRuns(store).length, 1);
  assert.deepEqual(listRuns(path.join(store, 'missing')), []);
});

test('fimlog lines round-trip through format and parse', () => {
  const line = formatFimlogLine(
    'step',
    { epoch: 1, step: 20, loss: 0.123456789, trace_gs: 1.5e12, note: 'two words', tiny: 1e-7 },
    new Date('2026-01-01T00:00:00Z'),
  );
  assert.equal(line, '2026-01-01T00:00:00.000Z step epoch=1 step=20 loss=0.123457 trace_gs=1.5000e+12 note="two words" tiny=1.0000e-7');
  const [rec] = parseFimlog(`# fimlog v1 run=x\n${line}\nnot a record\n`);
  assert.equal(rec!.line, 1);
  assert.equal(rec!.kind, 'step');
  assert.deepEqual(rec!.fields, { epoch: 1, step: 20, loss: 0.123457, trace_gs: 1.5e12, note: 'two words', tiny: 1e-7 });
});

test('makeDirs says what is in the way, and does not spin under /proc', { timeout: 10_000 }, () => {
  const d = tmpDir();
  const file = path.join(d, 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => makeDirs(path.join(file, 'a', 'b')), new RegExp(`${file.replace(/[/.]/g, '\\$&')} is a file, not a directory`));
  assert.throws(() => makeDirs(file), /is a file, not a directory/);
  if (fs.existsSync('/proc/self')) assert.throws(() => makeDirs('/proc/fim-test/x'), /cannot create the directory \/proc\/fim-test/);
  makeDirs(path.join(d, 'x', 'y', 'z'));
  assert.ok(fs.statSync(path.join(d, 'x', 'y', 'z')).isDirectory());
});

test('leftovers of dead writers are swept; those of live writers and other files are kept', () => {
  const run = tmpDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const live = process.ppid;
  fs.mkdirSync(path.join(run, 'checkpoints', `.tmp-epoch-0002-${dead}-1`), { recursive: true });
  fs.mkdirSync(path.join(run, 'checkpoints', 'epoch-0001'));
  fs.writeFileSync(path.join(run, `.tmp-status.json-${dead}-5`), '{');
  fs.writeFileSync(path.join(run, `.tmp-status.json-${live}-6`), '{');
  fs.mkdirSync(path.join(run, '.model-AbC123'));
  fs.writeFileSync(path.join(run, '.lock'), '{}');
  fs.writeFileSync(path.join(run, 'notes.txt'), 'mine');
  const removed = sweepRunLeftovers(run).sort();
  assert.deepEqual(removed, [`.model-AbC123`, `.tmp-status.json-${dead}-5`, path.join('checkpoints', `.tmp-epoch-0002-${dead}-1`)].sort());
  assert.deepEqual(fs.readdirSync(run).sort(), ['.lock', `.tmp-status.json-${live}-6`, 'checkpoints', 'notes.txt']);
  assert.deepEqual(fs.readdirSync(path.join(run, 'checkpoints')), ['epoch-0001']);
});

/** A checkpoint whose files match its manifests (what checkpointProblem checks). */
function fakeCheckpoint(run: string, name: string, step: number, weightBytes = 40): string {
  const dir = path.join(run, 'checkpoints', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(weightBytes));
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({
      modelTopology: {},
      weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [10], dtype: 'float32' }] }],
    }),
  );
  fs.writeFileSync(path.join(dir, 'optimizer.bin'), Buffer.alloc(8));
  fs.writeFileSync(
    path.join(dir, 'state.json'),
    JSON.stringify({
      epoch: 1,
      epochStep: 0,
      step,
      optimizer: { file: 'optimizer.bin', step, specs: [{ name: 'm_0', shape: [2], dtype: 'float32' }] },
    }),
  );
  return dir;
}

function completedRun(store: string, id: string, state = 'completed'): string {
  const run = path.join(store, id);
  fs.mkdirSync(run, { recursive: true });
  writeJsonAtomic(runFile(run, 'config'), { name: id, mu: 0 });
  writeJsonAtomic(runFile(run, 'status'), {
    state,
    startedAt: '',
    updatedAt: '',
    epoch: 1,
    step: 10,
    totalSteps: 10,
    latestCheckpoint: 'epoch-0001',
  });
  writeJsonAtomic(runFile(run, 'summary'), { state, checkpoint: 'epoch-0001' });
  return run;
}

test('a completed run whose newest checkpoint is cut short, or gone, reads as damaged, with the reason', () => {
  const store = tmpDir();
  const ok = completedRun(store, 'a-ok');
  fakeCheckpoint(ok, 'epoch-0001', 10);
  assert.equal(readRun(ok).effectiveState, 'completed');

  const cut = completedRun(store, 'b-cut');
  fakeCheckpoint(cut, 'epoch-0001', 10, 17);
  const info = readRun(cut);
  assert.equal(info.effectiveState, 'damaged');
  assert.match(
    info.damage ?? '',
    /checkpoint epoch-0001: weight files hold 17 bytes but the manifest describes 40 \(truncated or damaged\)/,
  );
  assert.ok(info.problems.includes(info.damage!));

  const gone = completedRun(store, 'c-gone');
  assert.equal(readRun(gone).effectiveState, 'damaged');
  assert.match(readRun(gone).damage ?? '', /its checkpoint epoch-0001 is missing/);

  const opt = completedRun(store, 'd-opt');
  fakeCheckpoint(opt, 'epoch-0001', 10);
  fs.writeFileSync(path.join(opt, 'checkpoints', 'epoch-0001', 'optimizer.bin'), Buffer.alloc(3));
  assert.match(readRun(opt).damage ?? '', /optimizer\.bin holds 3 bytes but its specs describe 8/);

  // A failed run stays failed (resume falls back to an older checkpoint); the problem is listed.
  const failed = completedRun(store, 'e-failed', 'failed');
  fakeCheckpoint(failed, 'epoch-0001', 10, 5);
  assert.equal(readRun(failed).effectiveState, 'failed');
  assert.match(readRun(failed).problems.join(), /truncated or damaged/);
});

test('half-deleted and temp checkpoints are never listed; a config-only run is incomplete, not unreadable', () => {
  const store = tmpDir();
  const run = completedRun(store, 'r');
  fakeCheckpoint(run, 'epoch-0001', 10);
  fakeCheckpoint(run, 'epoch-0002', 20);
  fs.mkdirSync(path.join(run, 'checkpoints', 'epoch-0003')); // no state.json: never finished
  fakeCheckpoint(run, '.tmp-epoch-0004-1-1', 40);
  assert.deepEqual(listCheckpoints(run), ['epoch-0001', 'epoch-0002']);
  removeDirAtomic(path.join(run, 'checkpoints', 'epoch-0001'));
  assert.deepEqual(listCheckpoints(run), ['epoch-0002']);

  const legacy = path.join(store, 'legacy');
  fs.mkdirSync(legacy);
  writeJsonAtomic(runFile(legacy, 'config'), { name: 'legacy', mu: 0 });
  assert.equal(readRun(legacy).effectiveState, 'incomplete');
});
