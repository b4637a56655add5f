import * as path from 'node:path';
import { parse, UsageError } from '../args';
import { printJson, Progress } from '../output';
import { commandLine } from './evalShared';
import { mergeEvalShards } from '../../engine';

export const MERGE_USAGE = `fim eval merge --run DIR --name NAME [--json]
  Combines the N shards of an evaluation (written by fim inspect, fim attack or fim eval … with
  --shard I/N --name NAME) into evals/NAME.json, identical to an unsharded run: the same
  per-sample results, counts and intervals. For a transfer, DIR is the --from run, and both runs
  get the result. Refuses while a shard is missing or the shards belong to different evaluations.
  No model is loaded; the shards stay in evals/.shards/NAME/.`;

/** `fim eval merge`: parsing and printing; the merge is the engine's mergeEvalShards. */
export async function mergeCommand(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { run: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) {
    process.stdout.write(MERGE_USAGE + '\n');
    return 0;
  }
  if (!v.run) throw new UsageError('--run DIR is required');
  if (!v.name) throw new UsageError('--name NAME is required (the name the shards were written with)');
  const progress = new Progress();
  const done = mergeEvalShards(path.resolve(v.run), v.name, commandLine('eval', ['merge', ...argv]));
  for (const f of done.files) progress.line(`wrote ${f}`);
  if (v.json) printJson({ files: done.files, shards: done.shards, ...done.result });
  else process.stdout.write(`merged ${done.shards} shards of the ${done.kind} evaluation "${v.name}" into ${done.files.join(' and ')}\n`);
  return 0;
}
