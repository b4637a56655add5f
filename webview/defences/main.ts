/**
 * The defence comparison of a `fim reproduce --defences` directory: every defence's clean and
 * robust accuracy with 95% intervals, OSSA, λmax(G_x) before and after temperature scaling, the
 * masking checks and the training time, with the findings beside it (docs/defences.md).
 */
import type { DefencesData } from '../../src/protocol/webview.js';
import { robustHeading, type PooledRate } from '../../src/runs/reproduceDefences.js';
import { post, startPanel } from '../shared/api.js';
import { toCsv } from '../shared/csv.js';
import { button } from '../shared/elements.js';
import { h, num, pct } from '../shared/format.js';
import { errorBanner, initPage } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';

const app = initPage();
// A plain table: its cells wrap (value, interval, per-seed values on their own lines).
addStyles(`
table.defences { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
table.defences th, table.defences td { border: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); padding: 3px 8px; vertical-align: top; text-align: left; }
table.defences th { background: var(--vscode-keybindingTable-headerBackground, rgba(128,128,128,0.08)); font-weight: 600; }
table.defences small { color: var(--vscode-descriptionForeground); display: block; }
`);

/** A cell's lines: the first as is, the rest small. */
function cell(lines: string[]): HTMLElement {
  return h('td', {}, lines[0] ?? '–', ...lines.slice(1).map((l) => h('small', {}, l)));
}

function rateLines(r: PooledRate | null | undefined): string[] {
  if (!r) return ['–'];
  return [
    pct(r.value),
    `[${pct(r.ci[0])}, ${pct(r.ci[1])}]`,
    ...(r.perSeed.length > 1 ? [`seeds ${r.perSeed.map((v) => pct(v, 0)).join(' / ')}`] : []),
  ];
}

function render(d: DefencesData): void {
  const p = d.plan;
  // A CSV column per run (and budget, where a run has several): robust_autoattack_linf_0.1, robust_linf_0.3.
  const columns = p.robust.flatMap((r) =>
    r.budgets.map((b) => ({
      run: r.id,
      budget: b,
      heading: robustHeading(r, b),
      csv: `robust_${r.id.replace(/-/g, '_')}${r.budgets.length > 1 ? `_${b}` : ''}`,
    })),
  );
  const rows = d.report.rows;
  const csv = () =>
    toCsv(rows, [
      ['defence', (r) => r.label],
      ['seeds', (r) => r.seeds],
      ['clean_accuracy', (r) => r.cleanAccuracy?.value ?? ''],
      ['clean_ci_low', (r) => r.cleanAccuracy?.ci[0] ?? ''],
      ['clean_ci_high', (r) => r.cleanAccuracy?.ci[1] ?? ''],
      ...columns.flatMap((c) => {
        const cell = (r: (typeof rows)[number]) => r.robust.find((x) => x.run === c.run && x.budget === c.budget)?.accuracy;
        const name = c.csv;
        return [
          [name, (r: (typeof rows)[number]) => cell(r)?.value ?? ''],
          [`${name}_ci_low`, (r: (typeof rows)[number]) => cell(r)?.ci[0] ?? ''],
          [`${name}_ci_high`, (r: (typeof rows)[number]) => cell(r)?.ci[1] ?? ''],
        ] as [string, (r: (typeof rows)[number]) => string | number][];
      }),
      ['ossa_fooling', (r) => r.ossa?.value ?? ''],
      ['lambda_max_gx', (r) => r.fim?.lambdaMaxGx ?? ''],
      ['lambda_max_gx_scaled', (r) => r.fim?.lambdaMaxGxScaled ?? ''],
      ['normalized_margin', (r) => r.fim?.normalizedMargin ?? ''],
      ['seconds_per_epoch', (r) => r.secondsPerEpoch.join(' ')],
    ]);
  app.replaceChildren(
    h('h1', {}, 'Defences compared'),
    h(
      'p',
      { class: 'meta' },
      `${d.reproduceDir} · ${d.complete ? 'complete' : 'partial (stages still to run)'} · report of ${d.createdAt}. Every defence on ${d.model.split(/[\\/]/).pop() ?? d.model}, ${d.epochs} epochs of ${d.trainSamples} samples, seeds ${p.seeds.join(', ')}. Robust accuracy: ${d.report.robustSuite}, first ${p.robustSamples} test samples per seed, with what each attack of the cascade left (in a worst-case column: each attack alone); proportions pooled over seeds with 95% Wilson intervals.`,
    ),
    h(
      'div',
      { class: 'toolbar' },
      button('Export CSV', () => post({ type: 'export', format: 'csv', fileName: 'defences', content: csv() }), {
        icon: 'table',
        secondary: true,
      }),
      button('Open report folder', () => post({ type: 'reveal', path: d.reproduceDir }), { icon: 'folder-opened', secondary: true }),
    ),
    h(
      'table',
      { class: 'defences' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'defence',
            'clean accuracy',
            ...columns.map((c) => c.heading),
            `OSSA ε = ${p.ossa.epsilon}`,
            'λmax(G_x) → after T',
            'normalised margin',
            'masking checks',
            's / epoch',
          ].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            {},
            cell([r.label, r.defence, ...(r.meetsGoal ? ['meets the goal'] : [])]),
            cell(rateLines(r.cleanAccuracy)),
            ...columns.map((c) => {
              const x = r.robust.find((y) => y.run === c.run && y.budget === c.budget);
              return cell(
                x
                  ? [
                      ...rateLines(x.accuracy),
                      Object.entries(x.perAttack)
                        .map(([a, v]) => `${a} ${pct(v, 0)}`)
                        .join(', '),
                    ]
                  : ['–'],
              );
            }),
            cell(rateLines(r.ossa)),
            cell(
              r.fim
                ? [
                    `${num(r.fim.lambdaMaxGx, 3)} → ${num(r.fim.lambdaMaxGxScaled, 3)}`,
                    `T = ${r.fim.temperatures.map((t) => num(t, 2)).join(' / ')}`,
                  ]
                : ['–'],
            ),
            cell(r.fim ? [num(r.fim.normalizedMargin, 3), `p_true ${num(r.fim.pTrue, 2)}`] : ['–']),
            cell(r.sanity.length ? r.sanity.map((s) => `${s.status}: ${s.title}`) : ['–']),
            cell(
              r.secondsPerEpoch.length
                ? [
                    r.secondsPerEpoch.map((s) => Math.round(s)).join(' / '),
                    `${r.samplesPerSecond.map((s) => Math.round(s)).join(' / ')} samples/s`,
                  ]
                : ['–'],
            ),
          ),
        ),
      ),
    ),
    h('h2', {}, 'Findings'),
    h(
      'table',
      { class: 'defences' },
      h('thead', {}, h('tr', {}, ...['question', 'rule', 'measured', 'verdict'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        ...d.report.findings.map((f) =>
          h('tr', {}, cell([f.topic]), cell([f.paper]), cell([f.ours, ...(f.why ? [f.why] : [])]), cell([f.verdict])),
        ),
      ),
    ),
    h(
      'p',
      { class: 'hint' },
      `Goal: robust accuracy ≥ ${pct(p.goal.robustAccuracy, 0)} at l∞ ${p.goal.epsilon} with ≥ ${pct(p.goal.cleanAccuracy, 0)} clean accuracy. λmax(G_x): median over the inspected samples, before and after temperature scaling; a defence whose λmax drops only before scaling mostly shrank its logits.`,
    ),
  );
}

startPanel('defences', {
  data: (d) => render(d),
  error: (message) => app.replaceChildren(errorBanner(message)),
});
