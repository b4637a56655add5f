import type { Finding, ReproducePlan } from '../../runs/reproduce';
import { robustHeading, type DefencesReport, type PooledRate } from '../../runs/reproduceDefences';
import { escapeHtml } from '../../shared/escape';

/** The defence comparison's section of report.html: one table, its findings, and how it was measured. */
const pct = (v: number, d = 1) => (Number.isFinite(v) ? `${(100 * v).toFixed(d)}%` : '–');
const rate = (r: PooledRate | null | undefined) =>
  r
    ? `${pct(r.value)}<br><small>[${pct(r.ci[0])}, ${pct(r.ci[1])}]${r.perSeed.length > 1 ? `<br>seeds ${r.perSeed.map((v) => pct(v, 0)).join(' / ')}` : ''}</small>`
    : '–';
const num = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v.toPrecision(3)).toString();

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const badge = (kind: string) => `<span class="badge b-${escapeHtml(kind.replace(/\s+/g, '-'))}">${escapeHtml(kind)}</span>`;

function findingsTable(findings: Finding[]): string {
  return table(
    ['question', 'rule / claim', 'measured', 'verdict'],
    findings.map((f) => [
      escapeHtml(f.topic),
      escapeHtml(f.paper),
      escapeHtml(f.ours) + (f.why ? `<br><small>${escapeHtml(f.why)}</small>` : ''),
      badge(f.verdict),
    ]),
  );
}

export function defencesSection(plan: ReproducePlan, d: DefencesReport): string {
  const p = plan.defences!;
  const robustHeads = p.robust.flatMap((r) => r.budgets.map((b) => robustHeading(r, b)));
  const rows = d.rows.map((r) => [
    `<b>${escapeHtml(r.label)}</b><br><small>${escapeHtml(r.defence)}${r.meetsGoal ? ' · meets the goal' : ''}</small>`,
    rate(r.cleanAccuracy),
    ...p.robust.flatMap((run) =>
      run.budgets.map((b) => {
        const c = r.robust.find((x) => x.run === run.id && x.budget === b);
        if (!c) return '–';
        const per = Object.entries(c.perAttack)
          .map(([a, v]) => `${escapeHtml(a)} ${pct(v, 0)}`)
          .join(', ');
        return `${rate(c.accuracy)}<br><small>${per}</small>`;
      }),
    ),
    rate(r.ossa),
    r.fim ? `${num(r.fim.lambdaMaxGx)} → ${num(r.fim.lambdaMaxGxScaled)}` : '–',
    r.fim ? num(r.fim.normalizedMargin) : '–',
    r.fim ? `${r.fim.temperatures.map(num).join(' / ')}<br><small>p_true ${num(r.fim.pTrue)}</small>` : '–',
    r.sanity.length ? r.sanity.map((s) => `${badge(s.status)} <small>${escapeHtml(s.title)}</small>`).join('<br>') : '–',
    r.secondsPerEpoch.length
      ? `${r.secondsPerEpoch.map((s) => `${Math.round(s)} s`).join(' / ')}<br><small>${r.samplesPerSecond.map((s) => Math.round(s)).join(' / ')} samples/s</small>`
      : '–',
  ]);
  const body =
    `<p>Every defence on MNIST + ${escapeHtml(plan.model)} at the same training budget: ${plan.epochs} epochs of ${plan.trainSamples} samples, batch ${plan.batchSize}, Adam lr ${plan.learningRate}, seeds ${p.seeds.join(', ')}. ` +
    `Robust accuracy: ${escapeHtml(d.robustSuite)}, on the first ${p.robustSamples} test samples of each seed (a misclassified sample counts as broken); below each figure, the robust accuracy left after each attack of AutoAttack's cascade (in a worst-case column: by each attack alone). ` +
    `OSSA: fooling ratio at ε = ${p.ossa.epsilon} (squared l2 norm, unclipped) among the correctly classified of the first ${p.ossa.samples}. ` +
    `λmax(G_x): median over the first ${p.inspect.samples} test samples of every seed, before → after temperature scaling (T fitted per model by NLL on ${p.inspect.heldOut} held-out samples); the normalised margin m/‖∇m‖ does not change with temperature. ` +
    `Proportions pooled over seeds with 95% Wilson intervals (test-sample noise), per-seed values below. Sanity checks on seed 0 against the baseline, first ${p.sanity.samples} test samples.</p>` +
    table(
      [
        'defence',
        'clean accuracy',
        ...robustHeads,
        `OSSA ε = ${p.ossa.epsilon}`,
        'λmax(G_x) → scaled',
        'normalised margin',
        'T',
        'masking checks',
        'training time / epoch',
      ],
      rows,
      'num',
    ) +
    findingsTable(d.findings) +
    `<p><small>Goal (issue 15): robust accuracy ≥ ${pct(p.goal.robustAccuracy, 0)} at l∞ ${p.goal.epsilon} with ≥ ${pct(p.goal.cleanAccuracy, 0)} clean accuracy. "Only flattens the outputs": the fitted temperature is below 0.5 (the logits were shrunk at least 2×) and robust accuracy is not above the baseline's. The losses and how they are computed: docs/defences.md.</small></p>`;
  return `<section id="defences" data-section="defences"><h2>Defences compared</h2>${body}</section>`;
}
