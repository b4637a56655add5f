/** Training dashboard: loss, cross-entropy, tr G_s and accuracy curves, live while training. */
import type { TopLevelSpec } from 'vega-lite';
import type { EpochMetrics, StepMetrics } from '../../src/runs/types.js';
import type { TrainingData } from '../../src/protocol/webview.js';
import { post, startPanel } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage, runLine, stat } from '../shared/page.js';
import { onThemeChange } from '../shared/theme.js';

const app = initPage();
let figures: Figure[] = [];
let last: TrainingData | null = null;

interface Point {
  step: number;
  epoch: number;
  series: string;
  value: number;
}

function lineSpec(points: Point[], yTitle: string, opts: { log?: boolean; percent?: boolean; totalSteps: number | null }): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 180,
    data: { values: points },
    mark: { type: 'line', point: points.length < 60, interpolate: 'monotone' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step', ...(opts.totalSteps ? { scale: { domain: [0, opts.totalSteps] } } : {}) },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        scale: opts.log ? { type: 'log' } : { zero: false },
        axis: opts.percent ? { format: '.0%' } : opts.log ? { format: '~s', tickCount: 5 } : { format: '.3~g' },
      },
      color: { field: 'series', type: 'nominal', title: null },
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'step', type: 'quantitative' },
        { field: 'epoch', type: 'quantitative' },
        { field: 'value', type: 'quantitative', format: opts.percent ? '.2%' : '.4~g' },
      ],
    },
  };
}

