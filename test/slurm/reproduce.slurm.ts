import { strict as assert } from 'node:assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { ReproduceReport, ReproduceState, ReproduceStatus, StageStatus } from '../../src/runs/reproduce';
import { tmpDir, useEngineBackend } from '../helpers';
import { tinyPlan } from '../reproduce/tinyPlan';

/**
 * `fim reproduce --executor slurm` on a real Slurm: the one-node cluster of scripts/slurm-ci.sh
 * (run it with `bash scripts/slurm-ci.sh`; not part of `npm test`, which needs no Slurm). A tiny
 * plan is submitted with every evaluation in 2 shards; a training job is killed with scancel in
 * the middle of its stage; Slurm cancels its dependants; --status shows all of it; --cancel stops
 * the rest; a second submission is refused while jobs are queued; the rerun submits only the
 * unfinished stages, resumes the training and finishes. Its report must equal the local
 * executor's on the same plan: every number, interval and verdict, byte for byte once the fields
 * that legitimately differ (wall times, dates, machine load, run-directory names) are left out.
 */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: 'wasm', FIM_SLURM_POLL_MS: '1000' };

function fim(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, 'reproduce', ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
}

function status(out: string): ReproduceStatus {
  const r = fim(['--status', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ReproduceStatus;
}

const stageOf = (st: ReproduceStatus, key: string) => st.stages.find((s) => s.key === key)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 5 * 60_000, everyMs = 500): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    let v: T | undefined | false;
    try {
      v = f();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The report without what differs between two runs of the same plan: times, dates, load, run-directory names. */
function numbers(r: ReproduceReport): unknown {
  const drop = new Set(['createdAt', 'wallSeconds', 'wallByKind', 'trainSeconds', 'samplesPerSecond', 'runDir', 'sessions', 'environment']);
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => !drop.has(k))
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return strip(r);
}

let dir: string;
let planFile: string;
let local: ReproduceReport;

before(async () => {
  const sinfo = spawnSync('sinfo', ['-h', '-N', '-o', '%t'], { encoding: 'utf8' });
  assert.ok(
    sinfo.status === 0 && /idle|mix|alloc/.test(sinfo.stdout),
    `no Slurm cluster answers (start one with: bash scripts/slurm-ci.sh up): ${sinfo.error?.message ?? (sinfo.stderr || sinfo.stdout)}`,
  );
  await useEngineBackend();
  dir = tmpDir('fim-slurm-');
  const plan = tinyPlan(dir);
  // Long enough a training to kill it in the middle (about 10 s on a busy 2-core machine).
  plan.trainSamples = 20000;
  planFile = path.join(dir, 'plan.json');
  fs.writeFileSync(planFile, JSON.stringify(plan));
  const r = fim(['--plan', planFile, '--out', path.join(dir, 'local'), '--json']);
  assert.equal(r.status, 0, `the local run: ${r.stderr}`);
  local = JSON.parse(fs.readFileSync(path.join(dir, 'local', 'report.json'), 'utf8')) as ReproduceReport;
  assert.equal(local.complete, true);
});

test('a Slurm run killed mid-stage, cancelled, and resubmitted ends with the local run’s report', async () => {
  const out = path.join(dir, 'slurm');
  const first = fim(['--plan', planFile, '--out', out, '--executor', 'slurm', '--shards', '2', '--json']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /submitted train: job \d+, 2 task\(s\)/);
  assert.match(first.stderr, /submitted the report: job \d+/);

  // A second submission of the same directory is refused while the first has jobs queued.
  const second = fim(['--plan', planFile, '--out', out, '--executor', 'slurm']);
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, /still has \d+ job\(s\) queued or running.*a second submission is refused/);

  // Kill the defended model's training in the middle of its stage: once its job has recorded the
  // attempt and the training has logged its first steps (state.json and the run, read directly:
  // polling through the CLI would be too slow to catch a training of seconds).
  const victim = 'train:mu0.02:s0';
  const job = await until(
    `${victim} to be running`,
    () => {
      const rec = (JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')) as ReproduceState).stages[victim];
      if (rec?.status === 'done') throw new Error(`${victim} finished before it could be killed; give the plan more training samples`);
      return rec?.status === 'started' && rec.slurmJob && rec.runDir && fs.existsSync(path.join(out, rec.runDir, 'metrics.jsonl'))
        ? rec.slurmJob
        : undefined;
    },
    5 * 60_000,
    100,
  );
  const scancel = spawnSync('scancel', [job], { encoding: 'utf8' });
  assert.equal(scancel.status, 0, scancel.stderr);

  // Slurm cancels what depended on it (afterok), rather than leaving it pending forever.
  const afterKill = await until('the dependants to be cancelled', () => {
    const st = status(out);
    return st.stages.filter((s) => s.slurm?.some((t) => t.reason === 'DependencyNeverSatisfied')).length > 0 ? st : undefined;
  });
  const dependants = afterKill.stages.filter((s) => s.slurm?.some((t) => t.reason === 'DependencyNeverSatisfied'));
  assert.ok(
    dependants.some((s) => s.key === 'sweep:ossa:mu0.02:s0'),
    dependants.map((s) => s.key).join(', '),
  );
  for (const s of dependants) assert.equal(s.state, 'cancelled', `${s.key}: ${JSON.stringify(s.slurm)}`);

  // Once the baseline's training has finished, --cancel stops whatever is still queued or running.
  await until('the baseline training to finish', () => stageOf(status(out), 'train:mu0:s0').state === 'done');
  const cancel = fim(['--cancel', '--out', out]);
  assert.equal(cancel.status, 0, cancel.stderr);
  const stopped = await until('no job of the submission left', () => {
    const st = status(out);
    return st.submission && !st.submission.active ? st : undefined;
  });
  const killed: StageStatus = stageOf(stopped, victim);
  assert.equal(killed.state, 'interrupted', JSON.stringify(killed));
  assert.ok(killed.log && fs.existsSync(path.join(out, killed.log)), `the killed stage names its log (${killed.log})`);
  // scancel's SIGTERM stops the training after its current step, with a checkpoint to resume from.
  assert.match(fs.readFileSync(path.join(out, killed.log), 'utf8'), /stopping after the current step/);
  assert.match(killed.slurm![0]!.state, /CANCELLED/);
  assert.ok(stopped.submission!.cancelledAt, 'the submission is marked cancelled');
  assert.equal(stopped.complete, false);
  assert.equal(stageOf(stopped, 'train:mu0:s0').state, 'done', 'what finished stays done');
  const text = fim(['--status', '--out', out]);
  assert.equal(text.status, 0);
  assert.match(text.stdout, new RegExp(`${victim.replace(/[.]/g, '\\.')}\\s+interrupted`));

  // The rerun submits only what is unfinished and follows it to the end.
  const done = stopped.stages.filter((s) => s.state === 'done').length;
  const rerun = fim(['--plan', planFile, '--out', out, '--executor', 'slurm', '--shards', '2', '--wait', '--json']);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stderr, new RegExp(`\\(${done} already done\\)`));
  const final = JSON.parse(rerun.stdout) as ReproduceStatus;
  assert.equal(final.complete, true, JSON.stringify(final.stages.filter((s) => s.state !== 'done')));
  assert.equal(stageOf(final, victim).attempts, 2, 'the killed training ran again (resumed from its checkpoint)');

  const slurm = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ReproduceReport;
  assert.equal(slurm.complete, true);
  assert.deepEqual(numbers(slurm), numbers(local), 'the Slurm report has the local report’s numbers');
  assert.ok(slurm.sessions.length > local.sessions.length, 'one session per Slurm job');
});
