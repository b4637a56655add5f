/**
 * Per-sample FIM inspection: aggregates, histograms of tr G_s, λmax(G_s), λmax(G_x) and the KL
 * budget, and a sortable virtualised table of every sample (most fragile first: largest
 * λmax(G_x)) with its image, OSSA eigen-direction and probabilities.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { FimAggregate, SampleFimStats } from '../../src/runs/evals.js';
import type { InspectComparison, InspectData } from '../../src/protocol/webview.js';
import { post, saveUi, startPanel, uiState } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage, runLine, stat } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';
import { SeriesLegend } from '../shared/legend.js';
import { onThemeChange, palette } from '../shared/theme.js';
import { VirtualTable, type Column, type SortDir } from '../shared/virtualTable.js';
import { parseFilter } from './filter.js';

addStyles(`
.inspect-layout { display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 16px; align-items: start; }
@media (max-width: 900px) { .inspect-layout { grid-template-columns: 1fr; } }
.detail { position: sticky; top: 8px; border: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); border-radius: 4px; padding: 8px 10px; }
.detail .pair { display: flex; gap: 10px; }
.detail figure { margin: 0; text-align: center; }
.detail figcaption { font-size: 0.85em; color: var(--vscode-descriptionForeground); }
.detail img { width: 112px; height: 112px; }
.hist-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px 14px; }
.wrong { color: var(--vscode-errorForeground); }
`);

const app = initPage();
let figures: Figure[] = [];
let table: VirtualTable<SampleFimStats> | null = null;
let last: InspectData | null = null;

interface Ui extends Record<string, unknown> {
  sortKey: string;
  sortDir: SortDir;
  selected: number;
  scrollTop: number;
  filter: string;
  compareWith: string;
  scaled: boolean;
}

/** A class by its dataset name (inspections store them; older ones show the index). */
const className = (d: InspectData, c: number) => d.eval.classNames?.[c] ?? String(c);

const imgUrl = (d: InspectData, rel: string | undefined) =>
  rel ? `${d.assetsBase}/${rel.split('/').map(encodeURIComponent).join('/')}` : undefined;

function img(src: string | undefined, alt: string): Node {
  return src ? h('img', { class: 'px', src, alt, loading: 'lazy' }) : h('span', { class: 'meta', title: 'no image stored' }, '–');
}

const STATS: [keyof FimAggregate, string, string][] = [
  ['traceGs', 'tr G_s', 'Σ 1/p_i: the trace the defence penalises'],
  ['lambdaMaxGs', 'λmax(G_s)', '1 / min p_i'],
  ['lambdaMaxGx', 'λmax(G_x)', 'largest eigenvalue of the input Fisher information Jᵀ G_s J (OSSA’s step)'],
  ['klBudget', 'KL budget r', 'l2 radius sqrt(2τ/λmax(G_x)) at which the predicted KL reaches τ'],
  ['normalizedMargin', 'normalised margin', 'logit margin / ‖∇ margin‖₂'],
];

function histSpec(values: { v: number }[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 130,
    data: { values },
    transform: [{ filter: 'datum.v > 0 && isFinite(datum.v)' }, { calculate: 'log(datum.v) / LN10', as: 'lv' }],
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'lv', bin: { maxbins: 40 }, type: 'quantitative', title: `log10 ${title}` },
      y: { aggregate: 'count', type: 'quantitative', title: 'samples' },
    },
  };
}

function probsSpec(d: InspectData, s: SampleFimStats): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 110,
    data: {
      values: s.probs.map((p, c) => ({
        class: className(d, c),
        p,
        role: c === s.label ? 'label' : c === s.predicted ? 'predicted' : 'other',
      })),
    },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'class', type: 'ordinal', sort: null, title: 'class', axis: { labelAngle: 0 } },
      y: { field: 'p', type: 'quantitative', title: 'p', scale: { domain: [0, 1] } },
      // The colour key is written under the chart (a Vega legend is out of a keyboard's reach).
      color: { field: 'role', type: 'nominal', title: null, scale: { domain: ['label', 'predicted', 'other'] }, legend: null },
    },
  };
}

