/**
 * `fim train … 2>&1 | head -2`: the reader of the output goes away after two lines. The run must
 * not be left `running` without a checkpoint (the process used to die of the EPIPE, exit code
 * 7): it stops as Ctrl-C stops it, with a checkpoint, and resumes.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { listCheckpoints } from '../../src/runs/checkpoints';
import { listRuns } from '../../src/runs/reader';
import { bundled, runFim } from '../cliBundle';
import { writeSmallDefinition } from '../engine/eval/tinyRun';
import { tmpDir } from '../helpers';

test('a closed output pipe stops training with a checkpoint, and the run resumes', { timeout: 120_000 }, async () => {
  const root = tmpDir('fim-pipe-');
  const store = path.join(root, 'store');
  const cli = await bundled('cli');
  const args = [
    'train',
    '--model',
    writeSmallDefinition(root),
    '--out',
    store,
    '--limit-train',
    '3200',
    '--limit-test',
    '32',
    '--epochs',
    '3',
    '--batch',
    '16',
  ];
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, FIM_BACKEND: 'wasm' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let lines = 0;
  // Like `head -2`: read two lines of stderr, then close both pipes.
  child.stderr.on('data', (d: Buffer) => {
    lines += d.toString().split('\n').length - 1;
    if (lines >= 2) {
      child.stderr.destroy();
      child.stdout.destroy();
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
  assert.equal(signal, null);
  assert.equal(code, 130, 'stopped, as by Ctrl-C');
  const [run] = listRuns(store);
  assert.equal(run?.effectiveState, 'stopped', run?.status?.message);
  assert.ok(listCheckpoints(run.dir).length > 0, 'a checkpoint was written');
  const resumed = await runFim(['train', '--resume', run.dir, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(listRuns(store)[0]!.effectiveState, 'completed');
});
