import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { writeDirAtomic, writeJsonAtomic } from '../../src/runs/atomic';
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
