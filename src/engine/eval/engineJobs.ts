import * as path from 'node:path';
import type {
  AutoAttackParams,
  CompleteInspectionParams,
  CompleteInspectionResult,
  DistanceParams,
  EvalFilesResult,
  EvalResult,
  InspectParams,
  JobProgressParams,
  SetupReport,
  SweepParams,
  TransferParams,
  WorstCaseParams,
} from '../../protocol/engine';
import { readRun } from '../../runs/reader';
import { datasetLoaders, loadDataset } from '../data/registry';
import { InputError } from '../errors';
import { addClassNames, drawMissingImages, missingImages, readInspection } from './completeInspection';
import { distanceRun, TABLE1_ATTACKS } from './distance';
import { autoAttackRun } from './autoattack';
import { inspectRun } from './inspect';
import { loadEvalRun } from './runModel';
import { assertEvalName } from './store';
import { assertPathAllowed, assertRunConfigAllowed, type TrustPolicy } from '../trust';
import { sweepRun } from './sweep';
import { transferRun } from './transfer';
import { worstCaseRun } from './worstCase';

/**
 * The evaluations as the engine process (src/engine/main.ts) serves them to the extension:
 * `fim/inspect`, `fim/attackSweep`, `fim/distance`, `fim/transfer`, `fim/worstCase`,
 * `fim/completeInspection` and `fim/autoattack`. Each records the equivalent `fim` command line in
 * the evaluation's provenance, so a result made in VS Code can be repeated from a terminal.
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

const test = (count: number) => ({ split: 'test' as const, start: 0, count });
/** An `--option` list as the CLI writes it, for the provenance's command line. */
const optionFlags = (o: Record<string, Record<string, unknown>> | undefined, prefixed: boolean) =>
  Object.entries(o ?? {})
    .flatMap(([a, kv]) => Object.entries(kv).map(([k, v]) => ` --option ${prefixed ? `${a}.` : ''}${k}=${String(v)}`))
    .join('');

export async function distanceJob(p: DistanceParams, progress: ProgressSink, signal: AbortSignal, trust: TrustPolicy): Promise<EvalResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
  const run = await loadEvalRun(p.runDir, trust);
  const attacks = p.attacks.length ? p.attacks : [...TABLE1_ATTACKS];
  const { file } = await distanceRun(run, {
    attacks,
    ...(p.options ? { options: p.options } : {}),
    selection: test(p.samples),
    ...(p.name ? { name: p.name } : {}),
    command: `fim eval distance --run ${p.runDir} --attacks ${attacks.join(',')} --samples ${p.samples}${optionFlags(p.options, true)}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'attack', message, fraction }),
    signal,
  });
  return { evalFile: file };
}

export async function transferJob(
  p: TransferParams,
  progress: ProgressSink,
  signal: AbortSignal,
  trust: TrustPolicy,
): Promise<EvalFilesResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.fromRunDir)} and ${path.basename(p.toRunDir)}` });
  if (path.resolve(p.fromRunDir) === path.resolve(p.toRunDir)) throw new InputError('transfer needs two different runs');
  const from = await loadEvalRun(p.fromRunDir, trust);
  const to = await loadEvalRun(p.toRunDir, trust);
  const { files } = await transferRun(from, to, {
    attack: p.attack,
    ...(p.budget !== undefined ? { budget: p.budget } : {}),
    ...(p.options ? { options: p.options } : {}),
    selection: test(p.samples),
    ...(p.name ? { name: p.name } : {}),
    command: `fim eval transfer --from ${p.fromRunDir} --to ${p.toRunDir} --attack ${p.attack}${p.budget !== undefined ? ` --eps ${p.budget}` : ''} --samples ${p.samples}${optionFlags(p.options ? { [p.attack]: p.options } : undefined, false)}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'attack', message, fraction }),
    signal,
  });
  return { evalFile: files[0]!, evalFiles: files };
}

export async function worstCaseJob(
  p: WorstCaseParams,
  progress: ProgressSink,
  signal: AbortSignal,
  trust: TrustPolicy,
): Promise<EvalResult> {
  assertEvalName(p.name);
  progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
  const run = await loadEvalRun(p.runDir, trust);
  const { file } = await worstCaseRun(run, {
    attacks: p.attacks,
    budgets: p.budgets,
    ...(p.options ? { options: p.options } : {}),
    selection: test(p.samples),
    ...(p.name ? { name: p.name } : {}),
    command: `fim eval worst-case --run ${p.runDir} --attacks ${p.attacks.join(',')} --eps ${p.budgets.join(',')} --samples ${p.samples}${optionFlags(p.options, true)}${p.name ? ` --name ${p.name}` : ''} (VS Code)`,
    onProgress: (message, fraction) => progress({ phase: 'attack', message, fraction }),
    signal,
  });
  return { evalFile: file };
}

/** Images for every sample of an inspection, and the class names (see completeInspection.ts). */
export async function completeInspectionJob(
  p: CompleteInspectionParams,
  progress: ProgressSink,
  signal: AbortSignal,
  trust: TrustPolicy,
): Promise<CompleteInspectionResult> {
  assertPathAllowed(trust, p.runDir, 'the run directory');
  const ev = readInspection(p.runDir, p.evalName);
  if (missingImages(ev).length > 0) {
    progress({ phase: 'load', message: `loading ${path.basename(p.runDir)}` });
    const run = await loadEvalRun(p.runDir, trust);
    const out = drawMissingImages(run, p.evalName, {
      onProgress: (message, fraction) => progress({ phase: 'inspect', message, fraction }),
      signal,
    });
    return { evalFile: out.file, rendered: out.rendered, classNames: out.classNames };
  }
  const config = readRun(p.runDir).config;
  if (!config) throw new InputError(`${p.runDir} has no readable config.json`);
  assertRunConfigAllowed(trust, config, p.runDir);
  const data = await loadDataset(config.dataset, config.dataDir);
  const out = addClassNames(p.runDir, p.evalName, data.test.classNames);
  return { evalFile: out.file, rendered: 0, classNames: out.classNames };
}

/** Whether each dataset loads here: the built-in ones are loaded; the others need a folder. */
export async function checkSetup(): Promise<SetupReport> {
  const datasets: SetupReport['datasets'] = [];
  for (const d of datasetLoaders()) {
    const base = { name: d.name, description: d.description, needsDataDir: d.needsDataDir };
    if (d.needsDataDir) {
      datasets.push({ ...base, status: 'needs-folder', detail: 'loads from a folder you choose when training' });
      continue;
    }
    try {
      const t0 = Date.now();
      const s = await loadDataset(d.name);
      datasets.push({
        ...base,
        status: 'ok',
        detail: `${s.train.count} train / ${s.test.count} test images of ${s.test.imageShape.join('×')}, ${s.test.numClasses} classes (${s.source}; loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      });
    } catch (e) {
      datasets.push({ ...base, status: 'error', detail: (e as Error).message });
    }
  }
  return { datasets };
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
