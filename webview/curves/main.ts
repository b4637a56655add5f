/**
 * Training curves of several runs overlaid (select runs in the tree → Compare Training Curves):
 * loss, cross-entropy, tr G_s and accuracy against the epoch, so runs with other batch sizes line
 * up; measured points joined by straight lines (webview/shared/lineChart.ts), baselines dashed.
 */
import type { CurvesData } from '../../src/protocol/webview.js';
import type { EpochMetrics, StepMetrics } from '../../src/runs/types.js';
import { post, startPanel } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { SeriesLegend, type LegendSeries } from '../shared/legend.js';
import { stepChartSpec, type StepPoint } from '../shared/lineChart.js';
import { errorBanner, initPage } from '../shared/page.js';
import { onThemeChange, palette } from '../shared/theme.js';

const app = initPage();
let figures: Figure[] = [];
let last: CurvesData | null = null;

const seriesName = (r: CurvesData['runs'][number]) => `${r.run.name} (${r.role === 'baseline' ? 'baseline' : `μ=${r.run.mu}`})`;
/** Position in epochs: a step record at step k of n in epoch e sits at e − 1 + k/n. */
const epochAt = (s: StepMetrics) => s.epoch - 1 + s.epochStep / Math.max(1, s.epochSteps);

function render(d: CurvesData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  const colors = palette();
  const series: LegendSeries[] = d.runs.map((r, i) => ({
    name: seriesName(r),
    color: colors[i % colors.length]!,
    dashed: r.role === 'baseline',
  }));
  const steps = (f: (s: StepMetrics) => number) =>
    d.runs.flatMap((r) =>
      r.records
        .filter((x): x is StepMetrics => x.kind === 'step')
        .map((x) => ({ step: epochAt(x), epoch: x.epoch, series: seriesName(r), value: f(x) })),
    );
  const epochs = (f: (e: EpochMetrics) => number) =>
    d.runs.flatMap((r) =>
      r.records
        .filter((x): x is EpochMetrics => x.kind === 'epoch')
        .map((x) => ({ step: x.epoch, epoch: x.epoch, series: seriesName(r), value: f(x) })),
    );
  const charts: [string, string, StepPoint[], { log?: boolean; percent?: boolean }][] = [
    ['Loss (CE + μ·tr G_s), train', 'loss', steps((s) => s.loss), {}],
    ['Cross-entropy, train', 'cross-entropy', steps((s) => s.ce), {}],
    ['tr G_s = Σ 1/p_i, train batch mean', 'tr G_s', steps((s) => s.traceGs), { log: true }],
    ['Accuracy, train', 'accuracy', steps((s) => s.accuracy), { percent: true }],
    ['Test accuracy per epoch', 'test accuracy', epochs((e) => e.testAccuracy), { percent: true }],
    ['Test tr G_s (median) per epoch', 'test tr G_s', epochs((e) => e.testMedianTraceGs), { log: true }],
  ];
  const live = d.runs.filter((r) => r.live).length;
  const nodes: Node[] = [
    h('h1', {}, `Training curves: ${d.runs.length} runs`),
    h(
      'p',
      { class: 'meta' },
      `${d.runs.map(seriesName).join(', ')}. x = epochs (a step's position within its epoch), so runs with other batch sizes line up.${live ? ` ${live} still training (updates live).` : ''}`,
    ),
  ];
  const csv = () =>
    toCsv(
      d.runs.flatMap((r) => r.records.map((x) => ({ r, x }))),
      [
        ['run', ({ r }) => r.run.name],
        ['mu', ({ r }) => r.run.mu],
        ['kind', ({ x }) => x.kind],
        ['epoch', ({ x }) => x.epoch],
        ['step', ({ x }) => x.step],
        ['loss', ({ x }) => (x.kind === 'step' ? x.loss : x.trainLoss)],
        ['ce', ({ x }) => (x.kind === 'step' ? x.ce : x.trainCe)],
        ['trace_gs', ({ x }) => (x.kind === 'step' ? x.traceGs : x.trainTraceGs)],
        ['accuracy', ({ x }) => (x.kind === 'step' ? x.accuracy : x.trainAccuracy)],
        ['test_accuracy', ({ x }) => (x.kind === 'epoch' ? x.testAccuracy : null)],
        ['test_trace_gs_median', ({ x }) => (x.kind === 'epoch' ? x.testMedianTraceGs : null)],
      ],
    );
  nodes.push(
    h(
      'div',
      { class: 'toolbar' },
      button('Export all metrics CSV', () => post({ type: 'export', format: 'csv', fileName: 'training-curves', content: csv() }), {
        icon: 'table',
        secondary: true,
      }),
    ),
  );
  const grid = h('div', { class: 'grid' });
  for (const [title, yTitle, points, o] of charts) {
    const fig = new Figure({
      title,
      fileName: `compare-${yTitle.replace(/\W+/g, '-')}`,
      csv: () =>
        toCsv(points, [
          ['run', (p) => p.series],
          ['epoch_position', (p) => p.step],
          [yTitle, (p) => p.value],
        ]),
    });
    figures.push(fig);
    grid.append(fig.element);
    const draw = (hidden?: ReadonlySet<string>) =>
      void fig.render(stepChartSpec(points, { ...o, yTitle, xTitle: 'epoch', series, ...(hidden ? { hidden } : {}) }));
    fig.addLegend(new SeriesLegend(title, series, draw).element);
    draw();
  }
  nodes.push(grid, h('h2', {}, 'Last epoch of each run'));
  nodes.push(
    smallTable(
      ['run', 'μ', 'state', 'epochs', 'test accuracy', 'test CE', 'test tr G_s median', 'train loss'],
      d.runs.map((r) => {
        const e = r.records.filter((x): x is EpochMetrics => x.kind === 'epoch').pop();
        return [
          r.run.name,
          r.run.mu ?? '?',
          r.run.state,
          e?.epoch ?? 0,
          pct(e?.testAccuracy, 2),
          num(e?.testCe),
          num(e?.testMedianTraceGs),
          num(e?.trainLoss),
        ];
      }),
      { numericFrom: 3 },
    ),
  );
  app.replaceChildren(...nodes);
}

onThemeChange(() => last && render(last));
startPanel('curves', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
