/**
 * Fault injection: a small training run (`fim train` in a child process) is "killed" before each
 * of its file-system writes, and every state that leaves behind must be a readable run (or no
 * run at all, before the run directory is published) that `--resume` brings to the same final
 * files as the uninterrupted run: no record twice, no leftover temp file, no completed run lost.
 *
 * The states come from an fs hook in the child (test/fixtures/fsFaults.js) that copies the store
 * before every write: since the engine writes synchronously, that copy is exactly what a SIGKILL
 * at that moment leaves. A few real SIGKILLs at chosen writes check that model against reality.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { RunWriter } from '../../src/engine/train/runWriter';
import { resume } from '../../src/engine/train/trainer';
import { parseFimlog } from '../../src/runs/fimlog';
import { readLockHolder, holderAlive, runLockFile } from '../../src/runs/lock';
import { listRuns, readJsonFile, readMetrics, readRun } from '../../src/runs/reader';
import type { RunConfig } from '../../src/runs/types';
import { runFim } from '../cliBundle';
import { writeSmallDefinition } from '../engine/eval/tinyRun';
import { tmpDir, treeDigest, useEngineBackend } from '../helpers';

const hook = path.resolve(__dirname, '..', 'fixtures', 'fsFaults.js');
// 208 samples in batches of 16: 13 steps an epoch; with the default log interval of 20 steps,
// records at steps 13 (end of epoch 1), 20 (inside epoch 2) and 26, and a checkpoint per epoch.
const ARGS = ['--limit-train', '208', '--limit-test', '32', '--epochs', '2', '--batch', '16', '--seed', '3', '--name', 'faulty'];

let root: string;
let definition: string;
/** The uninterrupted run: the final state every interrupted one must reach. */
let reference: string;
let snapshots: string[];
let writeLog: string[];
/** Everything the hook logged: the writes and the durability events (syncs, renames, closes). */
let events: string[];

function trainArgs(store: string): string[] {
  return ['train', '--model', definition, '--out', store, ...ARGS];
}

/** Runs `fim train` with the fault hook; resolves once the child has exited. */
async function faultyTrain(store: string, env: Record<string, string>) {
  return runFim(trainArgs(store), { nodeArgs: ['--require', hook], env: { FIM_FAULT_ROOT: store, ...env }, timeoutMs: 120_000 });
}

function onlyRun(store: string): string {
  const runs = listRuns(store);
  assert.equal(runs.length, 1, `one run in ${store}`);
  return runs[0]!.dir;
}

before(async () => {
  await useEngineBackend();
  root = tmpDir('fim-faults-');
  definition = writeSmallDefinition(root, 1);
  const store = path.join(root, 'snap-store');
  const snapDir = path.join(root, 'snapshots');
  fs.mkdirSync(snapDir);
  const logFile = path.join(root, 'writes.log');
  const r = await faultyTrain(store, { FIM_FAULT_SNAPSHOT: snapDir, FIM_FAULT_LOG: logFile });
  assert.equal(r.status, 0, r.stderr);
  reference = onlyRun(store);
  events = fs.readFileSync(logFile, 'utf8').trim().split('\n');
  writeLog = events.filter((l) => /^\d+ /.test(l));
  assert.deepEqual(
    events.filter((l) => l.startsWith('async')),
    [],
    'every write is synchronous (the snapshot model holds)',
  );
  snapshots = fs
    .readdirSync(snapDir)
    .sort()
    .map((n) => path.join(snapDir, n));
});

/** A run's files with what legitimately differs between runs (times, speeds, ids, paths) taken out. */
function normalized(runDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.join(rel, e.name);
      const p = path.join(dir, e.name);
      // A lock whose holder is dead is not a leftover: it is stale and taken over by the next writer.
      if (e.name === '.lock' && holderAlive(readLockHolder(p)!) === false) continue;
      if (e.isDirectory()) walk(p, r);
      else out[r] = contentOf(r, p);
    }
  };
  walk(runDir, '');
  return out;
}

const drop = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

function contentOf(rel: string, file: string): unknown {
  const base = path.basename(rel);
  if (base === 'config.json') return drop(readJsonFile<Record<string, unknown>>(file)!, ['createdAt']);
  if (base === 'status.json') return drop(readJsonFile<Record<string, unknown>>(file)!, ['pid', 'hostname', 'startedAt', 'updatedAt']);
  if (base === 'summary.json') return drop(readJsonFile<Record<string, unknown>>(file)!, ['runDir', 'wallSeconds', 'samplesPerSecond']);
  if (base === 'state.json') return drop(readJsonFile<Record<string, unknown>>(file)!, ['savedAt', 'trainSeconds', 'logs']);
  if (base === 'metrics.jsonl') {
    const m = readMetrics(path.dirname(file));
    return {
      skipped: m.skippedLines,
      records: m.records.map((x) => drop(x as unknown as Record<string, unknown>, ['time', 'seconds', 'samplesPerSecond'])),
    };
  }
  if (base === 'train.fimlog') {
    const text = fs.readFileSync(file, 'utf8');
    return {
      header: text.split('\n')[0]!.replace(/ run=\S+/, ''),
      records: parseFimlog(text)
        .filter((x) => x.kind === 'step' || x.kind === 'epoch')
        .map((x) => ({ kind: x.kind, fields: drop(x.fields, ['seconds', 'samples_per_s']) })),
    };
  }
  return fs.readFileSync(file).toString('base64');
}

