import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  acquireEvalLock,
  acquireLock,
  acquireReproduceLock,
  acquireRunLock,
  evalLockFile,
  holderAlive,
  isLocked,
  readLockHolder,
  runLockFile,
  RunLockedError,
  type LockHolder,
} from '../../src/runs/lock';
import { tmpDir } from '../helpers';

/** A pid that is certainly dead: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

function writeHolder(file: string, h: Partial<LockHolder>): void {
  fs.writeFileSync(file, JSON.stringify({ hostname: os.hostname(), purpose: 'training', startedAt: 'then', token: 't0', ...h }));
}

test('a run lock is exclusive: the second taker learns who holds it; release frees it', () => {
  const run = tmpDir();
  const a = acquireRunLock(run, 'training');
  assert.equal(readLockHolder(runLockFile(run))?.pid, process.pid);
  assert.ok(isLocked(runLockFile(run)));
  assert.throws(
    () => acquireRunLock(run, 'resuming its training'),
    (e: Error) =>
      e instanceof RunLockedError &&
      new RegExp(`run ${path.basename(run)} is in use by pid ${process.pid} \\(training, since `).test(e.message),
  );
  a.release();
  assert.ok(!fs.existsSync(runLockFile(run)));
  a.release(); // twice is harmless
  acquireRunLock(run, 'again').release();
});

test('a lock whose holder died is stale and taken over; one on another host or alive is not', () => {
  const run = tmpDir();
  const file = runLockFile(run);
  writeHolder(file, { pid: deadPid() });
  assert.equal(holderAlive(readLockHolder(file)!), false);
  const l = acquireRunLock(run, 'resuming');
  assert.equal(readLockHolder(file)?.pid, process.pid);
  l.release();

  writeHolder(file, { pid: 1, hostname: 'elsewhere.example' });
  assert.equal(holderAlive(readLockHolder(file)!), 'unknown');
  assert.throws(() => acquireRunLock(run, 'x'), /in use by pid 1 on host elsewhere\.example .* or remove .*\.lock if that process is gone/);

  // A live pid that has been reused by another process: its start time differs from the holder's.
  writeHolder(file, { pid: process.pid, processStart: '1' });
  if (fs.existsSync(`/proc/${process.pid}/stat`)) {
    assert.equal(holderAlive(readLockHolder(file)!), false, 'pid reuse is detected through /proc');
    acquireRunLock(run, 'after reuse').release();
  }
  // Unreadable (corrupt) lock files are stale too: locks are created complete, by a link.
  fs.writeFileSync(file, '{"pid": ');
  acquireRunLock(run, 'after corruption').release();
  // Lock files of the previous reproduction lock format (pid, hostname, startedAt) still count.
  writeHolder(file, { pid: process.pid, token: undefined, purpose: undefined });
  assert.throws(() => acquireLock(file, { purpose: 'x', busy: () => 'busy' }), /busy/);
  fs.rmSync(file);
});

test('release never removes a lock someone else took over', () => {
  const run = tmpDir();
  const a = acquireRunLock(run, 'training');
  // Another process judged it stale and took it (simulated by rewriting the holder).
  writeHolder(runLockFile(run), { pid: process.pid, token: 'someone-else' });
  a.release();
  assert.equal(readLockHolder(runLockFile(run))?.token, 'someone-else');
});

test('locks are created whole, and leave no temp files', () => {
  const run = tmpDir();
  const locks = [acquireRunLock(run, 'a'), acquireEvalLock(run, 'inspect', 'b'), acquireEvalLock(run, 'sweep-fgsm', 'c')];
  assert.deepEqual(fs.readdirSync(run).sort(), ['.lock', '.lock-eval-inspect', '.lock-eval-sweep-fgsm']);
  assert.equal(evalLockFile(run, 'inspect'), path.join(run, '.lock-eval-inspect'));
  for (const l of locks) l.release();
  assert.deepEqual(fs.readdirSync(run), []);
  const repro = path.join(tmpDir(), 'r');
  const r = acquireReproduceLock(repro);
  assert.throws(() => acquireReproduceLock(repro), new RegExp(`another fim reproduce \\(pid ${process.pid}, since `));
  r.release();
});

test('three processes racing for one lock: exactly one wins', { timeout: 120_000 }, async () => {
  const run = tmpDir();
  const go = path.join(run, '..', `${path.basename(run)}-go`);
  const src = path.resolve(__dirname, '..', '..', 'src', 'runs', 'lock.ts');
  // Each child says it is ready, waits for the start signal, tries, reports, and holds what it won.
  const script = `const fs = require('node:fs'); const { acquireRunLock } = require(${JSON.stringify(src)});
    console.log('ready');
    while (!fs.existsSync(${JSON.stringify(go)}));
    try { acquireRunLock(${JSON.stringify(run)}, 'race'); console.log('won'); } catch (e) { console.log(e.name); }
    setTimeout(() => {}, 60000);`;
  const kids = [0, 1, 2].map(() => {
    const c = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<void>((r) => c.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('ready') && r())));
    const result = new Promise<string>((r) => {
      const check = () => {
        const m = /(won|RunLockedError)/.exec(out);
        if (m) r(m[1]!);
        else setTimeout(check, 20);
      };
      check();
    });
    return { c, ready, result };
  });
  try {
    await Promise.all(kids.map((k) => k.ready));
    fs.writeFileSync(go, '');
    const outs = await Promise.all(kids.map((k) => k.result));
    assert.equal(outs.filter((o) => o === 'won').length, 1, outs.join(', '));
    assert.equal(outs.filter((o) => o === 'RunLockedError').length, 2, outs.join(', '));
  } finally {
    for (const k of kids) k.c.kill('SIGKILL');
    fs.rmSync(go, { force: true });
  }
});