function render(d: TrainingData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  const steps = d.records.filter((r): r is StepMetrics => r.kind === 'step');
  const epochs = d.records.filter((r): r is EpochMetrics => r.kind === 'epoch');
  const lastStep = steps[steps.length - 1];
  const lastEpoch = epochs[epochs.length - 1];
  const progress = d.totalSteps && lastStep ? lastStep.step / d.totalSteps : null;

  const head = h(
    'div',
    {},
    h('h1', {}, `Training: ${d.run.name}${d.run.imported ? ' (imported model)' : ''}`),
    h('p', { class: 'meta' }, runLine(d.run), d.live ? ' · ' : '', d.live ? h('vscode-badge', { variant: 'counter' }, 'live') : ''),
  );
  const stats = h(
    'div',
    { class: 'stats' },
    stat(
      'progress',
      progress === null ? '–' : pct(progress, 0),
      d.totalSteps ? `step ${lastStep?.step ?? 0} of ${d.totalSteps}` : undefined,
    ),
    stat('epoch', lastStep ? `${lastStep.epoch}/${d.epochs ?? '?'}` : '–'),
    stat('test accuracy', pct(lastEpoch?.testAccuracy, 2)),
    stat('test tr G_s (median)', num(lastEpoch?.testMedianTraceGs)),
    stat('last loss', num(lastStep?.loss)),
    stat('samples/s', lastStep ? String(Math.round(lastStep.samplesPerSecond)) : '–'),
  );
  const actions = h(
    'div',
    { class: 'toolbar' },
    button('Export metrics CSV', () => post({ type: 'export', format: 'csv', fileName: `${d.run.id}-metrics`, content: metricsCsv(d) }), {
      icon: 'table',
      secondary: true,
    }),
    button('Open run folder', () => post({ type: 'reveal', path: d.run.dir }), { icon: 'folder-opened', secondary: true }),
  );
  const nodes: (Node | string)[] = [head, stats, actions];
  if (d.skippedLines)
    nodes.push(
      h('p', { class: 'hint' }, `${d.skippedLines} line(s) of metrics.jsonl could not be read (a torn last line after a crash is normal).`),
    );
  if (steps.length === 0 && epochs.length === 0) {
    nodes.push(h('p', { class: 'hint' }, d.live ? 'Waiting for the first metrics (written every 20 steps)…' : 'This run has no metrics.'));
    app.replaceChildren(...nodes);
    return;
  }
  const pts = (series: string, rows: { step: number; epoch: number }[], f: (r: never) => number): Point[] =>
    rows.map((r) => ({ step: r.step, epoch: r.epoch, series, value: f(r as never) }));
  const specs: [string, string, Point[], { log?: boolean; percent?: boolean }][] = [
    [
      'Loss (CE + μ·tr G_s)',
      'loss',
      [
        ...pts('train (interval mean)', steps, (r: StepMetrics) => r.loss),
        ...pts('train (epoch mean)', epochs, (r: EpochMetrics) => r.trainLoss),
      ],
      {},
    ],
    [
      'Cross-entropy',
      'cross-entropy',
      [...pts('train', steps, (r: StepMetrics) => r.ce), ...pts('test', epochs, (r: EpochMetrics) => r.testCe)],
      {},
    ],
    [
      'tr G_s = Σ 1/p_i',
      'tr G_s',
      [
        ...pts('train batch mean', steps, (r: StepMetrics) => r.traceGs),
        ...pts('test mean', epochs, (r: EpochMetrics) => r.testMeanTraceGs),
        ...pts('test median', epochs, (r: EpochMetrics) => r.testMedianTraceGs),
      ],
      { log: true },
    ],
    [
      'Accuracy',
      'accuracy',
      [...pts('train', steps, (r: StepMetrics) => r.accuracy), ...pts('test', epochs, (r: EpochMetrics) => r.testAccuracy)],
      { percent: true },
    ],
  ];
  const grid = h('div', { class: 'grid' });
  for (const [title, yTitle, points, o] of specs) {
    const fig = new Figure({
      title,
      fileName: `${d.run.id}-${yTitle.replace(/\W+/g, '-')}`,
      csv: () =>
        toCsv(points, [
          ['series', (p) => p.series],
          ['epoch', (p) => p.epoch],
          ['step', (p) => p.step],
          [yTitle, (p) => p.value],
        ]),
    });
    figures.push(fig);
    grid.append(fig.element);
    void fig.render(lineSpec(points, yTitle, { ...o, totalSteps: d.totalSteps }));
  }
  nodes.push(grid);
  if (epochs.length) {
    nodes.push(h('h2', {}, 'Epochs'));
    nodes.push(
      smallTable(
        [
          'epoch',
          'train loss',
          'train acc',
          'train tr G_s',
          'test acc',
          'test CE',
          'test tr G_s mean',
          'test tr G_s median',
          'test λmax(G_s) mean',
          'seconds',
          'samples/s',
        ],
        epochs.map((e) => [
          e.epoch,
          num(e.trainLoss),
          pct(e.trainAccuracy, 2),
          num(e.trainTraceGs),
          pct(e.testAccuracy, 2),
          num(e.testCe),
          num(e.testMeanTraceGs),
          num(e.testMedianTraceGs),
          num(e.testMeanLambdaMaxGs),
          e.seconds.toFixed(1),
          Math.round(e.samplesPerSecond),
        ]),
        { numericFrom: 1 },
      ),
    );
  }
  app.replaceChildren(...nodes);
}

function metricsCsv(d: TrainingData): string {
  return toCsv(d.records, [
    ['kind', (r) => r.kind],
    ['time', (r) => r.time],
    ['epoch', (r) => r.epoch],
    ['step', (r) => r.step],
    ['loss', (r) => (r.kind === 'step' ? r.loss : r.trainLoss)],
    ['ce', (r) => (r.kind === 'step' ? r.ce : r.trainCe)],
    ['trace_gs', (r) => (r.kind === 'step' ? r.traceGs : r.trainTraceGs)],
    ['lambda_max_gs', (r) => (r.kind === 'step' ? r.lambdaMaxGs : null)],
    ['accuracy', (r) => (r.kind === 'step' ? r.accuracy : r.trainAccuracy)],
    ['test_accuracy', (r) => (r.kind === 'epoch' ? r.testAccuracy : null)],
    ['test_ce', (r) => (r.kind === 'epoch' ? r.testCe : null)],
    ['test_trace_gs_mean', (r) => (r.kind === 'epoch' ? r.testMeanTraceGs : null)],
    ['test_trace_gs_median', (r) => (r.kind === 'epoch' ? r.testMedianTraceGs : null)],
    ['samples_per_s', (r) => r.samplesPerSecond],
  ]);
}

onThemeChange(() => last && render(last));
startPanel('training', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
