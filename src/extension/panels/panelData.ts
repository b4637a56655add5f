/**
 * The data each panel shows, read from the run store (the only state). No `vscode` import: the
 * panel hosts add webview URIs, and the tests call these directly on fixture runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnyEval, DistanceEval, EvalKind, InspectEval, SweepEval, TransferEval, WorstCaseEval } from '../../runs/evals';
import { evalFile } from '../../runs/paths';
import { listRuns, readJsonFile, readMetrics, readRun } from '../../runs/reader';
import { REPRODUCE_FILES, type ReproduceReport } from '../../runs/reproduce';
import type { RunInfo } from '../../runs/types';
import {
  roleOf,
  type AdversarialData,
  type CurvesData,
  type DefencesData,
  type DistanceData,
  type FoolingData,
  type FoolingSeries,
  type InspectComparison,
  type InspectData,
  type ReportData,
  type RunRef,
  type TrainingData,
  type TransferData,
  type WorstCaseData,
} from '../../protocol/webview';
import { readReproduction } from '../reproductionModel';
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
  if (kind === 'transfer' && !Array.isArray((ev as TransferEval).results)) throw bad('no "results" array');
  if (kind === 'worst-case' && (!Array.isArray((ev as WorstCaseEval).results) || !Array.isArray((ev as WorstCaseEval).attacks)))
    throw bad('no "results"/"attacks" arrays');
  return ev as Extract<AnyEval, { kind: K }>;
}

export function evalsOfKind(run: RunInfo, kind: EvalKind): string[] {
  return run.evals.filter((n) => readEvalKind(run.dir, n) === kind);
}

/** Most comparisons a scatter offers (each is one point per inspected sample). */
export const MAX_COMPARISONS = 8;

export function loadInspectData(runDir: string, evalName: string): Omit<InspectData, 'assetsBase'> {
  const run = readRunOrThrow(runDir);
  const ev = loadEval(runDir, evalName, 'inspect');
  return { run: runRef(run), evalName, eval: ev, compare: inspectComparisons(run, evalName) };
}

/**
 * The newest inspection of each other run in the same store on the same dataset, runs of the
 * other role (baseline vs defended) first: the λmax(G_x)-against-margin scatter's second series.
 */
export function inspectComparisons(run: RunInfo, evalName: string): InspectComparison[] {
  const role = roleOf(run.config?.mu ?? null);
  const dataset = run.config?.dataset;
  const candidates = listRuns(path.dirname(run.dir)).filter(
    (r) => r.dir !== run.dir && (!dataset || !r.config || r.config.dataset === dataset),
  );
  const out: InspectComparison[] = [];
  for (const r of candidates) {
    const names = evalsOfKind(r, 'inspect');
    // Prefer one over the same samples (a reproduction names every inspection repro-inspect).
    const name = names.includes(evalName) ? evalName : names[names.length - 1];
    if (!name) continue;
    let other: InspectEval;
    try {
      other = loadEval(r.dir, name, 'inspect');
    } catch {
      continue;
    }
    out.push({
      run: runRef(r),
      role: roleOf(r.config?.mu ?? null),
      evalName: name,
      points: other.samples.map((s) => ({
        index: s.index,
        correct: s.predicted === s.label,
        lambdaMaxGx: s.lambdaMaxGx,
        scaledLambdaMaxGx: s.scaled?.lambdaMaxGx ?? null,
        normalizedMargin: s.normalizedMargin,
      })),
    });
  }
  out.sort((a, b) => Number(a.role === role) - Number(b.role === role));
  return out.slice(0, MAX_COMPARISONS);
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

/** A reproduction's report.html and progress (`runningHere` comes from the host's process list). */
export function loadReportData(dir: string, runningHere: boolean): ReportData {
  const r = readReproduction(dir);
  if (!r.plan && !r.progress && !r.state && !runningHere)
    throw new PanelDataError(
      `${dir} is not a reproduction directory (no plan.json, state.json or progress.json); start one with FIM: Reproduce Paper Results`,
    );
  let html: string | null;
  try {
    html = fs.readFileSync(path.join(dir, REPRODUCE_FILES.reportHtml), 'utf8');
  } catch {
    html = null;
  }
  return {
    dir: r.dir,
    name: r.name,
    html,
    progress: r.progress,
    live: r.live,
    runningHere,
    mode: r.plan?.mode ?? r.progress?.mode ?? null,
  };
}

/** Every evaluation of one kind in each run (the runs without one are listed apart). */
function evalsOfRuns<K extends EvalKind>(runDirs: string[], kind: K) {
  const evals: { run: RunRef; role: 'baseline' | 'defended'; evalName: string; eval: Extract<AnyEval, { kind: K }> }[] = [];
  const runsWithout: RunRef[] = [];
  for (const dir of runDirs) {
    const run = readRunOrThrow(dir);
    const ref = runRef(run);
    const names = evalsOfKind(run, kind);
    if (names.length === 0) runsWithout.push(ref);
    for (const evalName of names) evals.push({ run: ref, role: roleOf(ref.mu), evalName, eval: loadEval(dir, evalName, kind) });
  }
  return { evals, runsWithout };
}

export function loadDistanceData(runDirs: string[]): DistanceData {
  return evalsOfRuns(runDirs, 'distance');
}

export function loadWorstCaseData(runDirs: string[]): WorstCaseData {
  return evalsOfRuns(runDirs, 'worst-case');
}

/**
 * Transfer evaluations of the runs. Each is written into both runs with the same rows, so a pair
 * evaluated once appears once (the first copy found).
 */
export function loadTransferData(runDirs: string[]): TransferData {
  const { evals, runsWithout } = evalsOfRuns(runDirs, 'transfer');
  const seen = new Set<string>();
  const unique = evals.filter((e) => {
    const id = [...e.eval.results.map((r) => `${r.attack}|${r.sourceRunDir ?? r.source}|${r.targetRunDir ?? r.target}|${r.budget ?? ''}`)]
      .sort()
      .join(';');
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const runs = new Map<string, RunRef>();
  for (const e of unique) {
    runs.set(e.run.dir, e.run);
    const other = e.eval.otherRunDir;
    if (other && !runs.has(path.resolve(other))) {
      const info = readRun(other);
      runs.set(info.dir, runRef(info));
    }
  }
  return { evals: unique.map(({ run, evalName, eval: ev }) => ({ run, evalName, eval: ev })), runs: [...runs.values()], runsWithout };
}

export function loadCurvesData(runDirs: string[]): CurvesData {
  return {
    runs: runDirs.map((dir) => {
      const run = readRunOrThrow(dir);
      const ref = runRef(run);
      return {
        run: ref,
        role: roleOf(ref.mu),
        records: readMetrics(dir).records,
        totalSteps: run.status?.totalSteps ?? null,
        live: run.effectiveState === 'running',
      };
    }),
  };
}
