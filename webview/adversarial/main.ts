/**
 * Adversarial images of an attack sweep: original / perturbation / adversarial with predicted
 * labels and probabilities, for the budget chosen with a slider over ε.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { AdversarialExample, SweepEval } from '../../src/runs/evals.js';
import type { AdversarialData } from '../../src/protocol/webview.js';
import { post, saveUi, startPanel, uiState } from '../shared/api.js';
import { Figure } from '../shared/chart.js';
import { toCsv } from '../shared/csv.js';
import { button } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage, runLine, stat } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';
import { onThemeChange } from '../shared/theme.js';

addStyles(`
.controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin: 10px 0; }
.slider { display: flex; gap: 8px; align-items: center; }
.slider input[type=range] { width: 260px; accent-color: var(--vscode-focusBorder); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); border-radius: 4px; padding: 6px 8px; cursor: pointer; }
.card.selected { outline: 2px solid var(--vscode-focusBorder); }
.card .imgs { display: flex; gap: 6px; }
.card figure { margin: 0; text-align: center; }
.card img { width: 96px; height: 96px; }
.card figcaption { font-size: 0.85em; }
.fooled { color: var(--vscode-errorForeground); font-weight: 600; }
.held { color: var(--vscode-testing-iconPassed, #73c991); }
`);

const app = initPage();
let last: AdversarialData | null = null;
let probsFigure: Figure | null = null;

interface Ui extends Record<string, unknown> {
  evalName: string;
  budgetIndex: number;
  selected: string;
}

const url = (d: AdversarialData, rel: string) => `${d.assetsBase}/${rel.split('/').map(encodeURIComponent).join('/')}`;
const top = (probs: number[], c: number) => (probs[c] === undefined ? '' : ` (p=${num(probs[c], 3)})`);
const exampleId = (e: AdversarialExample) => `${e.index}@${e.budget}`;

function probsSpec(e: AdversarialExample): TopLevelSpec {
  const values = [
    ...e.probsOriginal.map((p, c) => ({ class: String(c), p, input: 'original' })),
    ...e.probsAdversarial.map((p, c) => ({ class: String(c), p, input: 'adversarial' })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 140,
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'class', type: 'ordinal', sort: null, title: 'class', axis: { labelAngle: 0 } },
      xOffset: { field: 'input', sort: ['original', 'adversarial'] },
      y: { field: 'p', type: 'quantitative', scale: { domain: [0, 1] }, title: 'p' },
      color: { field: 'input', type: 'nominal', title: null, sort: ['original', 'adversarial'] },
    },
  };
}

function budgetsOf(ev: SweepEval): number[] {
  const set = new Set<number>(ev.results.map((r) => r.budget));
  for (const e of ev.examples) set.add(e.budget);
  return [...set].sort((a, b) => a - b);
}

function render(d: AdversarialData): void {
  last = d;
  const ui = uiState<Ui>();
  const selectedName = d.sweeps.some((s) => s.evalName === ui.evalName) ? (ui.evalName as string) : d.selected;
  const sweep = d.sweeps.find((s) => s.evalName === selectedName) ?? d.sweeps[0]!;
  const ev = sweep.eval;
  const budgets = budgetsOf(ev);
  const bi = Math.min(Math.max(0, (ui.budgetIndex as number) ?? budgets.length - 1), budgets.length - 1);
  const budget = budgets[bi];

  const select = h('vscode-single-select', { 'aria-label': 'attack sweep' });
  for (const s of d.sweeps)
    select.append(h('vscode-option', { value: s.evalName, selected: s.evalName === sweep.evalName }, `${s.eval.attack} (${s.evalName})`));
  select.addEventListener('change', () => {
    saveUi({ evalName: (select as unknown as { value: string }).value, budgetIndex: undefined, selected: undefined });
    render(d);
  });
  const range = h('input', {
    type: 'range',
    min: 0,
    max: Math.max(0, budgets.length - 1),
    step: 1,
    value: bi,
    'aria-label': 'budget ε',
  });
  const label = h('span', { class: 'num' }, `ε = ${budget === undefined ? '–' : num(budget)}`);
  range.addEventListener('input', () => {
    saveUi({ budgetIndex: Number(range.value) });
    render(d);
  });
  const point = ev.results.find((r) => r.budget === budget);
  const head = h(
    'div',
    {},
    h('h1', {}, `Adversarial images: ${d.run.name}${d.run.imported ? ' (imported model)' : ''}`),
    h(
      'p',
      { class: 'meta' },
      `${runLine(d.run)} · ${ev.attack} (${ev.norm}, ${ev.clip ? 'clipped to the image range' : 'unclipped'}) · ${ev.budgetUnit}`,
    ),
  );
  const controls = h(
    'div',
    { class: 'controls' },
    h('vscode-label', {}, 'Attack'),
    select,
    h('div', { class: 'slider' }, h('vscode-label', {}, 'Budget'), range, label),
  );
  const stats = h(
    'div',
    { class: 'stats' },
    stat(
      'fooling ratio',
      point ? pct(point.foolingRatio) : '–',
      point
        ? `95% CI ${pct(point.foolingRatioCi[0])} – ${pct(point.foolingRatioCi[1])}; ${point.fooled} of ${ev.correct} correctly classified samples`
        : undefined,
    ),
    stat('accuracy under attack', point ? pct(point.accuracy) : '–'),
    stat('clean accuracy', pct(ev.cleanAccuracy)),
    stat('samples', String(ev.samples)),
  );
  const examples = ev.examples.filter((e) => e.budget === budget);
  const selId = examples.some((e) => exampleId(e) === ui.selected) ? (ui.selected as string) : examples[0] ? exampleId(examples[0]) : null;
  const cards = h('div', { class: 'cards' });
  const probsHost = h('div');
  for (const e of examples) {
    const fooled = e.predictedAdversarial !== e.predictedOriginal;
    const card = h(
      'div',
      { class: exampleId(e) === selId ? 'card selected' : 'card', tabindex: 0, 'data-index': e.index },
      h(
        'div',
        { class: 'imgs' },
        h(
          'figure',
          {},
          h('img', { class: 'px', src: url(d, e.original), alt: `original ${e.index}` }),
          h('figcaption', {}, `original: ${e.predictedOriginal}${top(e.probsOriginal, e.predictedOriginal)}`),
        ),
        h(
          'figure',
          {},
          h('img', { class: 'px', src: url(d, e.perturbation), alt: `perturbation ${e.index}` }),
          h('figcaption', {}, `perturbation ‖δ‖ = ${num(e.distance, 3)}`),
        ),
        h(
          'figure',
          {},
          h('img', { class: 'px', src: url(d, e.adversarial), alt: `adversarial ${e.index}` }),
          h(
            'figcaption',
            { class: fooled ? 'fooled' : 'held' },
            `adversarial: ${e.predictedAdversarial}${top(e.probsAdversarial, e.predictedAdversarial)}`,
          ),
        ),
      ),
      h('div', { class: 'meta' }, `sample ${e.index}, label ${e.label} · ${fooled ? 'fooled' : 'prediction held'}`),
    );
    card.addEventListener('click', () => {
      saveUi({ selected: exampleId(e) });
      render(d);
    });
    cards.append(card);
  }
  const sel = examples.find((e) => exampleId(e) === selId);
  probsFigure?.dispose();
  probsFigure = null;
  if (sel) {
    probsFigure = new Figure({
      title: `Probabilities of sample ${sel.index}, original vs adversarial (ε = ${num(sel.budget)})`,
      fileName: `${d.run.id}-${sweep.evalName}-sample-${sel.index}`,
      csv: () =>
        toCsv(
          sel.probsOriginal.map((p, c) => ({ c, p, q: sel.probsAdversarial[c] })),
          [
            ['class', (r) => r.c],
            ['p_original', (r) => r.p],
            ['p_adversarial', (r) => r.q],
          ],
        ),
    });
    probsHost.append(probsFigure.element);
    void probsFigure.render(probsSpec(sel));
  }
  const actions = h(
    'div',
    { class: 'toolbar' },
    button(
      'Export results CSV',
      () =>
        post({
          type: 'export',
          format: 'csv',
          fileName: `${d.run.id}-${sweep.evalName}`,
          content: toCsv(ev.results, [
            ['attack', () => ev.attack],
            ['budget', (r) => r.budget],
            ['fooling_ratio', (r) => r.foolingRatio],
            ['ci_low', (r) => r.foolingRatioCi[0]],
            ['ci_high', (r) => r.foolingRatioCi[1]],
            ['fooled', (r) => r.fooled],
            ['accuracy', (r) => r.accuracy],
            ['mean_loss', (r) => r.meanLoss],
          ]),
        }),
      { icon: 'table', secondary: true },
    ),
    button('Fooling-ratio chart', () => post({ type: 'open', key: { kind: 'fooling', runDirs: [d.run.dir] } }), {
      icon: 'graph-line',
      secondary: true,
    }),
  );
  const body = examples.length
    ? [cards, probsHost]
    : [
        h(
          'p',
          { class: 'hint' },
          ev.examples.length ? `No stored examples at ε = ${num(budget)}; move the slider.` : 'This sweep stored no example images.',
        ),
      ];
  app.replaceChildren(
    head,
    controls,
    stats,
    actions,
    h('h2', {}, `Examples at ε = ${budget === undefined ? '–' : num(budget)} (${examples.length})`),
    ...body,
  );
}

onThemeChange(() => last && render(last));
startPanel('adversarial', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
