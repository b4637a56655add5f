import * as path from 'node:path';
import type { EvalResult, InspectParams, JobProgressParams, SweepParams } from '../../protocol/engine';
import { ATTACK_NAMES } from '../attacks/registry';
import { inspectRun } from './inspect';
import { loadEvalRun } from './runModel';
import { sweepRun } from './sweep';

/**
 * The evaluations as the engine process (src/engine/main.ts, JSON-RPC) exposes them to the
 * extension: `fim/inspect` and `fim/attackSweep`. Wire them with
 *   async function engineFeatures() { return evalFeatures(); }
 */
type ProgressSink = (p: Omit<JobProgressParams, 'jobId' | 'runDir'>) => void;

export function evalFeatures() {
  return {
    inspect: true,
    attacks: [...ATTACK_NAMES],
    async runInspect(p: InspectParams, progress: ProgressSink, signal: AbortSignal): Promise<EvalResult> {
      progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
      const run = await loadEvalRun(p.runDir);
      const { file } = await inspectRun(run, {
        selection: { split: 'test', start: 0, count: p.samples },
        ...(p.name ? { name: p.name } : {}),
        ...(p.images !== undefined ? { images: p.images } : {}),
        command: `fim inspect --run ${p.runDir} --samples ${p.samples}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
        onProgress: (message, fraction) => progress({ phase: 'inspect', message, fraction }),
        signal,
      });
      return { evalFile: file };
    },
    async runSweep(p: SweepParams, progress: ProgressSink, signal: AbortSignal): Promise<EvalResult> {
      progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
      const run = await loadEvalRun(p.runDir);
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
    },
  };
}
