import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import type { ReproduceReport, SweepSeries } from '../../runs/reproduce';

/**
 * The report's charts as Vega-Lite specs, rendered to static SVG in Node (no browser, no
 * scripts in the page). vega and vega-lite are ES modules, loaded on first use (esbuild bundles
 * them into the CLI). Our numbers are solid marks with 95% intervals; the paper's published
 * values are hollow black marks labelled "paper".
 */
const WIDTH = 520;
const HEIGHT = 260;
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';

const config = {
  font: FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 260, titleLimit: 260, symbolOpacity: 1, symbolStrokeWidth: 2 },
  title: { fontSize: 13, anchor: 'start' as const, subtitleFontSize: 11, subtitleColor: '#555' },
  view: { stroke: '#ccc' },
};

// ES-module-only packages seen from CommonJS: an import type with resolution-mode is the only way
// to name their types here, and typescript-eslint's parser cannot resolve it (tsc can).
/* eslint-disable @typescript-eslint/consistent-type-imports, @typescript-eslint/no-unsafe-assignment */
type VegaLite = typeof import('vega-lite', { with: { 'resolution-mode': 'import' } });
type Vega = typeof import('vega', { with: { 'resolution-mode': 'import' } });
/* eslint-enable @typescript-eslint/consistent-type-imports, @typescript-eslint/no-unsafe-assignment */

/**
 * vega and vega-lite are loaded at run time, not bundled into the CLI: vega-canvas uses a
 * top-level await that esbuild cannot put into the CommonJS bundle. The build puts both into one
 * ES-module bundle beside the CLI's (dist/vega.mjs, which the VSIX ships instead of their ~80
 * packages); from the TypeScript sources they come from node_modules. A computed specifier keeps
 * esbuild from following the import; Node's import() loads the ES modules from CommonJS.
 */
