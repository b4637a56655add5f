import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { FILES, readState, runReproduce } from '../../src/reproduce/orchestrate';
import { fingerprint, stagesOf } from '../../src/reproduce/plan';
import { runStageJob } from '../../src/reproduce/stageJob';
import { dependencyOf, groupScript, jobGroups, reportScript } from '../../src/reproduce/slurm/jobs';
import { cancelSubmission, reproduceStatus, submitReproduce, waitForSubmission } from '../../src/reproduce/slurm/submit';
import { SlurmError, type SlurmClient, type SlurmJobState } from '../../src/reproduce/slurm/client';
import type { ReproducePlan, ReproduceReport, ReproduceState } from '../../src/runs/reproduce';
import { tmpDir, useEngineBackend } from '../helpers';
import { tinyPlan } from './tinyPlan';

/**
 * The Slurm executor without a cluster (the real one: test/slurm/, scripts/slurm-ci.sh): the job
 * graph and its batch scripts, the submission's sbatch calls and their dependencies, a failed
 * sbatch taking the submission back, the refusal of a second submission, --status and --cancel
 * on the states Slurm reports, and a whole submission executed task by task, in dependency
 * order, through the stage jobs (with every evaluation in 2 shards) — ending with the local
 * executor's report.
 */
let dir: string;
let plan: ReproducePlan;

before(async () => {
  await useEngineBackend();
  dir = tmpDir('fim-slurm-unit-');
  plan = tinyPlan(dir);
});

/** A stand-in for Slurm: numbered jobs, states set by the test, every call recorded. */
class FakeSlurm implements SlurmClient {
  next = 100;
  calls: { cmd: string; args: string[] }[] = [];
  states = new Map<string, SlurmJobState>();
  failOn = -1;
  sbatch(script: string, args: string[]): string {
    this.calls.push({ cmd: 'sbatch', args: [...args, script] });
    if (this.calls.filter((c) => c.cmd === 'sbatch').length === this.failOn)
      throw new Error('sbatch: error: Batch job submission failed: Invalid account');
    return String(this.next++);
  }
  squeue(ids: string[], all: boolean): Map<string, SlurmJobState> {
    this.calls.push({ cmd: 'squeue', args: ids });
    const out = new Map<string, SlurmJobState>();
    for (const [id, s] of this.states) {
      const array = id.split('_')[0]!;
      if ((ids.includes(id) || ids.includes(array)) && (all || !['COMPLETED', 'CANCELLED', 'FAILED'].includes(s.state))) out.set(id, s);
    }
    return out;
  }
  sacct(): Map<string, SlurmJobState> | null {
    return null;
  }
  scancel(ids: string[]): void {
    this.calls.push({ cmd: 'scancel', args: ids });
    for (const [id, s] of this.states)
      if (ids.includes(id.split('_')[0]!) && s.state !== 'COMPLETED') this.states.set(id, { state: 'CANCELLED' });
  }
}

const emptyState = (): ReproduceState => ({ formatVersion: 1, stages: {}, sessions: [] });

test('the job graph: trainings first, each stage once (or once per shard), afterok on its trainings, afterany on what it reads', () => {
  const stages = stagesOf(plan);
  const groups = jobGroups(stages, emptyState(), tmpDir(), { shards: 3 });
  assert.equal(groups[0]!.name, 'train');
  assert.deepEqual(
    groups[0]!.tasks.map((t) => t.stage.key),
    stages.filter((s) => s.kind === 'train').map((s) => s.key),
  );
  const seen = new Map<string, number[]>();
  groups.forEach((g, gi) =>
    g.tasks.forEach((t) => {
      seen.set(t.stage.key, [...(seen.get(t.stage.key) ?? []), t.shard?.index ?? 0]);
      // Dependencies point to earlier groups only, and to exactly the trainings the stage needs.
      for (const ref of [...g.afterOk, ...g.afterAny]) assert.ok(ref.group < gi, `${g.name} depends on a later group`);
      const needed = t.stage.needs.map((n) => `train:${n.model}:s${n.seed}`).sort();
      if (t.stage.kind !== 'train')
        assert.deepEqual([...new Set(g.afterOk.map((r) => groups[r.group]!.tasks[r.task]!.stage.key))].sort(), needed, t.stage.key);
    }),
  );
  for (const s of stages) {
    const shardable = ['inspect', 'sweep', 'distance', 'transfer'].includes(s.kind);
    assert.deepEqual(seen.get(s.key), shardable ? [1, 2, 3] : [0], s.key);
  }
  const temp = groups.find((g) => g.tasks.some((t) => t.stage.key === 'sanity:temperature-scaling'))!;
  assert.deepEqual(
    [...new Set(temp.afterAny.map((r) => groups[r.group]!.tasks[r.task]!.stage.key))].sort(),
    ['inspect:mu0.02:s0', 'inspect:mu0:s0'],
    'the temperature check reads both inspections, whatever their outcome',
  );
  assert.match(
    dependencyOf(
      temp,
      groups.map((_, i) => String(10 + i)),
    )!,
    /^afterok:10_\d:10_\d,afterany:(1[1-9]_\d+:?)+$/,
  );
});

