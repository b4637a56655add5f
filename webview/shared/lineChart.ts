/**
 * Line charts of measured values against the step (training curves): straight segments between
 * the measured points, each point drawn. A smoothing interpolation would invent values between
 * the measurements (a curve through noisy points overshoots them), so the charts never use one.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { LegendSeries } from './legend.js';

export interface StepPoint {
  step: number;
  epoch: number;
  series: string;
  value: number;
}

export interface StepChartOptions {
  yTitle: string;
  log?: boolean;
  percent?: boolean;
  totalSteps?: number | null;
  /** Series in legend order, with their colours (and dashes). */
  series: LegendSeries[];
  hidden?: ReadonlySet<string>;
  height?: number;
  /** Title of the x axis (`step` by default; the comparison of runs uses epochs). */
  xTitle?: string;
}

/** The interpolation of every line the panels draw: straight between measured points. */
export const LINE_INTERPOLATION = 'linear';

export function stepChartSpec(points: StepPoint[], o: StepChartOptions): TopLevelSpec {
  const shown = o.series.filter((s) => !o.hidden?.has(s.name));
  const values = points.filter((p) => !o.hidden?.has(p.series) && Number.isFinite(p.value) && (!o.log || p.value > 0));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: o.height ?? 180,
    data: { values },
    mark: { type: 'line', interpolate: LINE_INTERPOLATION, point: { filled: true, size: values.length > 400 ? 8 : 18 }, strokeWidth: 1.5 },
    encoding: {
      x: {
        field: 'step',
        type: 'quantitative',
        title: o.xTitle ?? 'step',
        ...(o.totalSteps ? { scale: { domain: [0, o.totalSteps] } } : {}),
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: o.yTitle,
        scale: o.log ? { type: 'log' } : { zero: false },
        axis: o.percent ? { format: '.0%' } : o.log ? { format: '~s', tickCount: 5 } : { format: '.3~g' },
      },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: shown.map((s) => s.name), range: shown.map((s) => s.color) },
        legend: null,
      },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        scale: { domain: shown.map((s) => s.name), range: shown.map((s) => (s.dashed ? [5, 3] : [1, 0])) },
        legend: null,
      },
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'step', type: 'quantitative', title: o.xTitle ?? 'step', format: '.4~g' },
        { field: 'epoch', type: 'quantitative' },
        { field: 'value', type: 'quantitative', format: o.percent ? '.2%' : '.4~g' },
      ],
    },
  };
}