async function loadVega(): Promise<{ vl: VegaLite; vega: Vega }> {
  const load = (name: string) => import(name);
  const bundle = path.join(__dirname, 'vega.mjs');
  if (!__filename.endsWith('.ts') && fs.existsSync(bundle)) return (await load(pathToFileURL(bundle).href)) as { vl: VegaLite; vega: Vega };
  const [vl, vega] = await Promise.all([load('vega-lite') as Promise<VegaLite>, load('vega') as Promise<Vega>]);
  return { vl, vega };
}

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vl, vega } = await loadVega();
  const compiled = vl.compile({ ...spec, config: { ...config, ...(spec.config ?? {}) } }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const pctAxis = { format: '.0%' };

/** Fig. 2: test accuracy against μ, one dot per seed, the seed mean with its range, the paper's values. */
export function fig2Spec(r: ReproduceReport): TopLevelSpec | null {
  const fim = r.accuracy.filter((a) => a.role === 'fim');
  const seeds = fim.flatMap((a) =>
    a.seeds.filter((s) => s.accuracy !== null).map((s) => ({ mu: a.mu, accuracy: s.accuracy, seed: `seed ${s.seed}` })),
  );
  if (seeds.length === 0) return null;
  const means = fim
    .filter((a) => a.mean !== null)
    .map((a) => ({
      mu: a.mu,
      mean: a.mean,
      lo: a.seeds.length > 1 ? a.min : a.pooledCi![0],
      hi: a.seeds.length > 1 ? a.max : a.pooledCi![1],
    }));
  const others = r.accuracy
    .filter((a) => a.role !== 'fim' && a.mean !== null)
    .map((a) => ({ label: `${a.label}: ${(100 * a.mean!).toFixed(2)}%`, accuracy: a.mean }));
  const p = r.paper.fig2;
  const paper = [
    { mu: 0, accuracy: p.baselineAccuracy, what: 'paper: baseline ~99%' },
    { mu: p.defendedMu, accuracy: p.defendedAccuracy, what: `paper: ${(100 * p.defendedAccuracy).toFixed(1)}% at μ = ${p.defendedMu}` },
  ];
  const all = [
    ...seeds.map((s) => s.accuracy!),
    ...means.map((m) => m.lo!),
    ...paper.map((x) => x.accuracy),
    ...others.map((o) => o.accuracy!),
  ];
  const lo = Math.max(0, Math.floor(Math.min(...all) * 200) / 200 - 0.005);
  const y = { type: 'quantitative' as const, title: 'test accuracy', scale: { domain: [lo, 1] }, axis: { format: '.1%' } };
  const xMax = Math.max(p.defendedMu, ...fim.map((a) => a.mu)) * 1.05;
  const x = {
    field: 'mu',
    type: 'quantitative' as const,
    title: 'μ (weight of the trace term)',
    scale: { domain: [0, xMax], nice: false },
  };
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: HEIGHT,
    title: {
      text: 'Fig. 2 — accuracy vs μ',
      subtitle: `${r.plan.testSamples} MNIST test samples; line: seed mean, bars: range over seeds (one seed: 95% Wilson CI)`,
    },
    layer: [
      { data: { values: means }, mark: { type: 'rule', color: '#1f77b4' }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' } } },
      {
        data: { values: means },
        mark: { type: 'line', color: '#1f77b4', point: { filled: true, size: 50 } },
        encoding: { x, y: { ...y, field: 'mean' } },
      },
      {
        data: { values: seeds },
        mark: { type: 'point', color: '#1f77b4', opacity: 0.5, size: 25 },
        encoding: { x, y: { ...y, field: 'accuracy' } },
      },
      ...(others.length
        ? [
            {
              data: { values: others },
              mark: { type: 'rule' as const, strokeDash: [2, 2] },
              encoding: {
                y: { ...y, field: 'accuracy' },
                color: {
                  field: 'label',
                  type: 'nominal' as const,
                  title: 'comparison models',
                  scale: { range: ['#2ca02c', '#d62728', '#9467bd'] },
                },
              },
            },
          ]
        : []),
      {
        data: { values: paper },
        mark: { type: 'point', filled: false, color: 'black', size: 90, strokeWidth: 2 },
        encoding: {
          x,
          y: { ...y, field: 'accuracy' },
          shape: { field: 'what', type: 'nominal', title: 'published', scale: { range: ['diamond', 'triangle-up'] } },
        },
      },
    ],
    resolve: { scale: { color: 'independent', shape: 'independent' } },
  };
}

function sweepValues(series: SweepSeries[]) {
  return series.flatMap((s) =>
    s.points.map((p) => ({
      model: s.label,
      epsilon: p.epsilon,
      ratio: p.ratio,
      lo: p.ci[0],
      hi: p.ci[1],
      n: p.correct,
      attack: s.attack.toUpperCase(),
    })),
  );
}

function sweepLayers(values: ReturnType<typeof sweepValues>, order: string[]) {
  const color = { field: 'model', type: 'nominal' as const, title: 'model', sort: order };
  const x = { field: 'epsilon', type: 'quantitative' as const, title: 'ε = ‖η‖₂² (squared l2 norm, paper §3.1)' };
  const y = { type: 'quantitative' as const, title: 'fooling ratio', scale: { domain: [0, 1] }, axis: pctAxis };
  return [
    {
      data: { values },
      mark: { type: 'area' as const, opacity: 0.15 },
      encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color },
    },
    { data: { values }, mark: { type: 'line' as const, point: true }, encoding: { x, y: { ...y, field: 'ratio' }, color } },
  ];
}

