/**
 * Fooling ratio vs budget per attack with baseline and defended runs overlaid (the paper's
 * Fig. 3–5), accuracy under attack, and the minimum-distance table (Table 1).
 */
import type { TopLevelSpec } from 'vega-lite';
import { runRoleLabel, type FoolingData, type RunRef } from '../../src/protocol/webview.js';
import { post, startPanel } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage } from '../shared/page.js';
import { onThemeChange } from '../shared/theme.js';

const app = initPage();
let figures: Figure[] = [];
let last: FoolingData | null = null;

interface Row {
  attack: string;
  run: string;
  role: string;
  series: string;
  budget: number;
  foolingRatio: number;
  ciLow: number;
  ciHigh: number;
  accuracy: number;
  fooled: number;
  correct: number;
  unit: string;
}

function rowsOf(d: FoolingData): Row[] {
  return d.series.flatMap((s) =>
    s.results.map((r) => ({
      attack: s.attack,
      run: s.run.name,
      role: s.role,
      series: `${runRoleLabel(s.run)} · ${s.run.name}`,
      budget: r.budget,
      foolingRatio: r.foolingRatio,
      ciLow: r.foolingRatioCi[0],
      ciHigh: r.foolingRatioCi[1],
      accuracy: r.accuracy,
      fooled: r.fooled,
      correct: s.correct,
      unit: s.budgetUnit,
    })),
  );
}

