import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { makePlan } from '../../src/reproduce/plan';
import { FILES } from '../../src/reproduce/orchestrate';
import { UsageError } from '../../src/cli/args';
import { reproduceCommand } from '../../src/cli/commands/reproduce';
import { isInputError } from '../../src/engine';
import type { ReproduceStatus } from '../../src/runs/reproduce';
import { tmpDir } from '../helpers';

/**
 * `fim reproduce` with the Slurm flags, as a user types them, without a cluster: flag errors
 * (exit code 2), --slurm-dry-run (scripts on stdout, nothing written), --status of a directory
 * with nothing submitted, and a submission where Slurm's commands are missing. The cluster
 * itself: test/slurm/ (scripts/slurm-ci.sh).
 */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, 'reproduce', ...args], {
    cwd: root,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
  });
}

test('bad Slurm flags exit with code 2 and say what is wrong', async () => {
  const withPlan = tmpDir();
  fs.writeFileSync(path.join(withPlan, FILES.plan), JSON.stringify(makePlan({ quick: true })));
  const notPlan = path.join(tmpDir(), 'p.json');
  fs.writeFileSync(notPlan, JSON.stringify({ formatVersion: 1, mode: 'quick' }));
  const empty = tmpDir();
  const cases: [string[], RegExp][] = [
    [['--partition', 'gpu', '--out', empty], /--partition need --executor slurm/],
    [['--executor', 'pbs', '--out', empty], /--executor must be local or slurm/],
    [['--status', '--cancel', '--out', empty], /give one of --status, --cancel/],
    [['--shard', '1/2', '--out', empty], /--shard I\/N goes with --stage KEY/],
    [['--executor', 'slurm', '--time', 'soon', '--out', empty], /--time takes sbatch's format/],
    [['--executor', 'slurm', '--shards', '0', '--out', empty], /--shards expects an integer ≥ 1/],
    [['--plan', notPlan, '--quick'], /--plan FILE replaces --quick/],
    [['--plan', path.join(empty, 'none.json')], /--plan .*none\.json: no such file/],
    [['--plan', notPlan, '--out', empty], /is not a reproduction plan of this version/],
    [['--status', '--out', empty], /plan\.json is missing/],
    [['--cancel', '--out', withPlan], /has no Slurm submission to cancel/],
    [['--stage', 'no:such', '--out', withPlan], /has no stage "no:such"/],
  ];
  // In-process (each is a UsageError or an input error, which main.ts maps to exit code 2) …
  for (const [args, re] of cases) {
    await assert.rejects(reproduceCommand.run(args), (e: Error) => {
      assert.ok(e instanceof UsageError || isInputError(e), `${args.join(' ')}: ${e.message}`);
      assert.match(e.message, re, args.join(' '));
      return true;
    });
  }
  // … and two through the CLI, for the exit code and the message on stderr.
  for (const [args, re] of [cases[0]!, cases[9]!]) {
    const r = fim(args);
    assert.equal(r.status, 2, `fim reproduce ${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});

test('--slurm-dry-run prints every batch script and sbatch call, and writes nothing', () => {
  const out = path.join(tmpDir(), 'repro');
  const r = fim(['--quick', '--executor', 'slurm', '--slurm-dry-run', '--shards', '3', '--partition', 'cpu', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# sbatch train\.sh {3}\(2 task\(s\)\)\n#!\/bin\/bash\n/);
  assert.match(r.stdout, /# sbatch --dependency=afterok:<train>_0 after-mu0-s0\.sh/);
  assert.match(r.stdout, /--stage sweep:ossa:mu0\.022:s0 --shard 3\/3 ;;/);
  assert.match(r.stdout, /#SBATCH --partition=cpu/);
  assert.match(r.stdout, /# sbatch --dependency=afterany:<train>:.* report\.sh/);
  assert.match(r.stderr, /dry run: \d+ job\(s\), \d+ stage task\(s\) for \d+ unfinished stage\(s\) \(0 done\); nothing submitted/);
  assert.equal(fs.existsSync(out), false);
});

test('--status --json of a directory with nothing submitted; a submission without Slurm commands is a clear error', () => {
  const out = tmpDir();
  const plan = makePlan({ quick: true });
  fs.writeFileSync(path.join(out, FILES.plan), JSON.stringify(plan));
  const r = fim(['--status', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const st = JSON.parse(r.stdout) as ReproduceStatus;
  assert.equal(st.complete, false);
  assert.ok(st.stages.length > 10 && st.stages.every((s) => s.state === 'pending'));
  assert.equal(st.submission, undefined);
  assert.equal(st.report.exists, false);
  const text = fim(['--status', '--out', out]);
  assert.match(text.stdout, /train:mu0:s0\s+pending/);
  // No sbatch on the PATH: said in one line, exit code 2.
  const noSlurm = fim(['--quick', '--executor', 'slurm', '--out', tmpDir()], { PATH: tmpDir('fim-no-slurm-') });
  assert.equal(noSlurm.status, 2, noSlurm.stderr);
  assert.match(noSlurm.stderr, /sbatch is not on the PATH: run this on a Slurm login node/);
});
