/**
 * The data each panel shows, read from the run store (the only state). No `vscode` import: the
 * panel hosts add webview URIs, and the tests call these directly on fixture runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnyEval, DistanceEval, EvalKind, InspectEval, SweepEval } from '../../runs/evals';
import type { ReproduceReport } from '../../runs/reproduce';
import { evalFile } from '../../runs/paths';
import { readJsonFile, readMetrics, readRun } from '../../runs/reader';
import type { RunInfo } from '../../runs/types';
import {
  roleOf,
  type AdversarialData,
  type DefencesData,
  type FoolingData,
  type FoolingSeries,
  type InspectData,
  type RunRef,
  type TrainingData,
} from '../../protocol/webview';
import { readEvalKind } from '../runsTreeModel';

/** A panel cannot show what was asked for; the message says why, for the user. */
export class PanelDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PanelDataError';
  }
}

export function runRef(run: RunInfo): RunRef {
  return {
    id: run.id,
    dir: run.dir,
    name: run.config?.name ?? run.summary?.name ?? run.id,
    mu: run.config?.mu ?? run.summary?.mu ?? null,
    state: run.effectiveState,
    model: run.config?.model ?? run.summary?.model ?? null,
    dataset: run.config?.dataset ?? run.summary?.dataset ?? null,
    ...(run.config?.imported ? { imported: true } : {}),
  };
}

function readRunOrThrow(runDir: string): RunInfo {
  const run = readRun(runDir);
  if (!run.config && !run.status)
    throw new PanelDataError(`${runDir} is not a readable run (${run.problems.join('; ') || 'no config.json or status.json'})`);
  return run;
}

export function loadTrainingData(runDir: string): TrainingData {
  const run = readRunOrThrow(runDir);
  const { records, skippedLines } = readMetrics(runDir);
  return {
    run: runRef(run),
    records,
    totalSteps: run.status?.totalSteps ?? null,
    epochs: run.config?.epochs ?? null,
    live: run.effectiveState === 'running',
    skippedLines,
  };
}

/** Reads and checks one evaluation file. */
export function loadEval<K extends EvalKind>(runDir: string, name: string, kind: K): Extract<AnyEval, { kind: K }> {
  const problems: string[] = [];
  const file = evalFile(runDir, name);
  const ev = readJsonFile<AnyEval>(file, problems);
  if (!ev) throw new PanelDataError(problems[0] ? `${file}: ${problems[0]}` : `${file} does not exist`);
  if (ev.kind !== kind) throw new PanelDataError(`${file} is a "${String(ev.kind)}" evaluation, not "${kind}"`);
  const bad = (what: string) => new PanelDataError(`${file}: ${what}; the file may come from another version or be damaged`);
  if (kind === 'inspect' && !Array.isArray((ev as InspectEval).samples)) throw bad('no "samples" array');
  if (kind === 'sweep' && (!Array.isArray((ev as SweepEval).results) || !Array.isArray((ev as SweepEval).examples)))
    throw bad('no "results"/"examples" arrays');
  if (kind === 'distance' && !Array.isArray((ev as DistanceEval).results)) throw bad('no "results" array');
  return ev as Extract<AnyEval, { kind: K }>;
}

export function evalsOfKind(run: RunInfo, kind: EvalKind): string[] {
  return run.evals.filter((n) => readEvalKind(run.dir, n) === kind);
}

export function loadInspectData(runDir: string, evalName: string): Omit<InspectData, 'assetsBase'> {
  const run = readRunOrThrow(runDir);
  return { run: runRef(run), evalName, eval: loadEval(runDir, evalName, 'inspect') };
}

export function loadAdversarialData(runDir: string, evalName?: string): Omit<AdversarialData, 'assetsBase'> {
  const run = readRunOrThrow(runDir);
  const names = evalsOfKind(run, 'sweep');
  if (names.length === 0) throw new PanelDataError(`run ${run.id} has no attack sweep yet; run FIM: Run Attack Sweep on it first`);
  if (evalName && !names.includes(evalName)) throw new PanelDataError(`run ${run.id} has no attack sweep named ${evalName}`);
  const sweeps = names.map((n) => ({ evalName: n, eval: loadEval(runDir, n, 'sweep') }));
  return { run: runRef(run), sweeps, selected: evalName ?? names[0]! };
}

/**
 * Fooling ratio vs budget of every sweep of every run (baseline and defended overlaid, the
 * paper's Fig. 3–5) and the minimum-distance tables (Table 1).
 */
export function loadFoolingData(runDirs: string[]): FoolingData {
  const series: FoolingSeries[] = [];
  const distances: FoolingData['distances'] = [];
  const runsWithoutSweeps: RunRef[] = [];
  for (const dir of runDirs) {
    const run = readRunOrThrow(dir);
    const ref = runRef(run);
    const role = roleOf(ref.mu);
    const sweeps = evalsOfKind(run, 'sweep');
    if (sweeps.length === 0) runsWithoutSweeps.push(ref);
    for (const name of sweeps) {
      const ev = loadEval(dir, name, 'sweep');
      series.push({
        run: ref,
        role,
        evalName: name,
        attack: ev.attack,
        norm: ev.norm,
        budgetUnit: ev.budgetUnit,
        samples: ev.samples,
        correct: ev.correct,
        cleanAccuracy: ev.cleanAccuracy,
        results: ev.results,
      });
    }
    for (const name of evalsOfKind(run, 'distance')) {
      distances.push({ run: ref, role, evalName: name, rows: loadEval(dir, name, 'distance').results });
    }
  }
  return { series, distances, runsWithoutSweeps };
}

/** The defence comparison of a `fim reproduce --defences` directory, from its report.json. */
export function loadDefencesData(reproduceDir: string): DefencesData {
  const file = path.join(reproduceDir, 'report.json');
  const report = readJsonFile<ReproduceReport>(file);
  if (!report)
    throw new PanelDataError(`${file} does not exist or is not readable JSON; run fim reproduce --defences … --out ${reproduceDir} first`);
  if (report.kind !== 'fim-reproduce') throw new PanelDataError(`${file} is not a fim reproduce report`);
  if (!report.defences || !report.plan.defences)
    throw new PanelDataError(`the reproduction in ${reproduceDir} has no defence comparison (it ran without --defences)`);
  if (!Array.isArray(report.defences.rows)) throw new PanelDataError(`${file}: the defence table is damaged or from another version`);
  return {
    reproduceDir,
    createdAt: report.createdAt,
    complete: report.complete,
    model: report.plan.model,
    epochs: report.plan.epochs,
    trainSamples: report.plan.trainSamples,
    plan: report.plan.defences,
    report: report.defences,
  };
}

/** Reproduction directories directly under `root` (e.g. the workspace's .fim/) whose report has a defence comparison. */
export function findDefenceReproductions(root: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return [];
  }
  return entries
    .map((e) => path.join(root, e))
    .filter((d) => readJsonFile<Pick<ReproduceReport, 'kind' | 'defences'>>(path.join(d, 'report.json'))?.defences !== undefined)
    .sort();
}
