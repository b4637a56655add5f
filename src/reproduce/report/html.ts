import type { AutoAttackCell, DistanceStat, Interval, ReproduceReport, SweepSeries, TransferCell } from '../../runs/reproduce';
import { escapeHtml } from '../../shared/escape';
import { renderCharts, type Chart } from './charts';
import { defencesSection } from './defencesHtml';

/**
 * The report as one self-contained HTML page: inline SVG charts, one <style> block, no scripts
 * and no external resources, so it opens from disk in any browser and in a VS Code webview under
 * a strict content security policy. The full report JSON is embedded (inert, type
 * application/json) and also written beside it as report.json.
 */
export const SECTIONS = [
  'summary',
  'findings',
  'cuts',
  'fig2',
  'fig3',
  'fig5',
  'table1',
  'table2',
  'fim',
  'sanity',
  'autoattack',
  'timing',
  'data',
] as const;

const pct = (v: number | null | undefined, d = 1) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(d)}%`;
const ci = (c: Interval | null | undefined, d = 1) => (c && Number.isFinite(c[0]) ? `[${pct(c[0], d)}, ${pct(c[1], d)}]` : '');
function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}
const numCi = (c: Interval | null | undefined) => (c && Number.isFinite(c[0]) ? `[${num(c[0])}, ${num(c[1])}]` : '');
/** Seconds as "42 s", "3.5 min" or "2.10 h". */
export function duration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function badge(kind: string): string {
  return `<span class="badge b-${escapeHtml(kind.replace(/\s+/g, '-'))}">${escapeHtml(kind)}</span>`;
}

function chart(c: Chart | undefined, what: string): string {
  if (!c) return '';
  if (c.svg) return `<figure class="chart">${c.svg}</figure>`;
  if (c.error) return `<p class="missing">The ${escapeHtml(what)} chart could not be rendered: ${escapeHtml(c.error)}</p>`;
  return `<p class="missing">No data for the ${escapeHtml(what)} chart yet (its stages have not finished).</p>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}" data-section="${id}"><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

function sweepTable(series: SweepSeries[], budgets: number[], withClipped: boolean): string {
  if (series.length === 0) return '';
  const show = budgets.filter((b) => [1, 2, 4, 6, 8].includes(b));
  const eps = show.length ? show : budgets;
  const head = ['attack', 'model', 'n (correct, pooled)', ...eps.map((e) => `ε = ${escapeHtml(e)}`)];
  const rows = series.map((s) => [
    escapeHtml(s.attack.toUpperCase()),
    escapeHtml(s.label),
    `${escapeHtml(s.points[0]?.correct ?? '–')}${s.seeds > 1 ? ` (${escapeHtml(s.seeds)} seeds)` : ''}`,
    ...eps.map((e) => {
      const p = s.points.find((x) => x.epsilon === e);
      if (!p) return '–';
      const seeds = p.perSeed.length > 1 ? `<br><small>seeds ${p.perSeed.map((v) => pct(v, 0)).join(' / ')}</small>` : '';
      const clipped = withClipped && p.clipped ? `<br><small>clipped ${pct(p.clipped.ratio)} ${ci(p.clipped.ci)}</small>` : '';
      return `${pct(p.ratio)}<br><small>${ci(p.ci)}</small>${seeds}${clipped}`;
    }),
  ]);
  return table(head, rows);
}

function distCell(d: DistanceStat | null): string {
  if (!d) return '–';
  return `${num(d.mean)} <small>${numCi(d.meanCi)}</small><br><small>natural ${num(d.meanNatural)} · found ${escapeHtml(d.found)}/${escapeHtml(d.attacked)}</small>`;
}

