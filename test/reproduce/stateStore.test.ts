import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readState, updateState } from '../../src/reproduce/stateStore';
import { tmpDir } from '../helpers';

/**
 * state.json under concurrent writers (the Slurm executor's jobs): several processes updating
 * their own records at once lose none of them; a lock left by a dead process, or an old one
 * from another host, is broken; and the state stays readable throughout.
 */
const root = path.resolve(__dirname, '..', '..');

function writer(dir: string, name: string, n: number): Promise<number> {
  const code = `
    const { updateState } = require(${JSON.stringify(path.join(root, 'src', 'reproduce', 'stateStore.ts'))});
    for (let i = 0; i < ${n}; i++)
      updateState(${JSON.stringify(dir)}, (s) => {
        s.stages['${name}-' + i] = { key: '${name}-' + i, kind: 'train', status: 'done', fingerprint: 'f', wallSeconds: 0, attempts: 1 };
      });`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, stdio: 'inherit' });
    p.on('exit', (c) => resolve(c ?? 1));
  });
}

test('four processes updating state.json at once lose no record', async () => {
  const dir = tmpDir();
  const codes = await Promise.all(['a', 'b', 'c', 'd'].map((w) => writer(dir, w, 25)));
  assert.deepEqual(codes, [0, 0, 0, 0]);
  const keys = Object.keys(readState(dir).stages);
  assert.equal(keys.length, 100, `records kept: ${keys.length}`);
  assert.equal(fs.existsSync(path.join(dir, 'state.json.lock')), false, 'the lock is released');
});

test('a stale lock (dead owner on this host, or older than two minutes) is broken; the update still happens', () => {
  const dir = tmpDir();
  const lock = path.join(dir, 'state.json.lock');
  fs.writeFileSync(lock, JSON.stringify({ host: os.hostname(), pid: 2 ** 22 + 12345, at: new Date().toISOString() }));
  updateState(dir, (s) => (s.stages.x = { key: 'x', kind: 'train', status: 'done', fingerprint: 'f', wallSeconds: 0, attempts: 1 }));
  assert.ok(readState(dir).stages.x);
  fs.writeFileSync(lock, JSON.stringify({ host: 'another-node', pid: 1, at: '2020-01-01T00:00:00Z' }));
  const old = new Date(Date.now() - 10 * 60_000);
  fs.utimesSync(lock, old, old);
  updateState(dir, (s) => delete s.stages.x);
  assert.equal(readState(dir).stages.x, undefined);
  assert.equal(fs.existsSync(lock), false);
});

test('an update that throws leaves state.json as it was and releases the lock', () => {
  const dir = tmpDir();
  updateState(dir, (s) => (s.stages.y = { key: 'y', kind: 'train', status: 'done', fingerprint: 'f', wallSeconds: 0, attempts: 1 }));
  assert.throws(
    () =>
      updateState(dir, (s) => {
        delete s.stages.y;
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.ok(readState(dir).stages.y);
  assert.equal(fs.existsSync(path.join(dir, 'state.json.lock')), false);
});
