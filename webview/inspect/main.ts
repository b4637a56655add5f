/**
 * Per-sample FIM inspection: aggregates, histograms of tr G_s, λmax(G_s), λmax(G_x) and the KL
 * budget, and a sortable virtualised table of every sample (most fragile first: largest
 * λmax(G_x)) with its image, OSSA eigen-direction and probabilities.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { FimAggregate, SampleFimStats } from '../../src/runs/evals.js';
import type { InspectData } from '../../src/protocol/webview.js';
import { post, saveUi, startPanel, uiState } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage, runLine, stat } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';
import { onThemeChange } from '../shared/theme.js';
import { VirtualTable, type Column, type SortDir } from '../shared/virtualTable.js';

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
}

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

function probsSpec(s: SampleFimStats): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 110,
    data: {
      values: s.probs.map((p, c) => ({ class: String(c), p, role: c === s.label ? 'label' : c === s.predicted ? 'predicted' : 'other' })),
    },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'class', type: 'ordinal', sort: null, title: 'class', axis: { labelAngle: 0 } },
      y: { field: 'p', type: 'quantitative', title: 'p', scale: { domain: [0, 1] } },
      color: { field: 'role', type: 'nominal', title: null, scale: { domain: ['label', 'predicted', 'other'] } },
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
    { key: 'label', label: 'label', width: '44px', sortValue: (s) => s.label, render: (s) => String(s.label), numeric: true },
    {
      key: 'pred',
      label: 'pred.',
      width: '44px',
      sortValue: (s) => s.predicted,
      render: (s) =>
        s.predicted === s.label ? String(s.predicted) : h('span', { class: 'wrong', title: 'misclassified' }, String(s.predicted)),
      numeric: true,
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
    h('p', { class: 'meta' }, `label ${s.label}, predicted ${s.predicted}${s.predicted === s.label ? '' : ' (wrong)'}`),
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
  );
  void detailFigure.render(probsSpec(s));
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
    footer: (n) => `${n} samples · click a column to sort · default order: largest λmax(G_x) first (most fragile)`,
  });
  table.setRows(ev.samples);
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
  app.replaceChildren(
    head,
    stats,
    actions,
    agg,
    h('h2', {}, 'Distributions'),
    hist,
    h('h2', {}, 'Samples, most fragile first'),
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
