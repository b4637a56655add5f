/**
 * Robust accuracy against the budget (AutoAttack's worst-case rule: a sample counts as broken if
 * any attack of the list breaks it), per run with its 95% Wilson band, and each attack's own
 * accuracy beside the worst case, so the attack that decides it is visible.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { WorstCaseData } from '../../src/protocol/webview.js';
import { post, startPanel } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { SeriesLegend, type LegendSeries } from '../shared/legend.js';
import { LINE_INTERPOLATION } from '../shared/lineChart.js';
import { errorBanner, initPage } from '../shared/page.js';
import { onThemeChange, palette } from '../shared/theme.js';

const app = initPage();
let figures: Figure[] = [];
let last: WorstCaseData | null = null;

interface Row {
  series: string;
  budget: number;
  accuracy: number;
  ciLow: number | null;
  ciHigh: number | null;
}

type Entry = WorstCaseData['evals'][number];
const entryName = (e: Entry) => `${e.run.name} (${e.role === 'baseline' ? 'baseline' : `μ=${e.run.mu}`}) · ${e.eval.attacks.join('+')}`;

function spec(rows: Row[], series: LegendSeries[], xTitle: string): TopLevelSpec {
  const x = { field: 'budget', type: 'quantitative' as const, title: xTitle };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) },
    legend: null,
  };
  const dash = {
    field: 'series',
    type: 'nominal' as const,
    scale: { domain: series.map((s) => s.name), range: series.map((s) => (s.dashed ? [5, 3] : [1, 0])) },
    legend: null,
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 240,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: 'datum.ciLow !== null' }],
        mark: { type: 'errorband', opacity: 0.16 },
        encoding: { x, y: { field: 'ciLow', type: 'quantitative', title: 'accuracy' }, y2: { field: 'ciHigh' }, color },
      },
      {
        mark: { type: 'line', point: true, interpolate: LINE_INTERPOLATION },
        encoding: {
          x,
          y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
          color,
          strokeDash: dash,
          tooltip: [
            { field: 'series', type: 'nominal' },
            { field: 'budget', type: 'quantitative', title: 'ε' },
            { field: 'accuracy', type: 'quantitative', format: '.1%' },
          ],
        },
      },
    ],
  };
}

function figure(title: string, fileName: string, rows: Row[], series: LegendSeries[], xTitle: string): Figure {
  const fig = new Figure({
    title,
    fileName,
    csv: () =>
      toCsv(rows, [
        ['series', (r) => r.series],
        ['budget', (r) => r.budget],
        ['accuracy', (r) => r.accuracy],
        ['ci_low', (r) => r.ciLow],
        ['ci_high', (r) => r.ciHigh],
      ]),
  });
  figures.push(fig);
  const draw = (hidden: ReadonlySet<string> = new Set()) =>
    void fig.render(
      spec(
        rows.filter((r) => !hidden.has(r.series)),
        series.filter((s) => !hidden.has(s.name)),
        xTitle,
      ),
    );
  fig.addLegend(new SeriesLegend(title, series, draw).element);
  draw();
  return fig;
}

function render(d: WorstCaseData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  const colors = palette();
  const nodes: Node[] = [
    h('h1', {}, 'Robust accuracy against the budget (worst case)'),
    h(
      'p',
      { class: 'meta' },
      'A sample counts as robust only if it is classified correctly and no attack of the list changes its prediction (AutoAttack’s rule). Bands: 95% Wilson intervals over the evaluated samples.',
    ),
  ];
  for (const r of d.runsWithout)
    nodes.push(h('p', { class: 'hint' }, `${r.name} has no worst-case evaluation yet: run FIM: Evaluate Worst Case on it.`));
  const entries = [...d.evals].sort((a, b) => a.role.localeCompare(b.role) || a.run.name.localeCompare(b.run.name));
  const grid = h('div', { class: 'grid' });
  // One chart per norm: budgets of different norms do not share an axis.
  for (const norm of [...new Set(entries.map((e) => e.eval.norm))]) {
    const es = entries.filter((e) => e.eval.norm === norm);
    const series = es.map((e, i) => ({ name: entryName(e), color: colors[i % colors.length]!, dashed: e.role === 'baseline' }));
    const rows = es.flatMap((e) =>
      e.eval.results.map((p) => ({
        series: entryName(e),
        budget: p.budget,
        accuracy: p.robustAccuracy,
        ciLow: p.robustAccuracyCi[0],
        ciHigh: p.robustAccuracyCi[1],
      })),
    );
    grid.append(figure(`Worst case, ${norm}`, `worst-case-${norm}`, rows, series, `ε (${norm})`).element);
  }
  for (const e of entries) {
    const attacks = e.eval.attacks;
    const series: LegendSeries[] = [
      { name: 'worst case', color: colors[4]! },
      ...attacks.map((a, i) => ({ name: a, color: colors[i % 4]!, dashed: true })),
    ];
    const rows: Row[] = e.eval.results.flatMap((p) => [
      { series: 'worst case', budget: p.budget, accuracy: p.robustAccuracy, ciLow: p.robustAccuracyCi[0], ciHigh: p.robustAccuracyCi[1] },
      ...attacks.map((a) => ({ series: a, budget: p.budget, accuracy: p.perAttackAccuracy[a] ?? NaN, ciLow: null, ciHigh: null })),
    ]);
    grid.append(figure(`${entryName(e)}: per attack`, `${e.run.id}-${e.evalName}`, rows, series, `ε (${e.eval.norm})`).element);
  }
  const csv = () =>
    toCsv(
      entries.flatMap((e) => e.eval.results.map((p) => ({ e, p }))),
      [
        ['run', ({ e }) => e.run.name],
        ['role', ({ e }) => e.role],
        ['attacks', ({ e }) => e.eval.attacks.join('+')],
        ['norm', ({ e }) => e.eval.norm],
        ['budget', ({ p }) => p.budget],
        ['robust_accuracy', ({ p }) => p.robustAccuracy],
        ['ci_low', ({ p }) => p.robustAccuracyCi[0]],
        ['ci_high', ({ p }) => p.robustAccuracyCi[1]],
        ...[...new Set(entries.flatMap((e) => e.eval.attacks))].map(
          (a) =>
            [`${a}_accuracy`, ({ p }: { p: Entry['eval']['results'][number] }) => p.perAttackAccuracy[a]] as [
              string,
              (r: { p: Entry['eval']['results'][number] }) => number | undefined,
            ],
        ),
      ],
    );
  nodes.push(
    h(
      'div',
      { class: 'toolbar' },
      button('Export CSV', () => post({ type: 'export', format: 'csv', fileName: 'worst-case', content: csv() }), {
        icon: 'table',
        secondary: true,
      }),
    ),
    grid,
  );
  for (const e of entries) {
    nodes.push(h('h2', {}, entryName(e)));
    nodes.push(
      h(
        'p',
        { class: 'meta' },
        `${e.eval.samples ?? '?'} samples, clean accuracy ${pct(e.eval.cleanAccuracy)} (${e.eval.correct ?? '?'} correct) · ${e.evalName}`,
      ),
    );
    nodes.push(
      smallTable(
        ['ε', 'robust accuracy', '95% CI', ...e.eval.attacks],
        e.eval.results.map((p) => [
          num(p.budget),
          pct(p.robustAccuracy),
          `${pct(p.robustAccuracyCi[0])} – ${pct(p.robustAccuracyCi[1])}`,
          ...e.eval.attacks.map((a) => pct(p.perAttackAccuracy[a])),
        ]),
        { numericFrom: 0 },
      ),
    );
  }
  app.replaceChildren(...nodes);
}

onThemeChange(() => last && render(last));
startPanel('worstcase', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
