import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { withEvalLock, writeEval } from '../../../src/engine/eval/store';
import type { AnyEval, InspectEval } from '../../../src/runs/evals';
import { readJsonFile } from '../../../src/runs/reader';
import { tmpDir } from '../../helpers';

const evalWith = (image?: string) => ({ kind: 'inspect', samples: [{ index: 0, ...(image ? { image } : {}) }] }) as unknown as AnyEval;

test('an evaluation replaced: the JSON switches to a fresh image version in one rename, older versions go after', () => {
  const run = tmpDir();
  const evals = path.join(run, 'evals');
  const first = evalWith('x/sample-0.png');
  writeEval(run, 'x', first, new Map([['x/sample-0.png', Buffer.from('one')]]));
  const p1 = (first as unknown as InspectEval).samples[0]!.image!;
  assert.match(p1, /^x\/v[0-9a-z]+-\d+\/sample-0\.png$/, 'the caller’s result names the versioned path');
  assert.equal(readJsonFile<InspectEval>(path.join(evals, 'x.json'))!.samples[0]!.image, p1);
  assert.equal(fs.readFileSync(path.join(evals, p1), 'utf8'), 'one');

  // A killed writer's leftovers: a temp JSON and a half-written version folder (its pid is dead).
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  fs.writeFileSync(path.join(evals, `.tmp-x.json-${dead}-1`), '{');
  fs.mkdirSync(path.join(evals, 'x', `.tmp-vzz-${dead}-${dead}-2`));
  const second = evalWith('x/sample-0.png');
  writeEval(run, 'x', second, new Map([['x/sample-0.png', Buffer.from('two')]]));
  const p2 = (second as unknown as InspectEval).samples[0]!.image!;
  assert.notEqual(p2, p1);
  assert.equal(fs.readFileSync(path.join(evals, p2), 'utf8'), 'two');
  assert.deepEqual(fs.readdirSync(path.join(evals, 'x')), [path.basename(path.dirname(p2))], 'only the version the JSON names');
  assert.deepEqual(fs.readdirSync(evals).sort(), ['x', 'x.json']);

  // Replaced by a result without images: the JSON first, then the image folder.
  writeEval(run, 'x', evalWith());
  assert.deepEqual(fs.readdirSync(evals), ['x.json']);
  assert.deepEqual(fs.readdirSync(run).sort(), ['evals'], 'no lock file left');
});

test('an image key outside the evaluation’s folder is refused before anything is written', () => {
  const run = tmpDir();
  assert.throws(() => writeEval(run, 'y', evalWith('y/../../z.png'), new Map([['y/../../z.png', Buffer.from('z')]])), /not under y\//);
  assert.deepEqual(fs.readdirSync(run), [], 'not even evals/');
});

test('withEvalLock excludes a second evaluation of the name, also one in this process (two engine jobs)', async () => {
  const run = tmpDir();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = withEvalLock(run, 'z', 'first', async () => {
    await held;
    writeEval(run, 'z', evalWith()); // the holder writes under the lock it holds
  });
  await assert.rejects(
    withEvalLock(run, 'z', 'second', () => 1),
    new RegExp(`evaluation z of run ${path.basename(run)} is in use by pid ${process.pid} \\(first`),
  );
  release();
  await first;
  assert.ok(fs.existsSync(path.join(run, 'evals', 'z.json')));
  await withEvalLock(run, 'z', 'third', () => undefined);
});