function columns(d: InspectData): Column<SampleFimStats>[] {
  return [
    { key: 'rank', label: '#', width: '48px', render: (_s, position) => String(position + 1), numeric: true },
    {
      key: 'index',
      label: 'sample',
      title: 'index in the test split',
      width: '72px',
      sortValue: (s) => s.index,
      render: (s) => String(s.index),
      numeric: true,
    },
    { key: 'image', label: 'image', width: '48px', render: (s) => img(imgUrl(d, s.image), `sample ${s.index}`) },
    {
      key: 'eigen',
      label: 'OSSA dir.',
      title: 'top eigenvector of G_x: the direction OSSA perturbs',
      width: '76px',
      render: (s) => img(imgUrl(d, s.eigenImage), `eigen-direction of sample ${s.index}`),
    },
    { key: 'label', label: 'label', width: '64px', sortValue: (s) => s.label, render: (s) => className(d, s.label) },
    {
      key: 'pred',
      label: 'pred.',
      width: '64px',
      sortValue: (s) => s.predicted,
      render: (s) =>
        s.predicted === s.label
          ? className(d, s.predicted)
          : h('span', { class: 'wrong', title: 'misclassified' }, className(d, s.predicted)),
    },
    {
      key: 'plabel',
      label: 'p(label)',
      width: '72px',
      sortValue: (s) => s.probs[s.label] ?? NaN,
      render: (s) => num(s.probs[s.label], 3),
      numeric: true,
    },
    { key: 'traceGs', label: 'tr G_s', width: '1fr', sortValue: (s) => s.traceGs, render: (s) => num(s.traceGs), numeric: true },
    {
      key: 'lambdaMaxGs',
      label: 'λmax(G_s)',
      width: '1fr',
      sortValue: (s) => s.lambdaMaxGs,
      render: (s) => num(s.lambdaMaxGs),
      numeric: true,
    },
    {
      key: 'lambdaMaxGx',
      label: 'λmax(G_x)',
      width: '1fr',
      sortValue: (s) => s.lambdaMaxGx,
      render: (s) => num(s.lambdaMaxGx),
      numeric: true,
    },
    { key: 'klBudget', label: 'KL budget', width: '1fr', sortValue: (s) => s.klBudget, render: (s) => num(s.klBudget), numeric: true },
    {
      key: 'margin',
      label: 'margin/‖∇‖',
      title: 'normalised logit margin: margin / ‖∇ₓ margin‖₂',
      width: '1fr',
      sortValue: (s) => s.normalizedMargin,
      render: (s) => num(s.normalizedMargin),
      numeric: true,
    },
  ];
}

let detailFigure: Figure | null = null;
function showDetail(d: InspectData, s: SampleFimStats | undefined, host: HTMLElement): void {
  detailFigure?.dispose();
  detailFigure = null;
  if (!s) {
    host.replaceChildren(h('p', { class: 'meta' }, 'Select a sample to see its image, eigen-direction and probabilities.'));
    return;
  }
  detailFigure = new Figure({
    title: 'Probabilities',
    fileName: `${d.run.id}-sample-${s.index}-probs`,
    csv: () =>
      toCsv(
        s.probs.map((p, c) => ({ c, p })),
        [
          ['class', (r) => r.c],
          ['p', (r) => r.p],
        ],
      ),
  });
  host.replaceChildren(
    h('h2', {}, `Sample ${s.index}`),
    h(
      'p',
      { class: 'meta' },
      `label ${className(d, s.label)}, predicted ${className(d, s.predicted)}${s.predicted === s.label ? '' : ' (wrong)'}`,
    ),
    h(
      'div',
      { class: 'pair' },
      h('figure', {}, img(imgUrl(d, s.image), `sample ${s.index}`), h('figcaption', {}, 'input')),
      h('figure', {}, img(imgUrl(d, s.eigenImage), 'eigen-direction'), h('figcaption', {}, 'OSSA direction')),
    ),
    smallTable(
      ['statistic', 'value'],
      [
        ['tr G_s', num(s.traceGs)],
        ['λmax(G_s)', num(s.lambdaMaxGs)],
        ['λmax(G_x)', num(s.lambdaMaxGx)],
        ['KL budget r', num(s.klBudget)],
        ['margin', num(s.margin)],
        ['normalised margin', num(s.normalizedMargin)],
        ...(s.scaled ? ([['λmax(G_x) after T', num(s.scaled.lambdaMaxGx)]] as [string, string][]) : []),
      ],
      { numericFrom: 1 },
    ),
    detailFigure.element,
    h('p', { class: 'meta' }, 'Bars: the true class (first colour), the predicted class when it differs (second), the others (third).'),
  );
  void detailFigure.render(probsSpec(d, s));
}

interface ScatterRow {
  series: string;
  index: number;
  margin: number;
  lambda: number;
  correct: boolean;
}