function spec(rows: Row[], field: 'foolingRatio' | 'accuracy', unit: string): TopLevelSpec {
  const x = { field: 'budget', type: 'quantitative' as const, title: unit.startsWith('ε') ? unit : `ε (${unit})` };
  const color = { field: 'series', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const, columns: 1 } };
  const line = {
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: {
        field,
        type: 'quantitative' as const,
        title: field === 'foolingRatio' ? 'fooling ratio' : 'accuracy under attack',
        scale: { domain: [0, 1] },
        axis: { format: '.0%' },
      },
      color,
      strokeDash: {
        field: 'role',
        type: 'nominal' as const,
        title: null,
        scale: {
          domain: ['baseline', 'defended'],
          range: [
            [4, 3],
            [1, 0],
          ],
        },
        legend: null,
      },
      tooltip: [
        { field: 'series', type: 'nominal' as const },
        { field: 'budget', type: 'quantitative' as const, title: 'ε' },
        { field, type: 'quantitative' as const, format: '.1%' },
        { field: 'fooled', type: 'quantitative' as const },
        { field: 'correct', type: 'quantitative' as const, title: 'correct (denominator)' },
      ],
    },
  };
  const layers: unknown[] = [line];
  if (field === 'foolingRatio') {
    layers.unshift({
      mark: { type: 'errorband', opacity: 0.18 },
      encoding: { x, y: { field: 'ciLow', type: 'quantitative', title: 'fooling ratio' }, y2: { field: 'ciHigh' }, color },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 240,
    data: { values: rows },
    layer: layers,
  } as TopLevelSpec;
}

function render(d: FoolingData): void {
  last = d;
  for (const f of figures) f.dispose();
  figures = [];
  const runs = new Map<string, RunRef>();
  for (const s of d.series) runs.set(s.run.dir, s.run);
  for (const r of d.runsWithoutSweeps) runs.set(r.dir, r);
  const head = h(
    'div',
    {},
    h('h1', {}, 'Fooling ratio vs attack budget'),
    h(
      'p',
      { class: 'meta' },
      `${runs.size} run(s): ${[...runs.values()].map((r) => `${r.name} (${runRoleLabel(r)})`).join(', ')}. Fooling ratio = fraction of correctly classified samples whose prediction the attack changed; bands are 95% Wilson intervals.`,
    ),
  );
  const nodes: Node[] = [head];
  for (const r of d.runsWithoutSweeps)
    nodes.push(h('p', { class: 'hint' }, `${r.name} has no attack sweep yet: run FIM: Run Attack Sweep on it to add it here.`));
  const rows = rowsOf(d);
  const csv = () =>
    toCsv(rows, [
      ['attack', (r) => r.attack],
      ['run', (r) => r.run],
      ['role', (r) => r.role],
      ['budget', (r) => r.budget],
      ['fooling_ratio', (r) => r.foolingRatio],
      ['ci_low', (r) => r.ciLow],
      ['ci_high', (r) => r.ciHigh],
      ['accuracy_under_attack', (r) => r.accuracy],
      ['fooled', (r) => r.fooled],
      ['correct', (r) => r.correct],
    ]);
  nodes.push(
    h(
      'div',
      { class: 'toolbar' },
      button('Export all CSV', () => post({ type: 'export', format: 'csv', fileName: 'fooling-ratio', content: csv() }), {
        icon: 'table',
        secondary: true,
      }),
    ),
  );
  const attacks = [...new Set(rows.map((r) => r.attack))].sort();
  if (attacks.length === 0 && d.distances.length === 0) nodes.push(h('p', { class: 'hint' }, 'No attack sweeps in these runs yet.'));
  const grid = h('div', { class: 'grid' });
  for (const attack of attacks) {
    const ar = rows.filter((r) => r.attack === attack);
    const unit = ar[0]?.unit ?? 'budget';
    for (const field of ['foolingRatio', 'accuracy'] as const) {
      const title = `${attack.toUpperCase()}: ${field === 'foolingRatio' ? 'fooling ratio' : 'accuracy under attack'}`;
      const fig = new Figure({
        title,
        fileName: `${attack}-${field === 'foolingRatio' ? 'fooling-ratio' : 'accuracy'}`,
        csv: () =>
          toCsv(ar, [
            ['run', (r) => r.run],
            ['role', (r) => r.role],
            ['budget', (r) => r.budget],
            [field, (r) => r[field]],
          ]),
      });
      figures.push(fig);
      grid.append(fig.element);
      void fig.render(spec(ar, field, unit));
    }
  }
  nodes.push(grid);
  if (attacks.length) {
    nodes.push(h('h2', {}, 'Values'));
    nodes.push(
      smallTable(
        ['attack', 'run', 'ε', 'fooling ratio', '95% CI', 'fooled / correct', 'accuracy under attack'],
        rows.map((r) => [
          r.attack,
          r.series,
          num(r.budget),
          pct(r.foolingRatio),
          `${pct(r.ciLow)} – ${pct(r.ciHigh)}`,
          `${r.fooled} / ${r.correct}`,
          pct(r.accuracy),
        ]),
        { numericFrom: 2 },
      ),
    );
  }
  nodes.push(h('h2', {}, 'Minimum adversarial distance (paper Table 1)'));
  const dist = d.distances.flatMap((x) => x.rows.map((r) => ({ ...r, run: x.run.name, role: x.role })));
  if (dist.length === 0) {
    nodes.push(h('p', { class: 'hint' }, 'No minimum-distance evaluation in these runs (fim eval distance writes one).'));
  } else {
    nodes.push(
      h(
        'div',
        { class: 'toolbar' },
        button(
          'Export distances CSV',
          () =>
            post({
              type: 'export',
              format: 'csv',
              fileName: 'min-distance',
              content: toCsv(dist, [
                ['attack', (r) => r.attack],
                ['norm', (r) => r.norm],
                ['run', (r) => r.run],
                ['role', (r) => r.role],
                ['mean', (r) => r.meanDistance],
                ['median', (r) => r.medianDistance],
                ['success_rate', (r) => r.successRate],
                ['samples', (r) => r.samples],
                ['foolbox2_unit', (r) => r.foolbox2.unit],
                ['foolbox2_mean', (r) => r.foolbox2.mean],
                ['foolbox2_median', (r) => r.foolbox2.median],
              ]),
            }),
          { icon: 'table', secondary: true },
        ),
      ),
      smallTable(
        ['attack', 'norm', 'run', 'mean', 'median', 'success', 'samples', 'Foolbox 2 units (mean / median)'],
        dist
          .sort((a, b) => a.attack.localeCompare(b.attack) || a.role.localeCompare(b.role))
          .map((r) => [
            r.attack,
            r.norm,
            `${r.role === 'baseline' ? 'baseline' : 'defended'} · ${r.run}`,
            num(r.meanDistance),
            num(r.medianDistance),
            pct(r.successRate),
            r.samples,
            `${r.foolbox2.unit} ${num(r.foolbox2.mean)} / ${num(r.foolbox2.median)}`,
          ]),
        { numericFrom: 3 },
      ),
    );
  }
  app.replaceChildren(...nodes);
}

onThemeChange(() => last && render(last));
startPanel('fooling', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
