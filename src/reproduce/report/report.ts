import * as path from 'node:path';
import type { DistanceEval, InspectEval, NormName, SweepEval, TransferEval } from '../../runs/evals';
import { readJsonFile, readRun } from '../../runs/reader';
import {
  REPRODUCE_FORMAT_VERSION,
  type AccuracyRow,
  type DistanceStat,
  type FimRow,
  type ReproduceModelSpec,
  type ReproducePlan,
  type ReproduceReport,
  type ReproduceSession,
  type ReproduceState,
  type SanityCheck,
  type SeedAccuracy,
  type StageKind,
  type SweepSeries,
  type Table1Row,
  type Table2Row,
  type TransferCell,
} from '../../runs/reproduce';
import { wilsonInterval } from '../../shared/stats';
import { decideTemperature } from '../checks';
import { findingsOf } from '../findings';
import { defencesReportOf } from './defences';
import { PAPER } from '../paper';
import { fingerprint, modelOf, muKey, stagesOf } from '../plan';
import { bootstrapMeanCi, bootstrapRatioCi, sampleSd } from '../stats';
import { foolbox2Units } from '../../engine';
import { autoAttackSection } from './autoattack';

/**
 * Builds the report from the files of a reproduction (never from memory), so a resumed or partial
 * reproduction gets the same report as one that ran straight through. Every number carries its
 * sample count and uncertainty: Wilson intervals for proportions (pooled over seeds, with the
 * per-seed values beside them), bootstrap intervals for mean distances and their ratios.
 */
const MNIST_PIXELS = 784;

interface Ctx {
  plan: ReproducePlan;
  state: ReproduceState;
  outDir: string;
}

function doneFile(c: Ctx, key: string, i = 0): string | null {
  const rec = c.state.stages[key];
  const f = rec?.status === 'done' ? rec.files?.[i] : undefined;
  return f ? path.join(c.outDir, f) : null;
}

function readStageEval<T>(c: Ctx, key: string, i = 0): T | null {
  const f = doneFile(c, key, i);
  return f ? readJsonFile<T>(f) : null;
}

function accuracyRows(c: Ctx): AccuracyRow[] {
  // Fig. 2's rows; the defence comparison has its own table (defences.ts).
  return c.plan.models
    .filter((m) => m.role !== 'defence')
    .map((m) => {
      const seeds: SeedAccuracy[] = [];
      for (const seed of m.seeds) {
        const rec = c.state.stages[`train:${m.key}:s${seed}`];
        if (!rec?.runDir) continue;
        const info = readRun(path.join(c.outDir, rec.runDir));
        const s = info.summary;
        seeds.push({
          seed,
          accuracy: s?.state === 'completed' ? s.testAccuracy : null,
          testSamples: info.config?.testSamples ?? c.plan.testSamples,
          epochsCompleted: s?.epochsCompleted ?? 0,
          state: info.effectiveState,
          trainSeconds: s?.wallSeconds ?? null,
          samplesPerSecond: s?.samplesPerSecond ?? null,
          meanTraceGs: s?.testMeanTraceGs ?? null,
          runDir: rec.runDir,
        });
      }
      const acc = seeds.map((s) => s.accuracy).filter((a): a is number => a !== null);
      const correct = seeds.reduce((a, s) => a + (s.accuracy === null ? 0 : Math.round(s.accuracy * s.testSamples)), 0);
      const total = seeds.reduce((a, s) => a + (s.accuracy === null ? 0 : s.testSamples), 0);
      return {
        model: m.key,
        label: m.label,
        role: m.role,
        mu: m.mu,
        seeds,
        mean: acc.length ? acc.reduce((a, b) => a + b, 0) / acc.length : null,
        sd: sampleSd(acc),
        min: acc.length ? Math.min(...acc) : null,
        max: acc.length ? Math.max(...acc) : null,
        pooledCi: total ? wilsonInterval(correct, total) : null,
      };
    });
}