/** λmax(G_x) against the normalised margin, this run and another (baseline vs defended, design §1). */
function scatterSpec(rows: ScatterRow[], names: string[], colors: string[], scaled: boolean): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 260,
    data: { values: rows.filter((r) => r.lambda > 0 && Number.isFinite(r.lambda) && Number.isFinite(r.margin)) },
    mark: { type: 'point', filled: true, opacity: 0.55, size: 16, tooltip: true },
    encoding: {
      x: { field: 'margin', type: 'quantitative', title: 'normalised margin m/‖∇ₓm‖₂ (distance to the boundary, first order)' },
      y: {
        field: 'lambda',
        type: 'quantitative',
        scale: { type: 'log' },
        title: scaled ? 'λmax(G_x) after temperature scaling' : 'λmax(G_x)',
        axis: { format: '~s' },
      },
      color: { field: 'series', type: 'nominal', scale: { domain: names, range: colors }, legend: null },
      shape: { field: 'correct', type: 'nominal', scale: { domain: [true, false], range: ['circle', 'cross'] }, legend: null },
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'index', type: 'quantitative', title: 'sample' },
        { field: 'lambda', type: 'quantitative', format: '.4~g', title: 'λmax(G_x)' },
        { field: 'margin', type: 'quantitative', format: '.4~g', title: 'normalised margin' },
        { field: 'correct', type: 'nominal' },
      ],
    },
  };
}

function scatterSection(d: InspectData, ui: Partial<Ui>): Node[] {
  const compare = d.compare ?? [];
  const own = (scaled: boolean): ScatterRow[] =>
    d.eval.samples.map((s) => ({
      series: `${d.run.name} (${d.run.mu ? `μ=${d.run.mu}` : 'baseline'})`,
      index: s.index,
      margin: s.normalizedMargin,
      lambda: scaled ? (s.scaled?.lambdaMaxGx ?? NaN) : s.lambdaMaxGx,
      correct: s.predicted === s.label,
    }));
  const other = (c: InspectComparison | undefined, scaled: boolean): ScatterRow[] =>
    c
      ? c.points.map((p) => ({
          series: `${c.run.name} (${c.run.mu ? `μ=${c.run.mu}` : 'baseline'})`,
          index: p.index,
          margin: p.normalizedMargin,
          lambda: scaled ? (p.scaledLambdaMaxGx ?? NaN) : p.lambdaMaxGx,
          correct: p.correct,
        }))
      : [];
  const fig = new Figure({
    title: 'λmax(G_x) against the normalised margin',
    fileName: `${d.run.id}-${d.evalName}-lambda-vs-margin`,
    csv: () =>
      toCsv(
        [...own(state.scaled), ...other(chosen(), state.scaled)],
        [
          ['series', (r) => r.series],
          ['index', (r) => r.index],
          ['normalized_margin', (r) => r.margin],
          [state.scaled ? 'lambda_max_gx_scaled' : 'lambda_max_gx', (r) => r.lambda],
          ['correct', (r) => r.correct],
        ],
      ),
  });
  figures.push(fig);
  const state = { compareWith: (ui.compareWith as string) ?? '', scaled: ui.scaled === true };
  const chosen = () =>
    compare.find((c) => `${c.run.dir}#${c.evalName}` === state.compareWith) ?? (state.compareWith === 'none' ? undefined : compare[0]);
  const select = h('select', { 'aria-label': 'compare with the inspection of' });
  select.append(h('option', { value: 'none' }, 'no other run'));
  for (const c of compare)
    select.append(
      h(
        'option',
        { value: `${c.run.dir}#${c.evalName}`, selected: c === chosen() },
        `${c.run.name} (${c.role === 'baseline' ? 'baseline' : `defended μ=${c.run.mu}`}) · ${c.evalName}`,
      ),
    );
  const scale = h('select', { 'aria-label': 'λmax(G_x) before or after temperature scaling' });
  scale.append(
    h('option', { value: 'raw', selected: !state.scaled }, 'as the model outputs it'),
    h('option', { value: 'scaled', selected: state.scaled }, 'after temperature scaling'),
  );
  const colors = palette();
  const legendHost = h('div');
  const draw = (hidden: ReadonlySet<string> = new Set()) => {
    const c = chosen();
    const mine = own(state.scaled);
    const theirs = other(c, state.scaled);
    const seriesNames = [mine[0]?.series ?? d.run.name, ...(theirs[0] ? [theirs[0].series] : [])];
    // Baseline orange, defended blue, as in every panel.
    const mineColor = colors[d.run.mu ? 1 : 0]!;
    const theirColor = Boolean(c?.run.mu) === Boolean(d.run.mu) ? colors[2]! : colors[c?.run.mu ? 1 : 0]!;
    const seriesColors = [mineColor, ...(c ? [theirColor] : [])];
    const shown = seriesNames.filter((n) => !hidden.has(n));
    void fig.render(
      scatterSpec(
        [...mine, ...theirs].filter((r) => shown.includes(r.series)),
        shown,
        shown.map((n) => seriesColors[seriesNames.indexOf(n)]!),
        state.scaled,
      ),
    );
    return { seriesNames, seriesColors };
  };
  const { seriesNames, seriesColors } = draw();
  const legend = new SeriesLegend(
    'λmax(G_x) against the normalised margin',
    seriesNames.map((name, i) => ({ name, color: seriesColors[i]! })),
    (hidden) => draw(hidden),
  );
  legendHost.append(legend.element);
  fig.addLegend(legendHost);
  const redraw = () => {
    saveUi({ compareWith: state.compareWith, scaled: state.scaled });
    const r = draw();
    legend.setSeries(r.seriesNames.map((name, i) => ({ name, color: r.seriesColors[i]! })));
  };
  select.addEventListener('change', () => {
    state.compareWith = select.value;
    redraw();
  });
  scale.addEventListener('change', () => {
    state.scaled = scale.value === 'scaled';
    redraw();
  });
  const note = compare.length
    ? 'Dots: correctly classified samples, crosses: misclassified ones. A smaller λmax(G_x) only means robustness if the margin grows too: the trace term can lower λmax(G_x) by flattening the softmax (after temperature scaling the two models can look alike).'
    : 'No other run in this store has an inspection yet: inspect a baseline (or defended) run too, to compare the two here.';
  return [
    h('h2', {}, 'λmax(G_x) against the normalised margin'),
    h('p', { class: 'meta' }, note),
    h('div', { class: 'toolbar' }, h('vscode-label', {}, 'Compare with'), select, h('vscode-label', {}, 'λmax(G_x)'), scale),
    fig.element,
  ];
}