test('done stages are left out; a stage with some shards written gets only the others', () => {
  const stages = stagesOf(plan);
  const out = tmpDir();
  const state = emptyState();
  const sweep = stages.find((s) => s.key === 'sweep:ossa:mu0:s0')!;
  // Both trainings done (their run directories exist), and shard 2 of 3 of one sweep written.
  for (const s of stages.filter((x) => x.kind === 'train')) {
    fs.mkdirSync(path.join(out, 'runs', s.key), { recursive: true });
    state.stages[s.key] = {
      key: s.key,
      kind: 'train',
      status: 'done',
      fingerprint: fpOf(s),
      runDir: path.join('runs', s.key),
      wallSeconds: 1,
      attempts: 1,
    };
  }
  state.stages[sweep.key] = {
    key: sweep.key,
    kind: 'sweep',
    status: 'started',
    fingerprint: fpOf(sweep),
    shards: { count: 3, done: [2], runDir: 'runs/x', name: 'n' },
    wallSeconds: 1,
    attempts: 1,
  };
  const groups = jobGroups(stages, state, out, { shards: 3 });
  assert.ok(
    groups.every((g) => g.name !== 'train' && g.afterOk.length === 0),
    'nothing waits for a finished training',
  );
  const tasks = groups.flatMap((g) => g.tasks).filter((t) => t.stage.key === sweep.key);
  assert.deepEqual(
    tasks.map((t) => t.shard?.index),
    [1, 3],
  );
});

const fpOf = (s: { params: Record<string, unknown> }) => fingerprint(s.params);