/** Pools one attack's sweeps of a model over its seeds; ε on the chart is the plan's squared-l2 axis. */
function sweepSeries(c: Ctx, m: ReproduceModelSpec, attack: string, axis: number[]): SweepSeries | null {
  const evals = m.seeds
    .map((seed) => readStageEval<SweepEval>(c, `sweep:${attack}:${m.key}:s${seed}`))
    .filter((e): e is SweepEval => e !== null);
  if (evals.length === 0) return null;
  const points = axis.map((epsilon, i) => {
    let fooled = 0;
    let correct = 0;
    let cf = 0;
    let hasClipped = false;
    let l2 = 0;
    let hasDistance = false;
    const perSeed: number[] = [];
    for (const e of evals) {
      const p = e.results[i]!;
      fooled += p.fooled;
      correct += e.correct;
      perSeed.push(p.foolingRatio);
      if (p.clipped) {
        hasClipped = true;
        cf += p.clipped.fooled;
      }
      if (p.meanDistance !== undefined) {
        hasDistance = true;
        l2 += p.meanDistance * e.correct;
      }
    }
    return {
      epsilon,
      attackBudget: evals[0]!.results[i]!.budget,
      fooled,
      correct,
      ratio: fooled / correct,
      ci: wilsonInterval(fooled, correct),
      perSeed,
      ...(hasClipped ? { clipped: { fooled: cf, ratio: cf / correct, ci: wilsonInterval(cf, correct) } } : {}),
      ...(hasDistance ? { meanDistance: l2 / correct } : {}),
    };
  });
  return {
    attack,
    model: m.key,
    label: m.label,
    role: m.role,
    mu: m.mu,
    budgetUnit:
      attack === 'ossa'
        ? `ε = squared l2 norm ‖η‖₂² (paper §3.1), ${evals[0]!.clip ? 'clipped' : 'unclipped'} inputs`
        : `ε = squared l2 norm of the unclipped step (${evals[0]!.budgetUnit}; ${attack === 'fgm' ? 'l2 radius √ε' : 'l∞ = √ε/√N, a sign step of l2 norm √ε'})`,
    seeds: evals.length,
    samplesPerSeed: evals[0]!.samples,
    points,
  };
}

function distanceStat(row: DistanceEval['results'][number] | undefined, norm: NormName): { stat: DistanceStat; fb2: number[] } | null {
  if (!row) return null;
  const natural = (row.perSample ?? []).map((p) => p.distance).filter((d): d is number => d !== null);
  const fb2 = natural.map((d) => foolbox2Units(norm, d, MNIST_PIXELS));
  return {
    fb2,
    stat: {
      mean: row.foolbox2.mean,
      median: row.foolbox2.median,
      meanCi: bootstrapMeanCi(fb2, `table1:${row.attack}`),
      meanNatural: row.meanDistance,
      found: row.found ?? natural.length,
      attacked: row.attacked ?? row.samples,
      successCi: row.successRateCi ?? wilsonInterval(row.found ?? natural.length, row.samples),
      wallSeconds: row.wallSeconds ?? null,
    },
  };
}

function table1(c: Ctx): Table1Row[] {
  const base = readStageEval<DistanceEval>(c, `distance:${muKey(0)}:s0`);
  const def = readStageEval<DistanceEval>(c, `distance:${muKey(c.plan.muRoles.tables)}:s0`);
  if (!base && !def) return [];
  return c.plan.table1.attacks.map((attack) => {
    const rb = base?.results.find((r) => r.attack === attack);
    const rd = def?.results.find((r) => r.attack === attack);
    const norm = (rb ?? rd)?.norm ?? 'l2';
    const b = distanceStat(rb, norm);
    const d = distanceStat(rd, norm);
    const p = PAPER.table1.find((x) => x.attack === attack);
    const ratio = b && d && b.stat.mean > 0 ? d.stat.mean / b.stat.mean : null;
    return {
      attack,
      norm,
      unit: (rb ?? rd)?.foolbox2.unit ?? p?.unit ?? '',
      baseline: b?.stat ?? null,
      defended: d?.stat ?? null,
      ratio,
      ratioCi: b && d && b.fb2.length && d.fb2.length ? bootstrapRatioCi(b.fb2, d.fb2, `table1-ratio:${attack}`) : null,
      paper: p ? { baseline: p.baseline, defended: p.defended, ratio: p.defended / p.baseline } : null,
    };
  });
}

function transferCell(row: TransferEval['results'][number] | undefined): TransferCell | null {
  if (!row) return null;
  return {
    accuracy: row.samples ? row.targetAccuracy : null,
    ci: row.targetAccuracyCi,
    samples: row.samples,
    crafted: row.crafted ?? row.samples,
  };
}

function table2(c: Ctx): Table2Row[] {
  const rows: Table2Row[] = [];
  const baseKey = `train:${muKey(0)}:s0`;
  const baseDir = c.state.stages[baseKey]?.runDir;
  for (const attack of c.plan.table2.attacks) {
    const ev = readStageEval<TransferEval>(c, `transfer:${attack}`);
    if (!ev) continue;
    const isBase = (dir: string | undefined) =>
      Boolean(dir && baseDir && path.resolve(dir) === path.resolve(c.outDir, baseDir)) ||
      (dir !== undefined && path.basename(dir) === path.basename(baseDir ?? ''));
    const fromBase = ev.results.find((r) => isBase(r.sourceRunDir ?? r.source));
    const fromDef = ev.results.find((r) => !isBase(r.sourceRunDir ?? r.source));
    const p = PAPER.table2.find((x) => x.attack === attack);
    rows.push({
      attack,
      baselineToDefended: transferCell(fromBase),
      defendedToBaseline: transferCell(fromDef),
      ...(attack === 'ossa' ? { budget: c.plan.table2.ossaBudget } : {}),
      paper: p ? { baselineToDefended: p.baselineToDefended, defendedToBaseline: p.defendedToBaseline } : null,
    });
  }
  return rows;
}

