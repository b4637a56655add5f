import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parse } from '../../src/cli/args';
import { checkSlurmFlags, SLURM_FLAGS, slurmOptionsFrom } from '../../src/cli/commands/reproduceSlurm';
import { executorArgs } from '../../src/protocol/reproduce';
import type { SlurmOptions } from '../../src/runs/reproduce';

/**
 * The executor choice (VS Code's fim.reproduce.* settings) as `fim reproduce` flags, and back:
 * what the extension passes is what the CLI reads.
 */
test('executorArgs → fim reproduce flags → the same Slurm options', () => {
  const cases: SlurmOptions[] = [
    {},
    {
      partition: 'gpu',
      account: 'proj-1',
      time: '1-12:00:00',
      cpusPerTask: 4,
      gpusPerTask: 1,
      sbatchArgs: ['--mem=8G', '--qos=short'],
      shards: 8,
    },
    { sbatchArgs: ['--constraint=a100|h100'] },
  ];
  for (const slurm of cases) {
    const args = executorArgs({ executor: 'slurm', slurm });
    const { values } = parse(args, SLURM_FLAGS);
    assert.equal(checkSlurmFlags(values), 'slurm');
    assert.deepEqual(slurmOptionsFrom(values), slurm, args.join(' '));
  }
  // Unset settings (empty strings, zeros, one shard) add no flags; local adds none at all.
  assert.deepEqual(
    executorArgs({
      executor: 'slurm',
      slurm: { partition: '', account: '', time: '', cpusPerTask: 0, gpusPerTask: 0, sbatchArgs: [''], shards: 1 },
    }),
    ['--executor', 'slurm'],
  );
  assert.deepEqual(executorArgs({ executor: 'local', slurm: { partition: 'gpu' } }), []);
});