test('batch scripts: one case per task, the sbatch options, quoting, and jobs cancelled on a failed dependency', () => {
  const groups = jobGroups(stagesOf(plan), emptyState(), tmpDir(), { shards: 2 });
  const ctx = {
    outDir: "/shared/my repro/it's",
    fim: ['/opt/node/bin/node', '/opt/fim/bin/fim.js'],
    cwd: '/home/u',
    tag: 'repro',
    options: {
      partition: 'gpu',
      account: 'proj1',
      time: '2:00:00',
      cpusPerTask: 4,
      gpusPerTask: 1,
      sbatchArgs: ['--mem=8G', '--qos=short'],
    },
  };
  const text = groupScript(ctx, groups[1]!);
  assert.match(text, /^#!\/bin\/bash\n/);
  for (const line of [
    `#SBATCH --array=0-${groups[1]!.tasks.length - 1}`,
    '#SBATCH --kill-on-invalid-dep=yes',
    '#SBATCH --partition=gpu',
    '#SBATCH --account=proj1',
    '#SBATCH --time=2:00:00',
    '#SBATCH --cpus-per-task=4',
    '#SBATCH --gpus-per-task=1',
    '#SBATCH --mem=8G',
    '#SBATCH --qos=short',
    '#SBATCH --chdir=/home/u',
  ])
    assert.ok(text.includes(line + '\n'), line);
  assert.ok(text.includes(`--out '/shared/my repro/it'\\''s'`), 'paths are shell-quoted');
  groups[1]!.tasks.forEach((t, i) =>
    assert.ok(
      text.includes(`  ${i}) exec /opt/node/bin/node /opt/fim/bin/fim.js reproduce --out`) &&
        text.includes(`--stage ${t.stage.key}${t.shard ? ` --shard ${t.shard.index}/2` : ''} ;;`),
      t.stage.key,
    ),
  );
  assert.match(reportScript(ctx), /reproduce --out .* --report-only && exit 0\nrc=\$\?\n\[ "\$rc" -eq 1 \] && exit 0/);
});

test('submit: sbatch calls in dependency order with the job ids, recorded in state.json; dry run; refusals; a failed sbatch is taken back', async () => {
  const out = tmpDir();
  const dry = new FakeSlurm();
  const d = submitReproduce(plan, out, { dryRun: true, shards: 2 }, dry);
  assert.ok(d.dryRun && d.scripts.length >= 3 && d.scripts.at(-1)!.name === 'report');
  assert.deepEqual(dry.calls, [], 'a dry run calls no Slurm command');
  assert.deepEqual(fs.readdirSync(out), [], 'and writes nothing');

  const slurm = new FakeSlurm();
  const r = submitReproduce(plan, out, { shards: 2, partition: 'p' }, slurm);
  const sbatch = slurm.calls.filter((c) => c.cmd === 'sbatch');
  assert.equal(sbatch.length, r.scripts.length);
  assert.equal(sbatch[0]!.args.length, 1, 'the trainings wait for nothing');
  assert.match(sbatch[1]!.args[0]!, /^--dependency=afterok:100_\d$/);
  assert.match(sbatch.at(-1)!.args[0]!, new RegExp(`^--dependency=afterany:${r.submission!.jobs.map((j) => j.id).join(':')}$`));
  const state = readState(out);
  assert.equal(state.slurm?.length, 1);
  assert.deepEqual(state.slurm[0]!.options, { partition: 'p', shards: 2 });
  assert.ok(state.slurm[0]!.jobs.every((j) => fs.existsSync(path.join(out, j.script))));
  assert.equal(fs.existsSync(path.join(out, FILES.plan)), true);

  // While its jobs are queued, neither a second submission nor a local run may start.
  slurm.states.set('101_0', { state: 'PENDING', reason: 'Dependency' });
  assert.throws(() => submitReproduce(plan, out, {}, slurm), /still has 1 job\(s\) queued or running .*a second submission is refused/);

  await assert.rejects(runReproduce(plan, out, {}, undefined, { slurm }), /still has 1 job\(s\) queued or running/);
  slurm.states.set('101_0', { state: 'COMPLETED' });
  submitReproduce(plan, out, {}, slurm);
  assert.equal(readState(out).slurm?.length, 2, 'once they ended, a resubmission goes ahead');

  const failing = new FakeSlurm();
  failing.failOn = 3;
  const out2 = tmpDir();
  assert.throws(() => submitReproduce(plan, out2, {}, failing), /Invalid account; cancelled the 2 job\(s\) already submitted \(100, 101\)/);
  assert.deepEqual(failing.calls.at(-1), { cmd: 'scancel', args: ['100', '101'] });
  assert.equal(readState(out2).slurm, undefined, 'a failed submission is not recorded');
});

test('status and cancel read Slurm’s states: running, queued, cancelled by a failed dependency, failed before starting', () => {
  const out = tmpDir();
  const slurm = new FakeSlurm();
  const r = submitReproduce(plan, out, {}, slurm);
  const [train, evals] = r.submission!.jobs;
  slurm.states.set(`${train!.id}_0`, { state: 'RUNNING' });
  slurm.states.set(`${train!.id}_1`, { state: 'FAILED', reason: 'NonZeroExitCode' });
  evals!.tasks.forEach((_, i) => slurm.states.set(`${evals!.id}_${i}`, { state: 'PENDING', reason: 'Dependency' }));
  let st = reproduceStatus(out, slurm);
  const by = (k: string) => st.stages.find((s) => s.key === k)!;
  assert.equal(by('train:mu0:s0').state, 'running');
  assert.equal(by('train:mu0.02:s0').state, 'failed');
  assert.match(by('train:mu0.02:s0').message!, /ended before the stage could record anything/);
  assert.equal(by('train:mu0.02:s0').log, train!.tasks[1]!.log, 'a failed job names its log');
  assert.equal(by(evals!.tasks[0]!.stage).state, 'queued');
  assert.equal(st.submission?.active, true);

  evals!.tasks.forEach((_, i) => slurm.states.set(`${evals!.id}_${i}`, { state: 'CANCELLED', reason: 'DependencyNeverSatisfied' }));
  st = reproduceStatus(out, slurm);
  assert.equal(by(evals!.tasks[0]!.stage).state, 'cancelled');

  const c = cancelSubmission(out, slurm);
  assert.deepEqual(c.cancelled, [train!.id]);
  assert.ok(readState(out).slurm![0]!.cancelledAt);
  st = reproduceStatus(out, slurm);
  assert.equal(by('train:mu0:s0').state, 'cancelled');
  assert.equal(st.submission?.active, false);
});

test('--wait follows the jobs until none is left, reporting each change, and rides out a failing squeue', async () => {
  const out = tmpDir();
  const slurm = new FakeSlurm();
  const sub = submitReproduce(plan, out, {}, slurm).submission!;
  const all = [...sub.jobs.flatMap((j) => j.tasks.map((_, i) => `${j.id}_${i}`)), sub.reportJob!];
  const script: ((ids: string[]) => void)[] = [
    () => all.forEach((id) => slurm.states.set(id, { state: 'PENDING' })),
    () => {
      throw new SlurmError('squeue: error: slurm_load_jobs error: Socket timed out on send/recv operation');
    },
    () => slurm.states.set(all[0]!, { state: 'RUNNING' }),
    () => all.forEach((id) => slurm.states.set(id, { state: 'CANCELLED' })),
  ];
  const squeue = slurm.squeue.bind(slurm);
  let call = 0;
  slurm.squeue = (ids, a) => {
    script[Math.min(call++, script.length - 1)]!(ids);
    return squeue(ids, a);
  };
  const changes: string[] = [];
  const st = await waitForSubmission(
    out,
    { intervalMs: 1, onChange: (s, before) => before && changes.push(`${s.key}: ${before} → ${s.state}`) },
    slurm,
  );
  assert.equal(st.submission?.active, false);
  assert.ok(changes.includes('train:mu0:s0: queued → running'), changes.join('\n'));
  assert.ok(changes.includes('train:mu0:s0: running → cancelled'), changes.join('\n'));
  // A controller that stays unreachable ends the wait with the reason (the jobs are not touched).
  const broken = new FakeSlurm();
  const out2 = tmpDir();
  submitReproduce(plan, out2, {}, broken);
  broken.squeue = () => {
    throw new SlurmError('squeue: error: Unable to contact slurm controller');
  };
  await assert.rejects(
    waitForSubmission(out2, { intervalMs: 1 }, broken),
    /cannot follow the submission: squeue: error: Unable to contact/,
  );
  assert.equal(broken.calls.filter((c) => c.cmd === 'scancel').length, 0);
});

/** Runs every task of the latest submission in order, as Slurm would, through the stage jobs. */
async function runSubmission(out: string, slurm: FakeSlurm): Promise<void> {
  const sub = readState(out).slurm!.at(-1)!;
  for (const job of sub.jobs)
    for (let i = 0; i < job.tasks.length; i++) {
      const t = job.tasks[i]!;
      const env = {
        SLURM_ARRAY_JOB_ID: job.id,
        SLURM_ARRAY_TASK_ID: String(i),
        SLURM_JOB_ID: String(Number(job.id) * 100 + i),
        FIM_SLURM_LOG: path.join(out, t.log),
      };
      const r = await runStageJob(out, t.stage, { ...(t.shard ? { shard: t.shard } : {}), env });
      assert.notEqual(r.outcome, 'failed', `${t.stage}: ${r.record?.message}`);
      slurm.states.set(`${job.id}_${i}`, { state: 'COMPLETED' });
    }
}

const numbers = (r: ReproduceReport): unknown => {
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
};

test('a submission run task by task through the stage jobs, with 2 shards per evaluation, ends with the local report', async () => {
  const local = await runReproduce(plan, path.join(dir, 'local'));
  assert.equal(local.report.complete, true);
  const out = path.join(dir, 'jobs');
  const slurm = new FakeSlurm();
  submitReproduce(plan, out, { shards: 2 }, slurm);
  await runSubmission(out, slurm);
  const st = reproduceStatus(out, slurm);
  assert.equal(st.complete, true, JSON.stringify(st.stages.filter((s) => s.state !== 'done')));
  const sweep = readState(out).stages['sweep:ossa:mu0.02:s0']!;
  assert.deepEqual(sweep.shards?.done, [1, 2]);
  assert.equal(sweep.attempts, 1, 'the shards of one array share one attempt');
  assert.match(sweep.slurmJob!, /^\d+_\d+$/);
  // A job whose stage is done exits at once.
  const again = await runStageJob(out, 'train:mu0:s0');
  assert.equal(again.outcome, 'already-done');
  const shardAgain = await runStageJob(out, 'sweep:ossa:mu0.02:s0', { shard: { index: 1, count: 2 } });
  assert.equal(shardAgain.outcome, 'already-done');
  const rebuilt = await runReproduce(plan, out, {}, undefined, { reportOnly: true });
  assert.deepEqual(numbers(rebuilt.report), numbers(local.report));
  // Nothing left: a resubmission submits nothing.
  const none = submitReproduce(plan, out, { shards: 2 }, slurm);
  assert.equal(none.submitted, 0);
});

test('stage jobs refuse what they cannot run, and fail (with the reason) when their training did not finish', async () => {
  const out = tmpDir();
  await assert.rejects(runStageJob(out, 'train:mu0:s0'), /plan\.json is missing/);
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  await assert.rejects(runStageJob(out, 'no:such:stage'), /has no stage "no:such:stage"/);
  await assert.rejects(runStageJob(out, 'train:mu0:s0', { shard: { index: 1, count: 2 } }), /cannot run as shards/);
  const r = await runStageJob(out, 'sweep:ossa:mu0:s0', {
    env: { SLURM_ARRAY_JOB_ID: '7', SLURM_ARRAY_TASK_ID: '3', FIM_SLURM_LOG: path.join(out, 'x.out') },
  });
  assert.equal(r.outcome, 'failed');
  assert.match(r.record!.message!, /its training\(s\) did not finish: train:mu0:s0 \(not started\)/);
  const rec = readState(out).stages['sweep:ossa:mu0:s0']!;
  assert.equal(rec.slurmJob, '7_3');
  assert.equal(rec.log, 'x.out');
});

test('a training left "running" by a job on another node is taken over and resumed by the next job', async () => {
  const out = tmpDir();
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  const ac = new AbortController();
  const first = await runStageJob(out, 'train:mu0:s0', {
    signal: ac.signal,
    hooks: { onStageProgress: (_s, _m, fraction) => fraction > 0.2 && ac.abort() },
    env: { SLURM_ARRAY_JOB_ID: '5', SLURM_ARRAY_TASK_ID: '0' },
  });
  assert.equal(first.outcome, 'interrupted');
  const runDir = path.join(out, first.record!.runDir!);
  // As a job SIGKILLed on node-17 leaves it: running, owned by a pid that cannot be checked here.
  const statusFile = path.join(runDir, 'status.json');
  const status = JSON.parse(fs.readFileSync(statusFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(statusFile, JSON.stringify({ ...status, state: 'running', hostname: 'node-17', pid: 4242 }));
  const second = await runStageJob(out, 'train:mu0:s0', { env: { SLURM_ARRAY_JOB_ID: '9', SLURM_ARRAY_TASK_ID: '0' } });
  assert.equal(second.outcome, 'done', second.record?.message);
  assert.equal(second.record!.attempts, 2);
  assert.equal(second.record!.runDir, first.record!.runDir, 'the same run, resumed');
  const final = JSON.parse(fs.readFileSync(statusFile, 'utf8')) as { state: string };
  assert.equal(final.state, 'completed');
  assert.match(fs.readFileSync(path.join(runDir, 'train.fimlog'), 'utf8'), /resum/i);
});

test('a failed shard stays visible while its siblings finish; rerunning it merges the stage', async () => {
  const out = tmpDir();
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  assert.equal((await runStageJob(out, 'train:mu0:s0')).outcome, 'done');
  const key = 'sweep:ossa:mu0:s0';
  const job = (array: string, task: number) => ({ SLURM_ARRAY_JOB_ID: array, SLURM_ARRAY_TASK_ID: String(task) });
  // Shard 1/3 of array 40 "failed" (as a job whose shard threw records it).
  const first = await runStageJob(out, key, { shard: { index: 1, count: 3 }, env: job('40', 0) });
  assert.equal(first.outcome, 'done');
  const st = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')) as ReproduceState;
  st.stages[key] = {
    ...st.stages[key]!,
    status: 'failed',
    message: 'shard 1/3: out of memory',
    shards: { ...st.stages[key]!.shards!, done: [] },
  };
  fs.writeFileSync(path.join(out, 'state.json'), JSON.stringify(st));
  for (const i of [2, 3]) {
    const r = await runStageJob(out, key, { shard: { index: i, count: 3 }, env: job('40', i - 1) });
    assert.equal(r.outcome, 'done', 'a shard that worked exits 0');
  }
  let rec = readState(out).stages[key]!;
  assert.equal(rec.status, 'failed');
  assert.equal(rec.message, 'shard 1/3: out of memory');
  assert.deepEqual(rec.shards?.done, [2, 3]);
  assert.equal(rec.attempts, 1);
  // The resubmission runs only shard 1 (a new array); it completes the set and merges.
  const again = await runStageJob(out, key, { shard: { index: 1, count: 3 }, env: job('41', 0) });
  assert.equal(again.outcome, 'done');
  assert.equal(again.merged, true);
  rec = readState(out).stages[key]!;
  assert.equal(rec.status, 'done');
  assert.equal(rec.message, undefined);
  assert.equal(rec.attempts, 2);
  assert.ok(rec.files?.length === 1 && fs.existsSync(path.join(out, rec.files[0]!)));
});