function render(d: InspectData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  table?.dispose();
  const ev = d.eval;
  const ui = uiState<Ui>();
  const p = ev.provenance;
  const head = h(
    'div',
    {},
    h('h1', {}, `FIM inspection: ${d.run.name}${d.run.imported ? ' (imported model)' : ''}`),
    h(
      'p',
      { class: 'meta' },
      `${runLine(d.run)} · ${d.evalName} · ${ev.samples.length} ${p.split} samples · checkpoint ${p.checkpoint} · ${p.backend} · ${new Date(p.createdAt).toLocaleString()}`,
    ),
  );
  const stats = h(
    'div',
    { class: 'stats' },
    stat('accuracy', pct(ev.accuracy, 2)),
    stat('median tr G_s', num(ev.median.traceGs)),
    stat('median λmax(G_x)', num(ev.median.lambdaMaxGx)),
    stat('median KL budget', num(ev.median.klBudget), `τ = ${ev.tau}`),
    stat(
      'temperature T',
      num(ev.temperatureScaling?.temperature),
      'fitted by NLL on held-out data; statistics after scaling in the table below',
    ),
  );
  const agg = smallTable(
    ['statistic', 'mean', 'median', ...(ev.temperatureScaling ? ['mean after T', 'median after T'] : [])],
    STATS.map(([k, label]) => [
      label,
      num(ev.mean[k]),
      num(ev.median[k]),
      ...(ev.temperatureScaling ? [num(ev.temperatureScaling.mean[k]), num(ev.temperatureScaling.median[k])] : []),
    ]),
    { numericFrom: 1 },
  );
  const hist = h('div', { class: 'hist-grid' });
  for (const [k, label] of STATS.slice(0, 4)) {
    const values = ev.samples.map((s) => ({ v: s[k] }));
    const fig = new Figure({
      title: `${label} per sample`,
      fileName: `${d.run.id}-${d.evalName}-${k}-histogram`,
      csv: () =>
        toCsv(ev.samples, [
          ['index', (s) => s.index],
          [k, (s) => s[k]],
        ]),
    });
    figures.push(fig);
    hist.append(fig.element);
    void fig.render(histSpec(values, label));
  }
  const detail = h('div', { class: 'detail' });
  table = new VirtualTable<SampleFimStats>(columns(d), {
    label: `samples of ${d.run.name}: arrow keys move, Enter selects`,
    rowLabel: (s) =>
      `sample ${s.index}, label ${className(d, s.label)}, predicted ${className(d, s.predicted)}${s.predicted === s.label ? '' : ' (wrong)'}, λmax(G_x) ${num(s.lambdaMaxGx)}`,
    rowHeight: 36,
    rowId: (s) => s.index,
    sort: { key: (ui.sortKey as string) ?? 'lambdaMaxGx', dir: (ui.sortDir as SortDir) ?? 'desc' },
    onSort: (sortKey, sortDir) => saveUi({ sortKey, sortDir, scrollTop: 0 }),
    onSelect: (s) => {
      saveUi({ selected: s.index });
      showDetail(d, s, detail);
    },
    ...(ui.scrollTop ? { scrollTop: ui.scrollTop } : {}),
    onScroll: (top) => saveUi({ scrollTop: top }),
    footer: (n) =>
      `${n === ev.samples.length ? `${n} samples` : `${n} of ${ev.samples.length} samples match the filter`} · click a column to sort · default order: largest λmax(G_x) first (most fragile)`,
  });
  const filterInput = h('input', {
    type: 'search',
    value: (ui.filter as string) ?? '',
    placeholder: 'filter: wrong, label:7, pred:3, λ>10, 100-200, a class name…',
    'aria-label': 'filter the samples',
    'aria-describedby': 'filter-help',
  });
  const filterMessage = h('span', { class: 'meta', id: 'filter-help', role: 'status' });
  const applyFilter = () => {
    const f = parseFilter(filterInput.value);
    if (!f.ok) {
      filterMessage.textContent = f.error;
      return;
    }
    filterMessage.textContent = '';
    table!.setRows(ev.samples.filter((s) => f.test(s, (c) => className(d, c))));
    saveUi({ filter: filterInput.value });
  };
  filterInput.addEventListener('input', applyFilter);
  const filterBar = h('div', { class: 'filter' }, h('vscode-label', {}, 'Filter'), filterInput, filterMessage);
  applyFilter();
  const sel = ui.selected !== undefined ? ev.samples.find((s) => s.index === ui.selected) : table.orderedRows[0];
  if (sel) table.select(sel.index);
  showDetail(d, sel, detail);
  const actions = h(
    'div',
    { class: 'toolbar' },
    button(
      'Export samples CSV',
      () => post({ type: 'export', format: 'csv', fileName: `${d.run.id}-${d.evalName}-samples`, content: samplesCsv(d) }),
      { icon: 'table', secondary: true },
    ),
    button('Open eval file', () => post({ type: 'reveal', path: `${d.run.dir}/evals/${d.evalName}.json` }), {
      icon: 'json',
      secondary: true,
    }),
  );
  const completion = d.completion
    ? h(
        'p',
        { class: 'hint', role: 'status' },
        d.completion.state === 'running'
          ? `Drawing the input and OSSA-direction images of the ${d.completion.missing} samples this inspection did not store (recomputed from the same checkpoint)…`
          : `The images of ${d.completion.missing} samples could not be drawn: ${d.completion.message ?? 'see the FIM Engine log'}.`,
      )
    : null;
  app.replaceChildren(
    head,
    stats,
    actions,
    agg,
    h('h2', {}, 'Distributions'),
    hist,
    ...scatterSection(d, ui),
    h('h2', {}, 'Samples, most fragile first'),
    ...(completion ? [completion] : []),
    filterBar,
    h('div', { class: 'inspect-layout' }, table.element, detail),
  );
}

function samplesCsv(d: InspectData): string {
  const rows = table ? table.orderedRows : d.eval.samples;
  const k = d.eval.samples[0]?.probs.length ?? 0;
  return toCsv(rows, [
    ['index', (s) => s.index],
    ['label', (s) => s.label],
    ['predicted', (s) => s.predicted],
    ['trace_gs', (s) => s.traceGs],
    ['lambda_max_gs', (s) => s.lambdaMaxGs],
    ['lambda_max_gx', (s) => s.lambdaMaxGx],
    ['kl_budget', (s) => s.klBudget],
    ['margin', (s) => s.margin],
    ['normalized_margin', (s) => s.normalizedMargin],
    ...Array.from(
      { length: k },
      (_, c) => [`p${c}`, (s: SampleFimStats) => s.probs[c]] as [string, (s: SampleFimStats) => number | undefined],
    ),
  ]);
}

onThemeChange(() => last && render(last));
startPanel('inspect', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