test('the snapshot run wrote to the store dozens of times, all synchronously', () => {
  assert.ok(snapshots.length >= 40, `${snapshots.length} writes`);
  assert.equal(snapshots.length, writeLog.length);
  assert.equal(readRun(reference).effectiveState, 'completed');
});

test('every write is synced before it is published, and every rename is followed by a sync of its directory', () => {
  // What makes the guarantees hold across a power loss too (docs/run-store.md#crash-guarantees).
  assert.deepEqual(
    events.filter((l) => l.startsWith('unsynced-close')),
    [],
    'every file written is fsynced before it is closed',
  );
  const problems: string[] = [];
  const renames = events.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('rename-'));
  assert.ok(renames.length >= 10, `${renames.length} renames`);
  for (const [line, i] of renames) {
    const [, kind, src, dst] = /^rename-(file|dir) (.*) -> (.*)$/.exec(line)!;
    if (kind === 'dir' && !events.slice(0, i).includes(`sync ${src}`))
      problems.push(`${line}: the directory was not synced before it was published`);
    const parent = path.dirname(dst!) === '.' ? '' : path.dirname(dst!);
    if (!events.slice(i + 1).includes(`sync ${parent}`)) problems.push(`${line}: ${parent || 'the store'} was not synced after the rename`);
  }
  assert.deepEqual(problems, []);
});

test('killed before each of its writes, a run is readable and resumes to the same final files', { timeout: 900_000 }, async () => {
  const expected = normalized(reference);
  const seen = new Set<string>();
  let beforeRun = 0;
  let resumed = 0;
  let alreadyDone = 0;
  const failures: string[] = [];
  let unreadable = 0;
  let notResumable = 0;
  let different = 0;
  for (const [i, snap] of snapshots.entries()) {
    const digest = treeDigest(snap);
    if (seen.has(digest)) continue;
    seen.add(digest);
    const what = `kill before write ${writeLog[i]}`;
    const store = path.join(root, 'work', String(i));
    fs.cpSync(snap, store, { recursive: true });
    const runs = listRuns(store);
    if (runs.length === 0) {
      // Killed before the run directory was published: no run, only a temp directory, which the
      // next run created in this store sweeps away.
      beforeRun++;
      const config = readJsonFile<RunConfig>(path.join(reference, 'config.json'))!;
      const w = RunWriter.create(store, config, 1);
      w.close();
      const left = fs.readdirSync(store).filter((n) => n.startsWith('.'));
      if (left.length) failures.push(`${what}: the next run left ${left.join(', ')} in the store`);
      continue;
    }
    if (runs.length > 1) {
      unreadable++;
      failures.push(`${what}: ${runs.length} runs`);
      continue;
    }
    const run = runs[0]!;
    if (run.effectiveState === 'unreadable' || run.effectiveState === 'damaged' || run.effectiveState === 'running') {
      unreadable++;
      failures.push(`${what}: the run reads as ${run.effectiveState} (${run.problems.join('; ')})`);
      continue;
    }
    if (run.effectiveState === 'completed') {
      alreadyDone++;
    } else {
      try {
        const s = await resume(run.dir, { backend: 'wasm' });
        resumed++;
        if (s.state !== 'completed') {
          notResumable++;
          failures.push(`${what}: the resume ended ${s.state} (${s.message ?? ''})`);
          continue;
        }
      } catch (e) {
        notResumable++;
        failures.push(`${what}: the run cannot be resumed: ${(e as Error).message}`);
        continue;
      }
    }
    const got = normalized(run.dir);
    try {
      assert.deepEqual(got, expected);
    } catch (e) {
      different++;
      const files = [...new Set([...Object.keys(got), ...Object.keys(expected)])].filter(
        (k) => JSON.stringify(got[k]) !== JSON.stringify(expected[k]),
      );
      failures.push(
        `${what}: final files differ: ${files.join(', ')}${(e as Error).message.length < 2000 ? `\n${(e as Error).message}` : ''}`,
      );
    }
  }
  console.log(
    `fault injection: ${snapshots.length} kill points tried (${seen.size} distinct states): ${beforeRun} before the run existed, ${resumed} resumed, ${alreadyDone} already completed; ${unreadable} runs lost (unreadable), ${notResumable} not resumable, ${different} resumed to different files`,
  );
  assert.deepEqual(failures, []);
});

test('real SIGKILLs at chosen writes leave what the snapshots say, and resume the same way', { timeout: 300_000 }, async () => {
  const expected = normalized(reference);
  const points = [Math.round(writeLog.length * 0.3), Math.round(writeLog.length * 0.6), writeLog.length - 3];
  for (const k of points) {
    const store = path.join(root, 'killed', String(k));
    const r = await faultyTrain(store, { FIM_FAULT_KILL_AT: String(k) });
    assert.equal(r.signal, 'SIGKILL', `killed at write ${k} (${writeLog[k - 1]}): ${r.stderr.slice(-300)}`);
    const dir = onlyRun(store);
    assert.notEqual(readRun(dir).effectiveState, 'unreadable');
    const lock = readLockHolder(runLockFile(dir));
    if (lock) assert.equal(holderAlive(lock), false, 'the dead trainer’s lock is stale');
    if (readRun(dir).effectiveState !== 'completed') await resume(dir, { backend: 'wasm' });
    assert.deepEqual(normalized(dir), expected, `killed at write ${k} (${writeLog[k - 1]})`);
  }
});
