import * as path from 'node:path';
import type { AutoAttackEval, InspectEval, SweepEval, WorstCaseEval } from '../../runs/evals';
import { readJsonFile, readMetrics, readRun } from '../../runs/reader';
import type { Finding, ReproduceModelSpec, ReproducePlan, ReproduceState, SanityCheck } from '../../runs/reproduce';
import type { DefenceFim, DefenceRow, DefencesReport, PooledRate, RobustCell, RobustRunPlan } from '../../runs/reproduceDefences';
import type { EpochMetrics } from '../../runs/types';
import { defenceLabel } from '../../runs/defence';
import { median, wilsonInterval } from '../../shared/stats';
import { SANITY_CHECKS } from '../sanity';
import { defenceSanityFile } from '../defencesRun';
import { muKey } from '../plan';

/**
 * The defence comparison's table and findings, built from the files of a reproduction (like the
 * rest of the report). Proportions are pooled over seeds with a 95% Wilson interval (test-sample
 * uncertainty), the per-seed values beside them; FIM statistics are medians over the inspected
 * samples of every seed.
 */
interface Ctx {
  plan: ReproducePlan;
  state: ReproduceState;
  outDir: string;
}

function stageFile(c: Ctx, key: string): string | null {
  const rec = c.state.stages[key];
  const f = rec?.status === 'done' ? rec.files?.[0] : undefined;
  return f ? path.join(c.outDir, f) : null;
}

function read<T>(c: Ctx, key: string): T | null {
  const f = stageFile(c, key);
  return f ? readJsonFile<T>(f) : null;
}

function pooled(parts: { k: number; n: number }[]): PooledRate | null {
  const ok = parts.filter((p) => p.n > 0);
  if (ok.length === 0) return null;
  const k = ok.reduce((a, p) => a + p.k, 0);
  const n = ok.reduce((a, p) => a + p.n, 0);
  return { value: k / n, ci: wilsonInterval(k, n), k, n, perSeed: ok.map((p) => p.k / p.n) };
}

function trainDir(c: Ctx, key: string, seed: number): string | null {
  const rec = c.state.stages[`train:${key}:s${seed}`];
  return rec?.status === 'done' && rec.runDir ? path.join(c.outDir, rec.runDir) : null;
}

function robustCells(c: Ctx, m: ReproduceModelSpec): RobustCell[] {
  const d = c.plan.defences!;
  return d.robust.flatMap((r) => {
    if (r.method === 'autoattack') return autoAttackCells(c, m, r);
    const evals = m.seeds
      .map((s) => read<WorstCaseEval>(c, `defences:robust-${r.id}:${m.key}:s${s}`))
      .filter((e): e is WorstCaseEval => e !== null);
    return r.budgets.flatMap((budget, bi) => {
      const parts = evals.map((e) => {
        const n = e.samples ?? e.provenance.sampleIndices.length;
        return { k: Math.round(e.results[bi]!.robustAccuracy * n), n };
      });
      const accuracy = pooled(parts);
      if (!accuracy) return [];
      const perAttack: Record<string, number> = {};
      for (const a of r.attacks) {
        const n = parts.reduce((s, p) => s + p.n, 0);
        perAttack[a] = evals.reduce((s, e, i) => s + (e.results[bi]!.perAttackAccuracy[a] ?? 0) * parts[i]!.n, 0) / n;
      }
      return [{ run: r.id, norm: r.norm, budget, accuracy, perAttack }];
    });
  });
}

