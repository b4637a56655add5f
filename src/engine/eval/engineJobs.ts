import * as path from 'node:path';
import type { AutoAttackParams, EvalResult, InspectParams, JobProgressParams, SweepParams } from '../../protocol/engine';
import { autoAttackRun } from './autoattack';
import { inspectRun } from './inspect';
import { loadEvalRun } from './runModel';
import { assertEvalName } from './store';
import type { TrustPolicy } from '../trust';
import { sweepRun } from './sweep';

/**
 * The evaluations as the engine process (src/engine/main.ts) serves them to the extension:
 * `fim/inspect`, `fim/attackSweep` and `fim/autoattack`. Each records the equivalent `fim` command line in the
 * evaluation's provenance, so a result made in VS Code can be repeated from a terminal.
 */
export type ProgressSink = (p: Omit<JobProgressParams, 'jobId' | 'runDir'>) => void;

export async function inspectJob(p: InspectParams, progress: ProgressSink, signal: AbortSignal, trust: TrustPolicy): Promise<EvalResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
  const run = await loadEvalRun(p.runDir, trust);
  const { file } = await inspectRun(run, {
    selection: { split: 'test', start: 0, count: p.samples },
    ...(p.name ? { name: p.name } : {}),
    ...(p.images !== undefined ? { images: p.images } : {}),
    command: `fim inspect --run ${p.runDir} --samples ${p.samples}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'inspect', message, fraction }),
    signal,
  });
  return { evalFile: file };
}

export async function sweepJob(p: SweepParams, progress: ProgressSink, signal: AbortSignal, trust: TrustPolicy): Promise<EvalResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
  const run = await loadEvalRun(p.runDir, trust);
  const { file } = await sweepRun(run, {
    attack: p.attack,
    budgets: p.budgets,
    selection: { split: 'test', start: 0, count: p.samples },
    ...(p.name ? { name: p.name } : {}),
    command: `fim attack --run ${p.runDir} --attack ${p.attack} --eps ${p.budgets.join(',')} --samples ${p.samples} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'attack', message, fraction }),
    signal,
  });
  return { evalFile: file };
}

export async function autoAttackJob(
  p: AutoAttackParams,
  progress: ProgressSink,
  signal: AbortSignal,
  trust: TrustPolicy,
): Promise<EvalResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
  const run = await loadEvalRun(p.runDir, trust);
  const curve = p.curveSamples ? ` --curve-samples ${p.curveSamples}` : '';
  const { file, resumedAfter } = await autoAttackRun(run, {
    norm: p.norm,
    epsilon: p.epsilon,
    selection: { split: 'test', start: 0, count: p.samples },
    ...(p.curveSamples !== undefined ? { curveSamples: p.curveSamples } : {}),
    ...(p.name ? { name: p.name } : {}),
    command: `fim eval autoattack --run ${p.runDir} --norm ${p.norm} --eps ${p.epsilon} --samples ${p.samples}${curve}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'attack', message, fraction }),
    signal,
  });
  if (resumedAfter > 0)
    progress({ phase: 'save', message: `continued after ${resumedAfter} attack(s) an earlier call had finished`, fraction: 1 });
  return { evalFile: file };
}
