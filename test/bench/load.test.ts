import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { judgeRun, judgeWindow, parseProcStat, QUIET, resultsAction, windowLoad, type CpuSample } from '../../bench/load';

/**
 * The benchmark's guard against a busy machine (bench/load.ts): the arithmetic on /proc/stat, the
 * verdict per measured window and per run, and what happens to the results.
 */

// Recorded on the 2-core development VM while other engineers' jobs ran (load average ~9): this
// test's process spun for 1.5 s of wall time and got 0.70 s of CPU; the machine was 100% busy.
const BUSY_STAT_BEFORE = 'cpu  168479 138601 35802 229839 454 0 390 224 0 0';
const BUSY_STAT_AFTER = 'cpu  168676 138686 35821 229839 454 0 390 224 0 0';
const recordedBusy: [CpuSample, CpuSample] = [
  { t: 0.541154396, busy: 3432.72, steal: 2.24, own: 0.243249, load1: 8.99 },
  { t: 2.040975712, busy: 3435.73, steal: 2.24, own: 0.942886, load1: 8.99 },
];

/** A window of `wall` seconds in which this process used `own` CPU seconds and the machine `busy`. */
function win(wall: number, own: number, busy: number, steal = 0): [CpuSample, CpuSample] {
  return [
    { t: 100, busy: 5000, steal: 10, own: 3, load1: 0.2 },
    { t: 100 + wall, busy: 5000 + busy, steal: 10 + steal, own: 3 + own, load1: 1.1 },
  ];
}

test('/proc/stat: busy is user+nice+system+irq+softirq, steal apart, in seconds (USER_HZ 100)', () => {
  const a = parseProcStat(`${BUSY_STAT_BEFORE}\ncpu0 1 2 3 4 5 6 7 8 0 0\n`)!;
  assert.ok(Math.abs(a.busy - (168479 + 138601 + 35802 + 0 + 390) / 100) < 1e-9);
  assert.equal(a.steal, 2.24);
  const b = parseProcStat(BUSY_STAT_AFTER)!;
  assert.ok(Math.abs(b.busy - a.busy - 3.01) < 1e-9, 'the machine spent 3.01 CPU seconds in the recorded 1.5 s');
  assert.equal(parseProcStat('intr 1 2 3'), null);
  assert.equal(parseProcStat('cpu  1 2 x 4 5 6 7 8'), null);
});

test('a recorded busy window: others took three quarters of the cores, and the verdict says so', () => {
  const w = windowLoad(recordedBusy[0], recordedBusy[1], 2);
  assert.ok(Math.abs(w.otherSeconds - (3.01 - 0.699637)) < 1e-6);
  assert.ok(w.otherShare > 0.75 && w.otherShare < 0.79, String(w.otherShare));
  assert.ok(w.ownCores < 0.5, 'the process got less than half a core');
  const v = judgeWindow(w);
  assert.equal(v.quiet, false);
  assert.match(v.reasons[0]!, /^other processes used 77% of the cores \(limit 5%\)$/);
});

test('a quiet window: the engine alone keeps both cores busy; a little background is tolerated', () => {
  const alone = windowLoad(...win(10, 19.9, 20), 2);
  assert.ok(Math.abs(alone.otherShare - 0.005) < 1e-9);
  assert.ok(Math.abs(alone.ownCores - 1.99) < 1e-9);
  assert.deepEqual(judgeWindow(alone), { quiet: true, reasons: [] });
  // Our own CPU read a moment after the machine's can exceed it: rounding, not negative load.
  assert.equal(windowLoad(...win(10, 20.05, 20), 2).otherSeconds, 0);
  // At the limit, and just above it.
  assert.equal(judgeWindow(windowLoad(...win(10, 10, 11), 2)).quiet, true);
  assert.equal(judgeWindow(windowLoad(...win(10, 10, 11.1), 2)).quiet, false);
  // A short window (an inference of 64 ms, recorded): one clock tick of others' time is below what
  // /proc/stat resolves; three ticks are load.
  assert.equal(judgeWindow(windowLoad(...win(0.064, 0.128, 0.128 + 0.012), 2)).quiet, true);
  assert.equal(judgeWindow(windowLoad(...win(0.064, 0.128, 0.128 + 0.03), 2)).quiet, false);
});

test('steal time (other guests on the host) makes a window busy as well', () => {
  const v = judgeWindow(windowLoad(...win(10, 20, 20, 2), 2));
  assert.equal(v.quiet, false);
  assert.deepEqual(v.reasons, ['steal time was 10% of the cores (limit 5%)']);
});

test('a window whose load could not be read is not quiet', () => {
  assert.deepEqual(judgeWindow(null), { quiet: false, reasons: ['the machine load could not be read (/proc/stat)'] });
});

test('a run is valid only when every window was quiet', () => {
  const quiet = windowLoad(...win(10, 19.9, 20), 2);
  const busy = windowLoad(recordedBusy[0], recordedBusy[1], 2);
  const ok = judgeRun([
    { label: 'repeat 1, engine, train-32', load: quiet },
    { label: 'repeat 1, PyTorch 2 threads, train-32', load: quiet },
  ]);
  assert.equal(ok.valid, true);
  assert.equal(ok.busyWindows, 0);
  assert.ok(Math.abs(ok.maxOtherShare - 0.0045) < 1e-9, '0.1 s of others in 10 s on 2 cores, less one 10 ms tick');
  const bad = judgeRun([
    { label: 'repeat 1, engine, train-32', load: quiet },
    { label: 'repeat 2, PyTorch 2 threads, pgd10', load: busy },
    { label: 'repeat 3, engine, infer', load: null },
  ]);
  assert.equal(bad.valid, false);
  assert.equal(bad.busyWindows, 2);
  assert.deepEqual(
    bad.busy.map((b) => b.label),
    ['repeat 2, PyTorch 2 threads, pgd10', 'repeat 3, engine, infer'],
  );
  assert.equal(judgeRun([]).valid, false, 'nothing measured proves nothing');
  assert.equal(QUIET.maxOtherShare, 0.05);
});

test('the results are written only for a valid run of at least 5 repeats with the peer; --force marks them invalid', () => {
  const quiet = windowLoad(...win(10, 19.9, 20), 2);
  const valid = judgeRun([{ label: 'w', load: quiet }]);
  const invalid = judgeRun([{ label: 'repeat 2, PyTorch 2 threads, train-32', load: windowLoad(recordedBusy[0], recordedBusy[1], 2) }]);
  const write = { write: true, force: false };
  assert.deepEqual(resultsAction({ verdict: valid, repeats: 5, peer: true }, write), { action: 'write', reasons: [] });
  const refused = resultsAction({ verdict: invalid, repeats: 5, peer: true }, write);
  assert.equal(refused.action, 'refuse');
  assert.match(
    refused.reasons[0]!,
    /^the machine was busy in 1 of 1 measured windows \(first: repeat 2, PyTorch 2 threads, train-32: other processes used 77%/,
  );
  assert.equal(resultsAction({ verdict: invalid, repeats: 5, peer: true }, { write: true, force: true }).action, 'write-invalid');
  assert.deepEqual(resultsAction({ verdict: valid, repeats: 3, peer: true }, write), {
    action: 'refuse',
    reasons: ['3 repeats (at least 5 are needed)'],
  });
  assert.deepEqual(resultsAction({ verdict: valid, repeats: 5, peer: false }, write).reasons, ['PyTorch was not measured']);
  assert.equal(resultsAction({ verdict: invalid, repeats: 1, peer: false }, { write: false, force: true }).action, 'skip');
});
