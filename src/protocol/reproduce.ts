import type { ReproduceExecutor, SlurmOptions } from '../runs/reproduce';

/**
 * Where `fim reproduce` runs its stages, as a front end chooses it (VS Code: the
 * `fim.reproduce.executor` and `fim.reproduce.slurm.*` settings), and the one translation of that
 * choice into the CLI's flags. The extension starts `fim reproduce` with `executorArgs(choice)`
 * (with `--wait` to follow a Slurm submission to its end) and shows the jobs live from
 * `fim reproduce --status --json` (`ReproduceStatus`); the CLI parses the same flags back
 * (src/cli/commands/reproduceSlurm.ts; a test checks the round trip).
 */
export interface ReproduceExecutorChoice {
  executor: ReproduceExecutor;
  slurm?: SlurmOptions;
}

export function executorArgs(choice: ReproduceExecutorChoice): string[] {
  if (choice.executor !== 'slurm') return [];
  const o = choice.slurm ?? {};
  const flag = (name: string, v: string | number | undefined) => (v === undefined || v === '' || v === 0 ? [] : [`--${name}`, String(v)]);
  return [
    '--executor',
    'slurm',
    ...flag('partition', o.partition),
    ...flag('account', o.account),
    ...flag('time', o.time),
    ...flag('cpus-per-task', o.cpusPerTask),
    ...flag('gpus-per-task', o.gpusPerTask),
    ...(o.sbatchArgs ?? []).filter((a) => a.trim() !== '').map((a) => `--sbatch-arg=${a}`),
    ...(o.shards && o.shards > 1 ? ['--shards', String(o.shards)] : []),
  ];
}