function transferCell(c: TransferCell | null): string {
  if (!c) return '–';
  if (c.samples === 0) return `none fooled the source<br><small>(of ${escapeHtml(c.crafted)} crafted)</small>`;
  return `${pct(c.accuracy)} <small>${ci(c.ci)}</small><br><small>n = ${escapeHtml(c.samples)} of ${escapeHtml(c.crafted)}</small>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;padding:24px 32px;color:#1b1b1b;background:#fff;max-width:1180px;line-height:1.45}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
p{margin:6px 0}small{color:#555}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4}table.num td{white-space:nowrap}.ev{font-size:12px;line-height:1.3;margin:0}table.ev td,table.ev th{padding:1px 5px;white-space:nowrap}table.sanity>tbody>tr>td:first-child{width:24%}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;background:#777}
.b-agrees,.b-pass,.b-done{background:#2e7d32}.b-differs,.b-fail,.b-failed{background:#c62828}.b-partly,.b-warn,.b-started{background:#ef8f00}.b-not-measured,.b-skipped,.b-pending{background:#888}
.banner{padding:8px 12px;border-radius:6px;margin:10px 0}.banner.warn{background:#fff4e0;border:1px solid #f0c27a}.banner.bad{background:#fdecea;border:1px solid #f19b94}.banner.ok{background:#edf7ed;border:1px solid #9ccc9c}
figure.chart{margin:8px 0;overflow-x:auto}figure.chart svg{max-width:100%;height:auto}
.missing{color:#8a5a00;font-style:italic}
.meta td:first-child{font-weight:600;white-space:nowrap}
details pre{max-height:420px;overflow:auto;background:#f7f7f7;padding:8px;font-size:11px}
nav a{margin-right:10px;font-size:13px}
`;

export async function renderHtml(r: ReproduceReport): Promise<string> {
  const charts = await renderCharts(r);
  const env = r.environment;
  const failedChecks = r.sanity.filter((s) => s.status === 'fail');
  const warnChecks = r.sanity.filter((s) => s.status === 'warn');
  const pendingStages = r.stages.filter((s) => s.status !== 'done');

  const banner = [
    !r.complete
      ? `<div class="banner warn"><b>Partial report:</b> ${pendingStages.length} of ${r.stages.length} stages have not finished (${pendingStages.filter((s) => s.status === 'failed').length} failed). Run the same <code>fim reproduce</code> command again to resume; see <a href="#timing">stages</a>.</div>`
      : '',
    failedChecks.length
      ? `<div class="banner bad"><b>Possible gradient masking:</b> ${failedChecks.length} sanity check${failedChecks.length > 1 ? 's' : ''} failed (${failedChecks.map((c) => escapeHtml(c.title)).join('; ')}). Robustness numbers from the affected attacks may be overstated; see <a href="#sanity">sanity checks</a>.</div>`
      : r.sanity.length
        ? `<div class="banner ok">No sanity check failed (${r.sanity.filter((s) => s.status === 'pass').length} passed, ${warnChecks.length} warning${warnChecks.length === 1 ? '' : 's'}).</div>`
        : '',
  ].join('');

  const summary = section(
    'summary',
    'Summary',
    `${banner}${table(
      ['', ''],
      [
        ['mode', `${escapeHtml(r.plan.mode)}${r.plan.mode === 'quick' ? ' (reduced: see <a href="#cuts">what was cut</a>)' : ''}`],
        [
          'dataset / model',
          `real MNIST (${escapeHtml(r.plan.trainSamples)} train / ${escapeHtml(r.plan.testSamples)} test), ${escapeHtml(r.plan.model)}, ${escapeHtml(r.plan.epochs)} epochs, batch ${escapeHtml(r.plan.batchSize)}, Adam lr ${escapeHtml(r.plan.learningRate)}`,
        ],
        [
          'μ trained',
          `${escapeHtml(r.plan.mus.join(', '))} × seeds ${escapeHtml(r.plan.seeds.join(', '))}; μ = ${escapeHtml(r.plan.muRoles.headline)} is the headline model (paper: 0.022), μ = ${escapeHtml(r.plan.muRoles.fig5)} stands for 0.02 (Fig. 5), μ = ${escapeHtml(r.plan.muRoles.tables)} for 0.024 (Tables 1, 2)`,
        ],
        [
          'comparison models',
          r.plan.models
            .filter((m) => m.role !== 'fim')
            .map((m) => escapeHtml(m.label))
            .join(', ') || 'none',
        ],
        [
          'wall time',
          `${duration(r.wallSeconds)} in ${r.sessions.length} session${r.sessions.length === 1 ? '' : 's'} (${Object.entries(r.wallByKind)
            .map(([k, v]) => `${escapeHtml(k)} ${duration(v ?? 0)}`)
            .join(', ')})`,
        ],
        [
          'backend',
          `${escapeHtml(env.backend)}${env.backendDetails.length ? ` <small>(${escapeHtml(env.backendDetails.join('; '))})</small>` : ''}`,
        ],
        [
          'machine',
          `${escapeHtml(env.cpus)} × ${escapeHtml(env.cpuModel)}, ${escapeHtml(env.platform)}, Node ${escapeHtml(env.node)}, engine ${escapeHtml(env.engineVersion)}; 1-min load average ${env.loadStart.map((v) => v.toFixed(1))[0] ?? '–'} at start, ${env.loadEnd[0]?.toFixed(1) ?? '–'} at end (other processes slow timings down)`,
        ],
        ['created', escapeHtml(r.createdAt)],
      ],
      'meta',
    )}<p><small>Reference: ${escapeHtml(r.paper.citation)}. The paper's numbers are shown beside ours as published; ours are measured on this machine by this run.</small></p>`,
  );

  const findings = section(
    'findings',
    'Where we agree with the paper',
    table(
      ['claim', 'paper', 'ours (n, 95% CI)', 'verdict', 'why (what the report can tell)'],
      r.findings.map((f) => [
        escapeHtml(f.topic),
        escapeHtml(f.paper),
        escapeHtml(f.ours),
        badge(f.verdict),
        f.why ? escapeHtml(f.why) : '',
      ]),
    ) +
      "<p><small>Verdict rules: accuracies agree within 0.5 points (partly within 1.5); a threshold claim agrees when the whole 95% interval is on the paper's side, differs when it is wholly on the other side. A Wilson interval covers test-sample noise only; the spread over seeds (where there are several) covers training noise.</small></p>",
  );

  const cuts = section(
    'cuts',
    'What this run cut or changed',
    r.plan.cuts.length ? `<ul>${r.plan.cuts.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>` : '<p>Nothing: the full plan.</p>',
  );

  const fig2 = section(
    'fig2',
    'Fig. 2 — accuracy vs μ',
    chart(charts.fig2, 'Fig. 2') +
      table(
        ['model', 'test accuracy (mean)', 'spread', 'per seed', 'tr G_s (mean)', 'training'],
        r.accuracy.map((a) => [
          escapeHtml(a.label),
          pct(a.mean, 2),
          a.sd !== null ? `sd ${pct(a.sd, 2)}, range ${pct(a.min, 2)}–${pct(a.max, 2)}` : `95% CI ${ci(a.pooledCi, 2)}`,
          a.seeds.map((s) => `${escapeHtml(s.seed)}: ${s.accuracy === null ? escapeHtml(s.state) : pct(s.accuracy, 2)}`).join(', ') || '–',
          num(a.seeds.find((s) => s.meanTraceGs !== null)?.meanTraceGs ?? null, 4),
          a.seeds
            .map((s) =>
              s.trainSeconds !== null
                ? `${duration(s.trainSeconds)}${s.samplesPerSecond ? `, ${Math.round(s.samplesPerSecond)} samples/s` : ''}`
                : '–',
            )
            .join('; '),
        ]),
        'num',
      ),
  );

  const fig3 = section(
    'fig3',
    'Fig. 3 — OSSA fooling ratio vs ε (ε = squared l2 norm)',
    chart(charts.fig3, 'Fig. 3') +
      `<p>OSSA: η = √ε·v with v the exact top eigenvector of G_x; <b>ε is the squared l2 norm ‖η‖₂²</b> (paper §3.1), so ε = 6 is ‖η‖₂ ≈ 2.45. Fooling ratio = fooled / correctly classified; ${r.plan.fig3.clip ? 'inputs clipped to [0, 1]' : 'inputs not clipped (the clipped ratio is shown beside it)'}.</p>` +
      sweepTable(r.fig3, r.plan.fig3.budgets, true),
  );

  const fig5 = section(
    'fig5',
    'Fig. 5 — FGM, OTCM, FGSM vs ε',
    chart(charts.fig5, 'Fig. 5') +
      `<p>The paper does not state the unit of Fig. 5's axis. Here it is the same ε as Fig. 3 (squared l2 norm of the unclipped step): FGM moves √ε along the normalised gradient; FGSM and OTCM take a sign step of l∞ size √ε/√N (l2 norm √ε before clipping to [0, 1]). OTCM is the least-likely-class variant (Kurakin et al. 2017).</p>` +
      sweepTable(r.fig5, r.plan.fig5.budgets, false),
  );

  const t1 = section(
    'table1',
    `Table 1 — mean minimum adversarial distance, μ = 0 vs μ = ${escapeHtml(r.plan.muRoles.tables)}`,
    chart(charts.table1, 'Table 1') +
      `<p>Each attack's own minimum-distance search (Foolbox 2.4's), on the correctly classified samples among the first ${escapeHtml(r.plan.table1.samples)} test samples. Values in <b>Foolbox 2 units</b> as the paper (MSE = ‖δ‖₂²/N, MAE = ‖δ‖₁/N, L∞, L0 = changed pixels), mean over samples where the search succeeded, 95% bootstrap CI; natural-norm means below.</p>` +
      table(
        [
          'attack',
          'unit',
          'ours μ = 0',
          `ours μ = ${escapeHtml(r.plan.muRoles.tables)}`,
          'ratio [95% CI]',
          'paper μ = 0',
          'paper μ = 0.024',
          'paper ratio',
        ],
        r.table1.map((x) => [
          escapeHtml(x.attack),
          escapeHtml(x.unit),
          distCell(x.baseline),
          distCell(x.defended),
          x.ratio !== null ? `×${x.ratio.toFixed(2)} <small>${numCi(x.ratioCi)}</small>` : '–',
          num(x.paper?.baseline),
          num(x.paper?.defended),
          x.paper ? `×${x.paper.ratio.toFixed(2)}` : '–',
        ]),
        'num',
      ) +
      (Object.keys(r.plan.table1.options).length
        ? `<p><small>Options changed from Foolbox 2.4's defaults: ${escapeHtml(JSON.stringify(r.plan.table1.options))}</small></p>`
        : ''),
  );

  const t2 = section(
    'table2',
    `Table 2 — transfer accuracies between μ = 0 and μ = ${escapeHtml(r.plan.muRoles.tables)}`,
    `<p>On samples both models classify correctly (first ${escapeHtml(r.plan.table2.samples)} test samples), adversarials crafted on one model by the attack's minimum-distance search (OSSA: fixed ε = ${escapeHtml(r.plan.table2.ossaBudget)}, squared l2), then classified by the other. Accuracy of the target over the adversarials that fooled the source, 95% Wilson CI.</p>` +
      table(
        ['attack', 'ours: baseline → defended', 'paper', 'ours: defended → baseline', 'paper'],
        r.table2.map((x) => [
          escapeHtml(x.attack),
          transferCell(x.baselineToDefended),
          pct(x.paper?.baselineToDefended, 2),
          transferCell(x.defendedToBaseline),
          x.paper ? (x.paper.defendedToBaseline === null ? 'none generated' : pct(x.paper.defendedToBaseline, 2)) : '–',
        ]),
        'num',
      ),
  );

  const fim = section(
    'fim',
    'FIM statistics before and after temperature scaling',
    `<p>Medians over the first ${escapeHtml(r.plan.inspect.samples)} test samples (seed 0 of each model). Temperature T fitted by NLL on held-out test samples; "scaled" = the same statistics of softmax(z/T). If λmax(G_x) drops only before scaling, the defence mostly shrank the logits.</p>` +
      table(
        ['model', 'accuracy', 'T', 'tr G_s', 'λmax(G_x)', 'λmax(G_x) scaled', 'KL budget', 'KL budget scaled', 'normalised margin'],
        r.fim.map((f) => [
          escapeHtml(f.label),
          pct(f.accuracy, 1),
          num(f.temperature),
          num(f.traceGs),
          num(f.lambdaMaxGx),
          num(f.lambdaMaxGxScaled),
          num(f.klBudget),
          num(f.klBudgetScaled),
          num(f.normalizedMargin),
        ]),
        'num',
      ),
  );

  const sanity = section(
    'sanity',
    'Sanity checks for gradient masking',
    `<p>After Carlini et al. 2019, "On Evaluating Adversarial Robustness": on μ = ${escapeHtml(r.plan.muRoles.headline)} (seed 0) with μ = 0 as the reference, first ${escapeHtml(r.plan.sanity.samples)} test samples. A difference counts only when large and significant (exact sign test on the samples where two attacks disagree, p &lt; 0.05). <b>A failed check flags possible gradient masking.</b></p>` +
      table(
        ['check', 'status', 'outcome', 'evidence'],
        r.sanity.map((s) => [
          `<b>${escapeHtml(s.title)}</b><br><small>${escapeHtml(s.question)}</small>`,
          badge(s.status),
          escapeHtml(s.summary),
          s.evidence.length
            ? table(
                ['model', 'attack', 'ε', 'fooled', 'ratio [95% CI]'],
                s.evidence.map((e) => [
                  escapeHtml(e.model),
                  escapeHtml(e.what),
                  e.budget === null ? '–' : escapeHtml(e.budget),
                  `${escapeHtml(e.fooled)}/${escapeHtml(e.n)}`,
                  `${pct(e.ratio)} <small>${ci(e.ci)}</small>`,
                ]),
                'ev',
              )
            : `<div class="ev">${
                s.values
                  ? escapeHtml(
                      Object.entries(s.values)
                        .map(([k, v]) => `${k} ${num(v)}`)
                        .join(', '),
                    )
                  : ''
              }</div>`,
        ]),
        'sanity',
      ) +
      (r.sanity.length === 0 ? '<p class="missing">The sanity checks have not run yet.</p>' : ''),
  );

  const aaCell = (c: AutoAttackCell | null) =>
    c
      ? `<b>${pct(c.robustAccuracy)}</b> <small>${ci(c.ci)}</small><br><small>${escapeHtml(c.robust)}/${escapeHtml(c.samples)}; after ${c.after.map((a) => `${escapeHtml(a.attack)} ${pct(a.robustAccuracy)}`).join(' → ')}</small>`
      : '–';
  const pgdCell = (c: AutoAttackCell | null) => (c?.pgd40 ? `${pct(c.pgd40.robustAccuracy)} <small>${ci(c.pgd40.ci)}</small>` : '–');
  const aa = r.plan.autoattack;
  const autoattack = section(
    'autoattack',
    'AutoAttack — robust accuracy at the standard MNIST budgets',
    aa
      ? `<p>AutoAttack (Croce &amp; Hein 2020), standard version: APGD-CE → APGD-T → FAB-T → Square, each on the samples still robust, with the reference implementation's settings; robust accuracy over the first ${escapeHtml(aa.samples)} test samples (clean errors count as not robust), 95% Wilson CI. PGD-40 (40 steps of ε/30, random start, cross-entropy) on the same samples beside it: where AutoAttack is lower, PGD-40 overstated the robustness.</p>` +
          table(
            [
              'budget',
              `AutoAttack μ = 0`,
              'PGD-40 μ = 0',
              `AutoAttack μ = ${escapeHtml(r.plan.muRoles.headline)}`,
              `PGD-40 μ = ${escapeHtml(r.plan.muRoles.headline)}`,
            ],
            (r.autoattack ?? []).map((x) => [
              `${x.norm === 'linf' ? 'l∞' : 'l2'} ε = ${escapeHtml(x.epsilon)}`,
              aaCell(x.baseline),
              pgdCell(x.baseline),
              aaCell(x.defended),
              pgdCell(x.defended),
            ]),
            'num',
          ) +
          chart(charts.curves, 'robustness curve')
      : '<p class="missing">This reproduction was planned before AutoAttack was part of it; run it again to add the AutoAttack stages.</p>',
  );

  const timing = section(
    'timing',
    'Stages and wall time',
    `<p>Wall time per stage on this machine (summed over resumed attempts). Sessions: ${r.sessions.map((s) => `${escapeHtml(s.startedAt)} (${escapeHtml(s.stagesRun)} stages, backend ${escapeHtml(s.backend)}, load ${s.loadStart[0]?.toFixed(1) ?? '–'}→${s.loadEnd[0]?.toFixed(1) ?? '–'})`).join('; ')}.</p>` +
      table(
        ['stage', 'status', 'wall time', 'note'],
        r.stages.map((s) => [
          escapeHtml(s.key),
          badge(s.status),
          s.wallSeconds ? duration(s.wallSeconds) : '–',
          escapeHtml(s.message ?? ''),
        ]),
        'num',
      ),
  );

  const json = JSON.stringify(r).replace(/</g, '\\u003c');
  const data = section(
    'data',
    'Raw data',
    `<p>Every number above is in <code>report.json</code> next to this file (the same object is embedded below); per-run evaluations with their provenance (checkpoint hash, sample indices, options) are under <code>runs/&lt;run&gt;/evals/</code>.</p><details><summary>plan</summary><pre>${escapeHtml(JSON.stringify(r.plan, null, 2))}</pre></details><script type="application/json" id="fim-reproduce-report">${json}</script>`,
  );

  // The defence comparison (--defences) follows the findings; --only-defences leaves out the paper's sections.
  const defences = r.defences ? defencesSection(r.plan, r.defences) : '';
  const parts: [string, string][] = [
    ['summary', summary],
    ['findings', findings],
    ['defences', defences],
    ['cuts', cuts],
    ['fig2', fig2],
    ['fig3', fig3],
    ['fig5', fig5],
    ['table1', t1],
    ['table2', t2],
    ['fim', fim],
    ['sanity', sanity],
    ['autoattack', autoattack],
    ['timing', timing],
    ['data', data],
  ];
  const paperOnly = new Set(['findings', 'fig2', 'fig3', 'fig5', 'table1', 'table2', 'fim', 'sanity', 'autoattack']);
  const shown = parts.filter(([id, html]) => html && !(r.plan.paper === false && paperOnly.has(id)));
  const nav = `<nav>${shown.map(([s]) => `<a href="#${s}">${s}</a>`).join('')}</nav>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>FIM Inspector — reproduction of the paper's MNIST results (${escapeHtml(r.plan.mode)})</title>
<style>${CSS}</style></head>
<body><h1>Reproduction: Fisher-information eigenvalue defence on MNIST (${escapeHtml(r.plan.mode)})</h1>
${nav}
${shown.map(([, html]) => html).join('')}
</body></html>
`;
}
