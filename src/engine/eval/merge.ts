import type { AnyEval, EvalKind, EvalShardFile } from '../../runs/evals';
import { InputError } from '../errors';
import { autoAttackResult, type AutoAttackHeader, type AutoAttackPart } from './autoattack';
import { distanceResult, type DistanceHeader, type DistancePart } from './distance';
import { inspectResult, type InspectHeader, type InspectPart } from './inspect';
import { mergedProvenance, readShards, shardImages } from './shard';
import { writeEval } from './store';
import { sweepResult, type SweepHeader, type SweepPart } from './sweep';
import { transferResults, type TransferHeader, type TransferPart } from './transfer';
import { worstCaseResult, type WorstCaseHeader, type WorstCasePart } from './worstCase';

/**
 * `fim eval merge`: the N shards of an evaluation (eval/shard.ts) become the evaluation, through
 * the same aggregation as an unsharded run. Pure data: no model is loaded. A new shardable kind
 * adds its aggregation here.
 */
type Outputs = { runDir: string; name: string; value: AnyEval; /** The shards' images it keeps (default: all). */ images?: Set<string> }[];

const MERGERS: Record<EvalKind, (shards: EvalShardFile[], runDir: string, command?: string) => Outputs> = {
  inspect: (s, runDir, command) => [
    { runDir, name: s[0]!.name, value: inspectResult(header<InspectHeader>(s), parts<InspectPart>(s), mergedProvenance(s, command)) },
  ],
  sweep: (s, runDir, command) => [
    { runDir, name: s[0]!.name, value: sweepResult(header<SweepHeader>(s), parts<SweepPart>(s), mergedProvenance(s, command)) },
  ],
  distance: (s, runDir, command) => [
    { runDir, name: s[0]!.name, value: distanceResult(header<DistanceHeader>(s), parts<DistancePart>(s), mergedProvenance(s, command)) },
  ],
  transfer: (s, _runDir, command) => transferResults(header<TransferHeader>(s), parts<TransferPart>(s), mergedProvenance(s, command)),
  'worst-case': (s, runDir, command) => [
    { runDir, name: s[0]!.name, value: worstCaseResult(header<WorstCaseHeader>(s), parts<WorstCasePart>(s), mergedProvenance(s, command)) },
  ],
  autoattack: (s, runDir, command) => {
    const value = autoAttackResult(header<AutoAttackHeader>(s), parts<AutoAttackPart>(s), mergedProvenance(s, command));
    // Each shard kept images of its own first broken samples; the evaluation keeps the first overall.
    const images = new Set(value.examples.flatMap((e) => [e.original, e.perturbation, e.adversarial]));
    return [{ runDir, name: s[0]!.name, value, images }];
  },
};

// The fingerprint makes every shard's header the same; the first one stands for all.
const header = <H>(s: EvalShardFile[]) => s[0]!.header as unknown as H;
const parts = <P>(s: EvalShardFile[]) => s.map((x) => x.part as unknown as P);

export interface MergeResult {
  kind: EvalKind;
  /** The evaluation files written (transfer: one in each run). */
  files: string[];
  shards: number;
  result: AnyEval;
}

/**
 * Merges the shards of evaluation `name` stored in `runDir` (for a transfer: the `--from` run)
 * into `evals/<name>.json`, with the shards' images. The shards stay where they are.
 */
export function mergeEvalShards(runDir: string, name: string, command?: string): MergeResult {
  const shards = readShards(runDir, name);
  const kind = shards[0]!.evalKind;
  const merge = MERGERS[kind];
  if (!merge) throw new InputError(`evaluation "${name}" is of kind "${String(kind)}", which this engine cannot merge`);
  const outputs = merge(shards, runDir, command);
  const images = shardImages(runDir, shards);
  const kept = (o: Outputs[number]) => (o.images ? new Map([...images].filter(([rel]) => o.images!.has(rel))) : images);
  const files = outputs.map((o, i) => writeEval(o.runDir, o.name, o.value, i === 0 ? kept(o) : new Map<string, Uint8Array>()));
  return { kind, files, shards: shards.length, result: outputs[0]!.value };
}