/** An AutoAttack run's one cell: its robust accuracy, and what was left after each attack of the cascade. */
function autoAttackCells(c: Ctx, m: ReproduceModelSpec, r: RobustRunPlan): RobustCell[] {
  const evals = m.seeds
    .map((s) => read<AutoAttackEval>(c, `defences:robust-${r.id}:${m.key}:s${s}`))
    .filter((e): e is AutoAttackEval => e !== null);
  const parts = evals.map((e) => ({ k: Math.round(e.robustAccuracy * e.samples), n: e.samples }));
  const accuracy = pooled(parts);
  if (!accuracy) return [];
  const perAttack: Record<string, number> = {};
  for (const step of evals[0]!.cascade)
    perAttack[step.attack] =
      evals.reduce((s, e, i) => s + (e.cascade.find((x) => x.attack === step.attack)?.robustAccuracy ?? 0) * parts[i]!.n, 0) / accuracy.n;
  return [{ run: r.id, norm: r.norm, budget: r.budgets[0]!, accuracy, perAttack }];
}

function fimOf(c: Ctx, m: ReproduceModelSpec): DefenceFim | null {
  const evals = m.seeds.map((s) => read<InspectEval>(c, `defences:inspect:${m.key}:s${s}`)).filter((e): e is InspectEval => e !== null);
  if (evals.length === 0) return null;
  const all = evals.flatMap((e) => e.samples);
  return {
    samples: all.length,
    lambdaMaxGx: median(all.map((s) => s.lambdaMaxGx)),
    lambdaMaxGxScaled: median(all.map((s) => s.scaled?.lambdaMaxGx ?? NaN).filter(Number.isFinite)),
    normalizedMargin: median(all.map((s) => s.normalizedMargin)),
    temperatures: evals.map((e) => e.temperatureScaling.temperature),
    pTrue: median(all.map((s) => s.probs[s.label]!)),
  };
}

function rowOf(c: Ctx, m: ReproduceModelSpec): DefenceRow {
  const d = c.plan.defences!;
  const clean = m.seeds.flatMap((seed) => {
    const dir = trainDir(c, m.key, seed);
    const s = dir ? readRun(dir).summary : null;
    return s?.state === 'completed' && s.testAccuracy !== null
      ? [{ k: Math.round(s.testAccuracy * c.plan.testSamples), n: c.plan.testSamples }]
      : [];
  });
  const ossa = m.seeds.flatMap((seed) => {
    const e = read<SweepEval>(c, `defences:ossa:${m.key}:s${seed}`);
    return e ? [{ k: e.results[0]!.fooled, n: e.correct }] : [];
  });
  const secondsPerEpoch: number[] = [];
  const samplesPerSecond: number[] = [];
  for (const seed of m.seeds) {
    const dir = trainDir(c, m.key, seed);
    if (!dir) continue;
    const epochs = readMetrics(dir).records.filter((r): r is EpochMetrics => r.kind === 'epoch');
    if (epochs.length === 0) continue;
    secondsPerEpoch.push(epochs.reduce((a, e) => a + e.seconds, 0) / epochs.length);
    samplesPerSecond.push(epochs.reduce((a, e) => a + e.samplesPerSecond, 0) / epochs.length);
  }
  const sanity = d.sanityChecks.flatMap((id) => {
    if (m.key === muKey(0)) return [];
    const f = path.join(c.outDir, 'sanity', defenceSanityFile(id, m.key));
    const done = c.state.stages[`defences:sanity:${id}:${m.key}`]?.status === 'done';
    const check = done ? readJsonFile<SanityCheck>(f) : null;
    const title = SANITY_CHECKS.find((x) => x.id === id)?.title ?? id;
    return check ? [{ id, title, status: check.status, summary: check.summary }] : [];
  });
  const cleanRate = pooled(clean);
  const robust = robustCells(c, m);
  const atGoal = robust.find((r) => r.norm === 'linf' && r.budget === d.goal.epsilon);
  return {
    model: m.key,
    label: m.label,
    defence: defenceLabel(m),
    seeds: clean.length,
    cleanAccuracy: cleanRate,
    robust,
    ossa: pooled(ossa),
    fim: fimOf(c, m),
    sanity,
    secondsPerEpoch,
    samplesPerSecond,
    meetsGoal: cleanRate && atGoal ? cleanRate.value >= d.goal.cleanAccuracy && atGoal.accuracy.value >= d.goal.robustAccuracy : null,
  };
}