/** Fig. 3: OSSA fooling ratio against ε for every model, with 95% Wilson bands. */
export function fig3Spec(r: ReproduceReport): TopLevelSpec | null {
  if (r.fig3.length === 0) return null;
  const values = sweepValues(r.fig3);
  const order = r.fig3.map((s) => s.label);
  const p = r.paper.fig3;
  const clip = r.plan.fig3.clip ? 'clipped to [0, 1]' : 'unclipped x + η, as in the paper';
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: HEIGHT,
    title: {
      text: 'Fig. 3 — OSSA fooling ratio vs ε',
      subtitle: [
        `ε is the SQUARED l2 norm ‖η‖₂² of the perturbation (paper §3.1); ${clip}`,
        `first ${r.plan.fig3.samples} test samples per seed, correctly classified ones; bands: 95% Wilson CI pooled over seeds`,
      ],
    },
    layer: [
      ...sweepLayers(values, order),
      {
        data: {
          values: [
            { epsilon: p.epsilon, ratio: p.foolingBelow, what: `paper: < ${100 * p.foolingBelow}% at μ = ${p.mu} (an upper bound)` },
          ],
        },
        mark: { type: 'point', filled: false, color: 'black', size: 120, strokeWidth: 2 },
        encoding: {
          x: { field: 'epsilon', type: 'quantitative' },
          y: { field: 'ratio', type: 'quantitative' },
          shape: { field: 'what', type: 'nominal', title: 'published', scale: { range: ['triangle-down'] } },
        },
      },
    ],
    resolve: { scale: { shape: 'independent' } },
  };
}

/** Fig. 5: FGM, OTCM and FGSM, one panel each, baseline vs defended (and comparison models). */
export function fig5Spec(r: ReproduceReport): TopLevelSpec | null {
  if (r.fig5.length === 0) return null;
  const p = r.paper.fig5;
  const panels = r.plan.fig5.attacks
    .map((a) => r.fig5.filter((s) => s.attack === a))
    .filter((s) => s.length > 0)
    .map((series) => ({
      width: 300,
      height: 210,
      title: {
        text: series[0]!.attack.toUpperCase(),
        subtitle: series[0]!.attack === 'fgm' ? 'l2 radius √ε' : 'sign step, l∞ = √ε/√N (l2 norm √ε before clipping)',
      },
      layer: [
        ...sweepLayers(
          sweepValues(series),
          series.map((s) => s.label),
        ),
        {
          data: {
            values: [
              { epsilon: p.epsilon, ratio: p.foolingAbove, what: `paper: > ${100 * p.foolingAbove}% at μ = ${p.mu} (a lower bound)` },
            ],
          },
          mark: { type: 'point' as const, filled: false, color: 'black', size: 120, strokeWidth: 2 },
          encoding: {
            x: { field: 'epsilon', type: 'quantitative' as const },
            y: { field: 'ratio', type: 'quantitative' as const },
            shape: { field: 'what', type: 'nominal' as const, title: 'published', scale: { range: ['triangle-up'] } },
          },
        },
      ],
    }));
  return {
    $schema: SCHEMA,
    title: {
      text: 'Fig. 5 — one-step attacks vs ε',
      subtitle: [
        `ε = squared l2 norm of the unclipped step (the axis of Fig. 3); inputs clipped to [0, 1]`,
        `first ${r.plan.fig5.samples} test samples per seed; bands: 95% Wilson CI`,
      ],
    },
    hconcat: panels,
    resolve: { scale: { color: 'shared', shape: 'shared' } },
  };
}

/** Table 1 as a chart: ratio defended/baseline of mean minimum distance, with bootstrap CIs and the paper's ratio. */
export function table1Spec(r: ReproduceReport): TopLevelSpec | null {
  const rows = r.table1.filter((x) => x.ratio !== null);
  if (rows.length === 0) return null;
  const values = rows.map((x) => ({
    attack: x.attack,
    ratio: x.ratio,
    lo: x.ratioCi?.[0] ?? x.ratio,
    hi: x.ratioCi?.[1] ?? x.ratio,
    paper: x.paper?.ratio ?? null,
  }));
  const x = { field: 'attack', type: 'nominal' as const, title: null, sort: rows.map((r0) => r0.attack) };
  const y = { type: 'quantitative' as const, title: `mean distance ratio μ = ${r.plan.muRoles.tables} / μ = 0` };
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: 220,
    title: {
      text: 'Table 1 — how much farther the nearest adversarial is on the defended model',
      subtitle: 'bars: ours with 95% bootstrap CI; black ticks: the paper; dashed: ratio 1 (no change)',
    },
    layer: [
      { data: { values }, mark: { type: 'bar', color: '#1f77b4', opacity: 0.8 }, encoding: { x, y: { ...y, field: 'ratio' } } },
      { data: { values }, mark: { type: 'rule', color: '#333' }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' } } },
      {
        data: { values: values.filter((v) => v.paper !== null) },
        mark: { type: 'tick', color: 'black', thickness: 3, size: 26 },
        encoding: { x, y: { ...y, field: 'paper' } },
      },
      {
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#888' },
        encoding: { y: { field: 'one', type: 'quantitative' } },
      },
    ],
  };
}

