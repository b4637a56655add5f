/**
 * Transfer (the paper's Table 2) as a heatmap per attack: rows are the runs the adversarials were
 * crafted on, columns the runs that classify them, each cell the target's accuracy on the
 * adversarials that fooled the source (the diagonal: the source's own accuracy under its white-box
 * attack), with the sample count and 95% interval in the table below.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { TransferData } from '../../src/protocol/webview.js';
import { post, startPanel } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage } from '../shared/page.js';
import { onThemeChange } from '../shared/theme.js';

const app = initPage();
let figures: Figure[] = [];
let last: TransferData | null = null;

interface Cell {
  group: string;
  source: string;
  target: string;
  accuracy: number | null;
  n: number;
  ciLow: number | null;
  ciHigh: number | null;
  label: string;
  whiteBox: boolean;
}

function heatmapSpec(cells: Cell[], runs: string[]): TopLevelSpec {
  const x = {
    field: 'target',
    type: 'nominal' as const,
    title: 'classified by (target)',
    sort: runs,
    axis: { labelAngle: 0, labelLimit: 170, orient: 'top' as const },
  };
  const y = { field: 'source', type: 'nominal' as const, title: 'crafted on (source)', sort: runs, axis: { labelLimit: 200 } };
  const tooltip = [
    { field: 'source', type: 'nominal' as const },
    { field: 'target', type: 'nominal' as const },
    { field: 'accuracy', type: 'quantitative' as const, format: '.1%' },
    { field: 'n', type: 'quantitative' as const, title: 'adversarials (fooled the source)' },
    { field: 'ciLow', type: 'quantitative' as const, format: '.1%', title: '95% CI low' },
    { field: 'ciHigh', type: 'quantitative' as const, format: '.1%', title: '95% CI high' },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: { step: 180 },
    height: { step: 64 },
    data: { values: cells },
    layer: [
      {
        transform: [{ filter: '!datum.whiteBox' }],
        mark: { type: 'rect', tooltip: true, stroke: 'rgba(128,128,128,0.35)' },
        encoding: {
          x,
          y,
          color: {
            field: 'accuracy',
            type: 'quantitative',
            title: 'target accuracy',
            scale: { domain: [0, 1], scheme: 'redyellowgreen' },
            legend: { format: '.0%', orient: 'right', direction: 'vertical' },
          },
          tooltip,
        },
      },
      // The diagonal is not a transfer: grey, outside the colour scale.
      {
        transform: [{ filter: 'datum.whiteBox' }],
        mark: { type: 'rect', tooltip: true, color: 'rgba(128,128,128,0.25)', stroke: 'rgba(128,128,128,0.35)' },
        encoding: { x, y, tooltip },
      },
      {
        mark: { type: 'text', fontSize: 12, lineBreak: '\n' },
        encoding: {
          x,
          y,
          text: { field: 'label' },
          color: { condition: { test: 'datum.whiteBox', value: '#888' }, value: 'black' },
        },
      },
    ],
  };
}

function render(d: TransferData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  const nameOf = new Map(d.runs.map((r) => [r.dir, `${r.name} (${r.mu ? `μ=${r.mu}` : 'baseline'})`]));
  const byBase = new Map(d.runs.map((r) => [r.id, nameOf.get(r.dir)!]));
  const runName = (dir: string | undefined, base: string) => (dir && nameOf.get(dir)) || byBase.get(base) || base;
  const nodes: Node[] = [
    h('h1', {}, 'Transfer between runs (paper Table 2)'),
    h(
      'p',
      { class: 'meta' },
      'Adversarials crafted on the source run, on the samples both runs classify correctly; each cell is the target’s accuracy on those that fooled the source (higher: the attack transfers less). The diagonal is the source’s own accuracy under its white-box attack.',
    ),
  ];
  for (const r of d.runsWithout)
    nodes.push(h('p', { class: 'hint' }, `${r.name} has no transfer evaluation yet: run FIM: Evaluate Transfer on it.`));
  const cells: Cell[] = [];
  for (const e of d.evals)
    for (const r of e.eval.results) {
      const group = `${r.attack}${r.budget === undefined ? ' (minimum-distance search)' : ` at ε = ${num(r.budget)}`}`;
      const source = runName(r.sourceRunDir, r.source);
      const target = runName(r.targetRunDir, r.target);
      const acc = Number.isFinite(r.targetAccuracy) ? r.targetAccuracy : null;
      cells.push({
        group,
        source,
        target,
        accuracy: acc,
        n: r.samples,
        ciLow: r.targetAccuracyCi[0],
        ciHigh: r.targetAccuracyCi[1],
        label: acc === null ? `–\nn ${r.samples}` : `${pct(acc)}\nn ${r.samples}`,
        whiteBox: false,
      });
      if (!cells.some((c) => c.group === group && c.source === source && c.target === source))
        cells.push({
          group,
          source,
          target: source,
          accuracy: r.sourceAccuracy,
          n: r.crafted ?? r.samples,
          ciLow: null,
          ciHigh: null,
          label: `white-box\n${pct(r.sourceAccuracy)}`,
          whiteBox: true,
        });
    }
  const csv = () =>
    toCsv(cells, [
      ['attack', (c) => c.group],
      ['source', (c) => c.source],
      ['target', (c) => c.target],
      ['accuracy', (c) => c.accuracy],
      ['samples', (c) => c.n],
      ['ci_low', (c) => c.ciLow],
      ['ci_high', (c) => c.ciHigh],
      ['white_box', (c) => c.whiteBox],
    ]);
  nodes.push(
    h(
      'div',
      { class: 'toolbar' },
      button('Export CSV', () => post({ type: 'export', format: 'csv', fileName: 'transfer', content: csv() }), {
        icon: 'table',
        secondary: true,
      }),
    ),
  );
  const groups = [...new Set(cells.map((c) => c.group))];
  const grid = h('div', {});
  for (const g of groups) {
    const gc = cells.filter((c) => c.group === g);
    const runs = [...new Set(gc.flatMap((c) => [c.source, c.target]))].sort();
    const fig = new Figure({
      title: g,
      fileName: `transfer-${g.replace(/\W+/g, '-')}`,
      csv: () =>
        toCsv(gc, [
          ['source', (c) => c.source],
          ['target', (c) => c.target],
          ['accuracy', (c) => c.accuracy],
          ['samples', (c) => c.n],
        ]),
    });
    figures.push(fig);
    grid.append(fig.element);
    void fig.render(heatmapSpec(gc, runs));
  }
  nodes.push(grid);
  if (cells.length) {
    nodes.push(h('h2', {}, 'Values'));
    nodes.push(
      smallTable(
        ['attack', 'crafted on', 'classified by', 'accuracy', '95% CI', 'adversarials'],
        cells
          .filter((c) => !c.whiteBox)
          .map((c) => [
            c.group,
            c.source,
            c.target,
            c.accuracy === null ? '–' : pct(c.accuracy),
            c.ciLow === null ? '–' : `${pct(c.ciLow)} – ${pct(c.ciHigh)}`,
            c.n,
          ]),
        { numericFrom: 3 },
      ),
    );
  }
  app.replaceChildren(...nodes);
}

onThemeChange(() => last && render(last));
startPanel('transfer', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