/** Medians (robust to the few near-one-hot samples that dominate a baseline's means). */
export function fimRowOf(m: ReproduceModelSpec, ev: InspectEval): FimRow {
  return {
    model: m.key,
    label: m.label,
    mu: m.mu,
    samples: ev.samples.length,
    accuracy: ev.accuracy,
    temperature: ev.temperatureScaling.temperature,
    traceGs: ev.median.traceGs,
    lambdaMaxGx: ev.median.lambdaMaxGx,
    lambdaMaxGxScaled: ev.temperatureScaling.median.lambdaMaxGx,
    klBudget: ev.median.klBudget,
    klBudgetScaled: ev.temperatureScaling.median.klBudget,
    normalizedMargin: ev.median.normalizedMargin,
  };
}

function fimRows(c: Ctx): FimRow[] {
  return c.plan.models.flatMap((m) => {
    const ev = readStageEval<InspectEval>(c, `inspect:${m.key}:s${m.seeds[0]}`);
    return ev ? [fimRowOf(m, ev)] : [];
  });
}

/** The stored checks; the temperature check's decision is re-derived from the inspections (cheap, and it keeps its wording current). */
function sanity(c: Ctx, fim: FimRow[]): SanityCheck[] {
  const base = fim.find((f) => f.model === muKey(0));
  const head = fim.find((f) => f.model === muKey(c.plan.muRoles.headline));
  return stagesOf(c.plan)
    .filter((s) => s.kind === 'sanity' && !s.key.startsWith('defences:'))
    .map((s) => readStageEval<SanityCheck>(c, s.key))
    .filter((x): x is SanityCheck => x !== null)
    .map((x) => {
      if (x.id !== 'temperature-scaling' || !base || !head) return x;
      const d = decideTemperature(base, head);
      return { ...x, status: d.status, summary: d.summary, values: d.values };
    });
}

export function buildReport(plan: ReproducePlan, state: ReproduceState, outDir: string, session: ReproduceSession): ReproduceReport {
  const c: Ctx = { plan, state, outDir };
  const stages = stagesOf(plan).map((s) => {
    const rec = state.stages[s.key];
    const current = rec && rec.fingerprint === fingerprint(s.params);
    return {
      key: s.key,
      kind: s.kind,
      status: current ? rec.status : ('pending' as const),
      wallSeconds: current ? rec.wallSeconds : 0,
      ...(current && rec.message ? { message: rec.message } : {}),
    };
  });
  const wallByKind: Partial<Record<StageKind, number>> = {};
  for (const s of stages) wallByKind[s.kind] = (wallByKind[s.kind] ?? 0) + s.wallSeconds;
  const fim = fimRows(c);
  const fig5Models = [...new Set([muKey(0), muKey(plan.muRoles.fig5), ...plan.models.filter((m) => m.role !== 'fim').map((m) => m.key)])];
  const report: ReproduceReport = {
    formatVersion: REPRODUCE_FORMAT_VERSION,
    kind: 'fim-reproduce',
    createdAt: new Date().toISOString(),
    complete: stages.every((s) => s.status === 'done'),
    plan,
    environment: session,
    sessions: state.sessions.length ? state.sessions : [session],
    wallSeconds: stages.reduce((a, s) => a + s.wallSeconds, 0),
    wallByKind,
    stages,
    accuracy: accuracyRows(c),
    fig3: plan.models.map((m) => sweepSeries(c, m, 'ossa', plan.fig3.budgets)).filter((x): x is SweepSeries => x !== null),
    fig5: plan.fig5.attacks
      .flatMap((a) => fig5Models.map((k) => sweepSeries(c, modelOf(plan, k), a, plan.fig5.budgets)))
      .filter((x): x is SweepSeries => x !== null),
    table1: table1(c),
    table2: table2(c),
    fim,
    sanity: sanity(c, fim),
    findings: [],
    paper: PAPER,
  };
  if (plan.autoattack && plan.paper !== false) {
    const aa = autoAttackSection(plan, (key, i) => readStageEval(c, key, i));
    report.autoattack = aa.rows;
    report.curves = aa.curves;
  }
  report.findings = plan.paper === false ? [] : findingsOf(report);
  const defences = defencesReportOf(plan, state, outDir);
  if (defences) report.defences = defences;
  return report;
}