/** Robustness curves (AutoAttack section): robust accuracy vs ε per model, one panel per norm, with the evaluated budgets marked. */
export function curvesSpec(r: ReproduceReport): TopLevelSpec | null {
  const curves = r.curves ?? [];
  if (curves.length === 0) return null;
  const norms = [...new Set(curves.map((c) => c.norm))];
  const panels = norms.map((norm) => {
    const series = curves.filter((c) => c.norm === norm);
    const values = series.flatMap((c) =>
      c.points.map((p) => ({ model: c.label, epsilon: p.epsilon, acc: p.robustAccuracy, lo: p.ci[0], hi: p.ci[1] })),
    );
    const budgets = (r.plan.autoattack?.budgets ?? []).filter((b) => b.norm === norm).map((b) => ({ epsilon: b.epsilon }));
    const x = { field: 'epsilon', type: 'quantitative' as const, title: `ε (${norm === 'linf' ? 'l∞' : 'l2'} norm of the perturbation)` };
    const y = { type: 'quantitative' as const, title: 'robust accuracy', scale: { domain: [0, 1] }, axis: pctAxis };
    const color = { field: 'model', type: 'nominal' as const, title: 'model', sort: series.map((c) => c.label) };
    return {
      width: 300,
      height: 210,
      title: { text: norm === 'linf' ? 'l∞' : 'l2', subtitle: `first ${series[0]!.samples} test samples; dashed: the AutoAttack budgets` },
      layer: [
        {
          data: { values },
          mark: { type: 'area' as const, opacity: 0.15 },
          encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color },
        },
        {
          data: { values },
          mark: { type: 'line' as const, interpolate: 'step-after' as const },
          encoding: { x, y: { ...y, field: 'acc' }, color },
        },
        {
          data: { values: budgets },
          mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#888' },
          encoding: { x: { field: 'epsilon', type: 'quantitative' as const } },
        },
      ],
    };
  });
  return {
    $schema: SCHEMA,
    title: {
      text: 'Robustness curves — robust accuracy vs ε',
      subtitle: [
        'from per-sample minimum adversarial norms (FAB-T, the AutoAttack adversarials, an APGD-CE bisection); bands: 95% Wilson CI',
      ],
    },
    hconcat: panels,
    resolve: { scale: { color: 'shared' } },
  };
}

export interface Chart {
  id: string;
  svg: string | null;
  error?: string;
}

/** Every chart of the report; a chart that fails to render is reported, not fatal. */
export async function renderCharts(r: ReproduceReport): Promise<Record<string, Chart>> {
  const specs: [string, TopLevelSpec | null][] = [
    ['fig2', fig2Spec(r)],
    ['fig3', fig3Spec(r)],
    ['fig5', fig5Spec(r)],
    ['table1', table1Spec(r)],
    ['curves', curvesSpec(r)],
  ];
  const out: Record<string, Chart> = {};
  for (const [id, spec] of specs) {
    if (!spec) {
      out[id] = { id, svg: null };
      continue;
    }
    try {
      out[id] = { id, svg: await renderSvg(spec) };
    } catch (e) {
      out[id] = { id, svg: null, error: (e as Error).message };
    }
  }
  return out;
}
