import * as path from 'node:path';
import type { EvalResult, InspectParams, JobProgressParams, SweepParams } from '../../protocol/engine';
import { inspectRun } from './inspect';
import { loadEvalRun } from './runModel';
import { assertEvalName } from './store';
import type { TrustPolicy } from '../trust';
import { sweepRun } from './sweep';

/**
 * The evaluations as the engine process (src/engine/main.ts) serves them to the extension:
 * `fim/inspect` and `fim/attackSweep`. Each records the equivalent `fim` command line in the
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
