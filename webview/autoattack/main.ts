/**
 * AutoAttack results of a run: the verdict (robust accuracy over all samples, 95% interval), the
 * cascade (robust accuracy after each attack, which attack broke how many samples), the robustness
 * curve with the other runs' curves of the same norm overlaid, and the broken samples' images.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { AutoAttackData } from '../../src/protocol/webview.js';
import { post, saveUi, startPanel, uiState } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button, smallTable } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage, runLine, stat } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';
import { onThemeChange } from '../shared/theme.js';
import { curveRows, normLabel, type CurveRow } from './curve.js';

addStyles(`
.controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 10px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); border-radius: 4px; padding: 6px 8px; }
.card .imgs { display: flex; gap: 6px; }
.card figure { margin: 0; text-align: center; }
.card img { width: 96px; height: 96px; }
.card figcaption { font-size: 0.85em; }
.fooled { color: var(--vscode-errorForeground); font-weight: 600; }
`);

const app = initPage();
let last: AutoAttackData | null = null;
let figure: Figure | null = null;

interface Ui extends Record<string, unknown> {
  evalName: string;
}

const url = (d: AutoAttackData, rel: string) => `${d.assetsBase}/${rel.split('/').map(encodeURIComponent).join('/')}`;

function curveSpec(rows: CurveRow[], norm: string, epsilon: number): TopLevelSpec {
  const x = { field: 'epsilon', type: 'quantitative' as const, title: `ε (${normLabel(norm)} norm of the perturbation)` };
  const y = { type: 'quantitative' as const, title: 'robust accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } };
  const color = { field: 'series', type: 'nominal' as const, title: null, legend: { orient: 'bottom' as const, columns: 1 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 260,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'area', opacity: 0.15 },
        encoding: { x, y: { ...y, field: 'ciLow' }, y2: { field: 'ciHigh' }, color },
      },
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x,
          y: { ...y, field: 'robustAccuracy' },
          color,
          tooltip: [
            { field: 'series', type: 'nominal' },
            { field: 'epsilon', type: 'quantitative', title: 'ε' },
            { field: 'robustAccuracy', type: 'quantitative', format: '.1%', title: 'robust accuracy' },
          ],
        },
      },
      {
        data: { values: [{ epsilon }] },
        mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: { x: { field: 'epsilon', type: 'quantitative' } },
      },
    ],
  };
}

function render(d: AutoAttackData): void {
  last = d;
  const ui = uiState<Ui>();
  const chosen = d.evals.find((e) => e.evalName === ui.evalName) ?? d.evals.find((e) => e.evalName === d.selected) ?? d.evals[0]!;
  const ev = chosen.eval;
  const select = h('vscode-single-select', { 'aria-label': 'AutoAttack evaluation' });
  for (const e of d.evals)
    select.append(
      h(
        'vscode-option',
        { value: e.evalName, selected: e.evalName === chosen.evalName },
        `${normLabel(e.eval.norm)} ε = ${num(e.eval.epsilon)} (${e.evalName}, ${e.eval.provenance.createdAt.slice(0, 16).replace('T', ' ')})`,
      ),
    );
  select.addEventListener('change', () => {
    saveUi({ evalName: (select as unknown as { value: string }).value });
    render(d);
  });
  const robust = Math.round(ev.robustAccuracy * ev.samples);
  const head = h(
    'div',
    {},
    h('h1', {}, `AutoAttack: ${d.run.name}`),
    h(
      'p',
      { class: 'meta' },
      `${runLine(d.run)} · ${ev.version} version (${ev.attacks.join(' → ')}), each attack on the samples still robust · first ${ev.samples} ${ev.provenance.split} samples · ${ev.provenance.checkpoint}`,
    ),
  );
  const stats = h(
    'div',
    { class: 'stats' },
    stat(
      'robust accuracy',
      pct(ev.robustAccuracy),
      `95% Wilson interval ${pct(ev.robustAccuracyCi[0])} – ${pct(ev.robustAccuracyCi[1])}; ${robust} of ${ev.samples} samples are classified correctly and no attack broke them`,
    ),
    stat('95% interval', `${pct(ev.robustAccuracyCi[0])} – ${pct(ev.robustAccuracyCi[1])}`),
    stat('clean accuracy', pct(ev.cleanAccuracy)),
    stat('budget', `${normLabel(ev.norm)} ε = ${num(ev.epsilon)}`),
    stat('wall time', `${ev.provenance.wallSeconds.toFixed(0)} s`),
  );
  const cascade = smallTable(
    ['attack', 'attacked (robust before it)', 'broken', 'robust accuracy after', '95% interval', 'wall time'],
    ev.cascade.map((s) => [
      s.attack,
      s.attacked,
      s.broken,
      pct(s.robustAccuracy),
      `${pct(s.robustAccuracyCi[0])} – ${pct(s.robustAccuracyCi[1])}`,
      `${s.wallSeconds.toFixed(1)} s`,
    ]),
    { numericFrom: 1 },
  );
  figure?.dispose();
  figure = null;
  const curveHost = h('div');
  if (ev.curve) {
    const rows = curveRows(d, chosen.evalName);
    figure = new Figure({
      title: `Robustness curve (${normLabel(ev.norm)}): robust accuracy vs ε from per-sample minimum norms`,
      fileName: `${d.run.id}-${chosen.evalName}-curve`,
      csv: () =>
        toCsv(rows, [
          ['series', (r) => r.series],
          ['epsilon', (r) => r.epsilon],
          ['robust_accuracy', (r) => r.robustAccuracy],
          ['ci_low', (r) => r.ciLow],
          ['ci_high', (r) => r.ciHigh],
        ]),
    });
    curveHost.append(
      figure.element,
      h(
        'p',
        { class: 'hint' },
        `First ${ev.curve.samples} samples; minimum norms from ${ev.curve.sources.join('; ')}. Dashed: the evaluated ε. Other runs' curves of the same norm are overlaid.`,
      ),
    );
    void figure.render(curveSpec(rows, ev.norm, ev.epsilon));
  } else {
    curveHost.append(
      h(
        'p',
        { class: 'hint' },
        'No robustness curve in this evaluation: run it with curve samples (fim eval autoattack --curve-samples N).',
      ),
    );
  }
  const cards = h('div', { class: 'cards' });
  for (const e of ev.examples) {
    cards.append(
      h(
        'div',
        { class: 'card' },
        h(
          'div',
          { class: 'imgs' },
          h(
            'figure',
            {},
            h('img', { class: 'px', src: url(d, e.original), alt: `original ${e.index}` }),
            h('figcaption', {}, `original: ${e.predictedOriginal}`),
          ),
          h(
            'figure',
            {},
            h('img', { class: 'px', src: url(d, e.perturbation), alt: `perturbation ${e.index}` }),
            h('figcaption', {}, `‖δ‖ = ${num(e.distance, 3)}`),
          ),
          h(
            'figure',
            {},
            h('img', { class: 'px', src: url(d, e.adversarial), alt: `adversarial ${e.index}` }),
            h('figcaption', { class: 'fooled' }, `adversarial: ${e.predictedAdversarial}`),
          ),
        ),
        h('div', { class: 'meta' }, `sample ${e.index}, label ${e.label} · broken by ${e.attack}`),
      ),
    );
  }
  const actions = h(
    'div',
    { class: 'toolbar' },
    button(
      'Export per-sample CSV',
      () =>
        post({
          type: 'export',
          format: 'csv',
          fileName: `${d.run.id}-${chosen.evalName}`,
          content: toCsv(ev.perSample, [
            ['index', (s) => s.index],
            ['label', (s) => s.label],
            ['predicted', (s) => s.predicted],
            ['broken_by', (s) => s.brokenBy ?? ''],
            ['adversarial_predicted', (s) => s.adversarialPredicted ?? ''],
            ['distance', (s) => s.distance ?? ''],
            ['min_norm', (s) => (s.minNorm === undefined || s.minNorm === null ? '' : s.minNorm)],
          ]),
        }),
      { icon: 'table', secondary: true },
    ),
    button('Reveal evaluation file', () => post({ type: 'reveal', path: `${d.run.dir}/evals/${chosen.evalName}.json` }), {
      icon: 'go-to-file',
      secondary: true,
    }),
  );
  app.replaceChildren(
    head,
    h('div', { class: 'controls' }, h('vscode-label', {}, 'Evaluation'), select),
    stats,
    actions,
    h('h2', {}, 'Cascade'),
    cascade,
    h('h2', {}, 'Robustness curve'),
    curveHost,
    h('h2', {}, `Broken samples (${ev.examples.length} of ${ev.perSample.filter((s) => s.brokenBy).length} kept)`),
    ev.examples.length ? cards : h('p', { class: 'hint' }, 'No sample was broken, or none was kept.'),
  );
}

onThemeChange(() => {
  if (last) render(last);
});
startPanel('autoattack', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