/** The trace term and the defences built on the Fisher information (fim train --defence); not PGD-AT, LSR or the baseline. */
function isFisherDerived(m: ReproduceModelSpec | undefined): boolean {
  return m !== undefined && (m.defence !== undefined || (m.mu > 0 && !m.adversarialTraining));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rate = (r: PooledRate) => `${pct(r.value)} [${pct(r.ci[0])}, ${pct(r.ci[1])}]`;
const above = (a: PooledRate, b: PooledRate) => a.ci[0] > b.ci[1];

/** Plain statements about the comparison; never tuned: each follows from the table's numbers by the rules stated in it. */
export function defenceFindings(plan: ReproducePlan, rows: DefenceRow[]): Finding[] {
  const d = plan.defences!;
  const out: Finding[] = [];
  const robustAt = (r: DefenceRow, norm: string, budget: number) => r.robust.find((x) => x.norm === norm && x.budget === budget)?.accuracy;
  const goalText = `robust accuracy ≥ ${pct(d.goal.robustAccuracy)} at l∞ ${d.goal.epsilon} with ≥ ${pct(d.goal.cleanAccuracy)} clean accuracy (${d.robustSuite})`;
  const measured = rows.filter((r) => r.cleanAccuracy && robustAt(r, 'linf', d.goal.epsilon));
  if (measured.length === 0) {
    out.push({ topic: 'the goal', paper: goalText, ours: 'not measured yet', verdict: 'not measured' });
    return out;
  }
  // The goal asks for a Fisher-derived defence; PGD-AT and LSR are comparisons, reported beside it.
  const fisher = measured.filter((r) => isFisherDerived(plan.models.find((m) => m.key === r.model)));
  const meets = fisher.filter((r) => r.meetsGoal);
  const others = measured.filter((r) => !fisher.includes(r) && r.meetsGoal);
  const describe = (r: DefenceRow) => `${r.label}: clean ${rate(r.cleanAccuracy!)}, robust ${rate(robustAt(r, 'linf', d.goal.epsilon)!)}`;
  const comparisons = others.length ? `; of the comparisons (not Fisher-derived), ${others.map(describe).join('; ')} meets it` : '';
  out.push({
    topic: 'the goal',
    paper: `a Fisher-derived defence with ${goalText}`,
    ours:
      (meets.length
        ? `met by ${meets.map(describe).join('; ')}`
        : `met by no Fisher-derived defence; closest: ${[...fisher]
            .sort((a, b) => robustAt(b, 'linf', d.goal.epsilon)!.value - robustAt(a, 'linf', d.goal.epsilon)!.value)
            .slice(0, 2)
            .map(describe)
            .join('; ')}`) + comparisons,
    verdict: meets.length
      ? meets.some((r) => robustAt(r, 'linf', d.goal.epsilon)!.ci[0] >= d.goal.robustAccuracy)
        ? 'agrees'
        : 'partly'
      : 'differs',
    ...(meets.length && !meets.some((r) => robustAt(r, 'linf', d.goal.epsilon)!.ci[0] >= d.goal.robustAccuracy)
      ? { why: 'the point estimates meet it, but the lower ends of the intervals fall below the target' }
      : {}),
  });
  const trace = rows.find((r) => r.model === muKey(plan.muRoles.headline));
  const base = rows.find((r) => r.model === muKey(0));
  const traceRobust = trace && robustAt(trace, 'linf', d.goal.epsilon);
  const baseRobust = base && robustAt(base, 'linf', d.goal.epsilon);
  if (traceRobust) {
    const better = measured.filter((r) => r !== trace && above(robustAt(r, 'linf', d.goal.epsilon)!, traceRobust));
    out.push({
      topic: "beating the paper's trace term",
      paper: `robust accuracy at l∞ ${d.goal.epsilon} above the trace term's (${rate(traceRobust)}) with disjoint intervals`,
      ours: better.length
        ? `${better.map((r) => r.label).join(', ')} beat it outside the intervals`
        : 'no defence beats it outside the intervals',
      verdict: better.length ? 'agrees' : 'differs',
    });
  }
  // What each defence does: holds, only flattens the outputs, or masks gradients (by the checks' outcome).
  for (const r of rows) {
    if (r === base) continue;
    const rb = robustAt(r, 'linf', d.goal.epsilon);
    const failed = r.sanity.filter((s) => s.status === 'fail');
    const temperature = r.fim ? median(r.fim.temperatures) : null;
    const flat = temperature !== null && temperature < 0.5;
    const gains = rb && baseRobust ? above(rb, baseRobust) : null;
    const lambda =
      r.fim && base?.fim
        ? `median λmax(G_x) ×${(r.fim.lambdaMaxGx / base.fim.lambdaMaxGx).toPrecision(2)} the baseline's, ×${(r.fim.lambdaMaxGxScaled / base.fim.lambdaMaxGxScaled).toPrecision(2)} after temperature scaling; normalised margin ×${(r.fim.normalizedMargin / base.fim.normalizedMargin).toPrecision(2)}; fitted T = ${temperature!.toPrecision(2)}, median p_true ${r.fim.pTrue.toFixed(2)}`
        : 'FIM statistics not measured';
    let what: string;
    if (gains === null) what = 'robust accuracy not measured yet';
    else if (failed.length) what = `possible gradient masking: ${failed.map((s) => s.title).join(', ')} failed`;
    else if (gains && !r.sanity.length)
      // "Holds" needs the masking checks; without them the gain alone is all that is known.
      what = `beats the baseline (robust accuracy ${rate(rb!)} against ${rate(baseRobust!)}), but no masking check has run yet`;
    else if (gains)
      what = `holds: robust accuracy ${rate(rb!)} against the baseline's ${rate(baseRobust!)}, and the ${r.sanity.length} masking checks run pass or only warn`;
    else if (flat)
      what = `only flattens the outputs: its logit scale shrinks (T < 0.5) but robust accuracy is not above the baseline's (${rate(rb!)} vs ${rate(baseRobust!)})`;
    else what = `does not hold: robust accuracy ${rate(rb!)}, not above the baseline's ${rate(baseRobust!)}`;
    out.push({
      topic: `what ${r.label} does`,
      paper: 'a defence holds when its robust accuracy beats the baseline outside the intervals with no masking check failing',
      ours: `${what}; ${lambda}`,
      verdict: gains === null || (gains && !r.sanity.length) ? 'not measured' : gains && !failed.length ? 'agrees' : 'differs',
    });
  }
  const cost = rows.filter((r) => r.secondsPerEpoch.length);
  const baseCost = base?.secondsPerEpoch.length ? base.secondsPerEpoch.reduce((a, b) => a + b, 0) / base.secondsPerEpoch.length : null;
  if (cost.length && baseCost) {
    out.push({
      topic: 'training cost',
      paper: 'TRADES and PGD-AT cost about K+1 passes per step',
      ours: cost
        .map((r) => {
          const s = r.secondsPerEpoch.reduce((a, b) => a + b, 0) / r.secondsPerEpoch.length;
          return `${r.label} ${Math.round(s)} s/epoch (×${(s / baseCost).toFixed(1)})`;
        })
        .join(', '),
      verdict: 'agrees',
      why: 'wall time on this machine; the load average of each session is in the report',
    });
  }
  return out;
}

export function defencesReportOf(plan: ReproducePlan, state: ReproduceState, outDir: string): DefencesReport | undefined {
  if (!plan.defences) return undefined;
  const c: Ctx = { plan, state, outDir };
  const rows = plan.defences.models.map((k) =>
    rowOf(
      c,
      plan.models.find((m) => m.key === k)!,
    ),
  );
  return { robustSuite: plan.defences.robustSuite, rows, findings: defenceFindings(plan, rows) };
}
