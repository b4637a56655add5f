import * as path from 'node:path';
import { writeJsonAtomic } from '../runs/atomic';
import type { InspectEval } from '../runs/evals';
import type { ReproducePlan } from '../runs/reproduce';
import type { RobustRunPlan } from '../runs/reproduceDefences';
import { readJsonFile } from '../runs/reader';
import { DEFENCES_INSPECT_EVAL, DEFENCES_OSSA_EVAL, ROBUST_EVAL } from './defences';
import { modelOf, type Stage } from './plan';
import { fimRowOf } from './report/report';
import { runSanityCheck } from './sanity';
import type { ShardSpec } from '../runs/evals';
import {
  autoAttackRun,
  autoAttackShard,
  inspectRun,
  inspectShard,
  samplesOf,
  sweepRun,
  sweepShard,
  worstCaseRun,
  worstCaseShard,
  type EvalRun,
  type ShardWritten,
} from '../engine';

/** What a defence-comparison stage needs from the orchestrator (orchestrate.ts). */
export interface DefenceStageContext {
  plan: ReproducePlan;
  outDir: string;
  evalRun(model: string, seed: number): Promise<EvalRun>;
  /** The finished defences inspection of a model's seed, or null. */
  inspectFile(model: string, seed: number): string | null;
  common: { seed: number; onProgress: (message: string, fraction: number) => void; signal?: AbortSignal; command: string };
  /** Runs an evaluation whole, or only the orchestrator's shard of it (a Slurm shard job), and records its files. */
  evaluation(whole: () => Promise<string[]>, shard: (s: ShardSpec) => Promise<ShardWritten>): Promise<void>;
  /** Records the files of a stage that is never sharded. */
  wrote(files: string[]): void;
}

export const defenceSanityFile = (check: string, model: string) => `${check}-${model}.json`;

/** Runs one `defences:*` stage (or its shard) and records what it wrote through `c`. */
export async function runDefenceStage(c: DefenceStageContext, s: Stage): Promise<void> {
  const d = c.plan.defences!;
  const selection = (count: number) => ({ split: 'test' as const, start: 0, count });
  switch (s.kind) {
    case 'inspect': {
      const run = await c.evalRun(s.model!, s.seed!);
      const req = {
        ...c.common,
        selection: selection(d.inspect.samples),
        heldOut: d.inspect.heldOut,
        images: 4,
        name: DEFENCES_INSPECT_EVAL,
      };
      return c.evaluation(
        async () => [(await inspectRun(run, req)).file],
        (shard) => inspectShard(run, req, shard),
      );
    }
    case 'sweep': {
      const run = await c.evalRun(s.model!, s.seed!);
      const req = {
        ...c.common,
        attack: 'ossa',
        budgets: [d.ossa.epsilon],
        selection: selection(d.ossa.samples),
        clip: false,
        examples: 0,
        name: DEFENCES_OSSA_EVAL,
      };
      return c.evaluation(
        async () => [(await sweepRun(run, req)).file],
        (shard) => sweepShard(run, req, shard),
      );
    }
    case 'robust': {
      const run = await c.evalRun(s.model!, s.seed!);
      const r = s.params as unknown as RobustRunPlan;
      if (r.method === 'autoattack') {
        const norm = r.norm;
        if (norm !== 'linf' && norm !== 'l2') throw new Error(`AutoAttack has no ${norm} version (plan run ${r.id})`);
        const aa = {
          ...c.common,
          norm,
          epsilon: r.budgets[0]!,
          ...(r.attacks.length ? { version: 'custom' as const, attacks: r.attacks, options: r.options } : {}),
          selection: selection(d.robustSamples),
          name: ROBUST_EVAL(r.id),
        };
        return c.evaluation(
          async () => [(await autoAttackRun(run, aa)).file],
          (shard) => autoAttackShard(run, aa, shard),
        );
      }
      const req = {
        ...c.common,
        attacks: r.attacks,
        budgets: r.budgets,
        options: r.options,
        selection: selection(d.robustSamples),
        name: ROBUST_EVAL(r.id),
      };
      return c.evaluation(
        async () => [(await worstCaseRun(run, req)).file],
        (shard) => worstCaseShard(run, req, shard),
      );
    }
    case 'sanity': {
      const [a, b] = s.needs;
      const base = await c.evalRun(a!.model, a!.seed);
      const def = await c.evalRun(b!.model, b!.seed);
      const test = base.data.test;
      const idx = Array.from({ length: Math.min(d.sanity.samples, test.count) }, (_, i) => i);
      const { x, labels } = samplesOf(test, idx);
      const fimOf = (model: string, seed: number) => {
        const f = c.inspectFile(model, seed);
        const ev = f ? readJsonFile<InspectEval>(f) : null;
        return ev ? fimRowOf(modelOf(c.plan, model), ev) : null;
      };
      const fb = fimOf(a!.model, a!.seed);
      const fd = fimOf(b!.model, b!.seed);
      const check = runSanityCheck(
        s.check!,
        {
          baseline: base.model,
          defended: def.model,
          baselineLabel: modelOf(c.plan, a!.model).label,
          defendedLabel: modelOf(c.plan, b!.model).label,
          x,
          labels,
          shape: test.imageShape,
        },
        d.sanity,
        {
          seed: 0,
          onProgress: c.common.onProgress,
          ...(c.common.signal ? { signal: c.common.signal } : {}),
          ...(fb && fd ? { fim: { baseline: fb, defended: fd } } : {}),
        },
      );
      const file = path.join(c.outDir, 'sanity', defenceSanityFile(s.check!, b!.model));
      writeJsonAtomic(file, check);
      return c.wrote([file]);
    }
    default:
      throw new Error(`no defence-comparison stage of kind ${s.kind}`);
  }
}
