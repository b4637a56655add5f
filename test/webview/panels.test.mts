/**
 * Logic of the new panels that needs no DOM: keyboard movement in lists and grids, the inspection
 * filter, the training charts' lines (straight between measured points, never smoothed), and the
 * report's styles moved into the panel's shadow root.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseFilter, type FilterSample } from '../../webview/inspect/filter.js';
import { LINE_INTERPOLATION, stepChartSpec } from '../../webview/shared/lineChart.js';
import { isActivation, nextIndex } from '../../webview/shared/roving.js';
import { scopeReportCss } from '../../webview/report/scope.js';

describe('keyboard movement (roving tabindex)', () => {
  it('moves by one in a list, by a row in a grid, and stops at the ends', () => {
    assert.equal(nextIndex('ArrowDown', 0, 5), 1);
    assert.equal(nextIndex('ArrowUp', 0, 5), 0);
    assert.equal(nextIndex('ArrowDown', 4, 5), 4);
    assert.equal(nextIndex('ArrowRight', 0, 5), null, 'a list has no columns');
    assert.equal(nextIndex('ArrowDown', 1, 10, { columns: 3 }), 4);
    assert.equal(nextIndex('ArrowRight', 1, 10, { columns: 3 }), 2);
    assert.equal(nextIndex('ArrowLeft', 0, 10, { columns: 3 }), 0);
    assert.equal(nextIndex('Home', 7, 10), 0);
    assert.equal(nextIndex('End', 2, 10), 9);
    assert.equal(nextIndex('PageDown', 2, 10_000, { page: 15 }), 17);
    assert.equal(nextIndex('PageUp', 5, 10_000, { page: 15 }), 0);
    assert.equal(nextIndex('ArrowDown', 0, 0), null, 'nothing to move in');
    assert.equal(nextIndex('a', 0, 3), null);
  });
  it('Enter and Space activate', () => {
    assert.equal(isActivation({ key: 'Enter' }), true);
    assert.equal(isActivation({ key: ' ' }), true);
    assert.equal(isActivation({ key: 'Tab' }), false);
  });
});

describe('the inspection filter', () => {
  const names = ['zero', 'one', 'two', 'three'];
  const name = (c: number) => names[c] ?? String(c);
  const samples: FilterSample[] = [
    { index: 0, label: 1, predicted: 1, traceGs: 100, lambdaMaxGx: 5, klBudget: 0.2, normalizedMargin: 1.5 },
    { index: 7, label: 2, predicted: 3, traceGs: 300, lambdaMaxGx: 50, klBudget: 0.06, normalizedMargin: -0.1 },
    { index: 120, label: 3, predicted: 3, traceGs: 120, lambdaMaxGx: 12, klBudget: 0.13, normalizedMargin: 0.8 },
  ];
  const run = (text: string) => {
    const f = parseFilter(text);
    assert.ok(f.ok, text);
    return samples.filter((s) => f.test(s, name)).map((s) => s.index);
  };
  it('keeps every sample for an empty filter', () => assert.deepEqual(run(''), [0, 7, 120]));
  it('finds misclassified samples, classes by name or index, indices and ranges', () => {
    assert.deepEqual(run('wrong'), [7]);
    assert.deepEqual(run('correct'), [0, 120]);
    assert.deepEqual(run('label:three'), [120]);
    assert.deepEqual(run('pred:3'), [7, 120]);
    assert.deepEqual(run('7'), [7]);
    assert.deepEqual(run('5-150'), [7, 120]);
    assert.deepEqual(run('thr'), [7, 120], 'a class name containing the text');
  });
  it('compares statistics and combines terms', () => {
    assert.deepEqual(run('λ>10'), [7, 120]);
    assert.deepEqual(run('gx>=12 correct'), [120]);
    assert.deepEqual(run('kl<0.1'), [7]);
    assert.deepEqual(run('margin<0'), [7]);
    assert.deepEqual(run('tr<=120 pred:one'), [0]);
  });
  it('says which term it cannot read', () => {
    const f = parseFilter('wrong foo>3');
    assert.equal(f.ok, false);
    assert.match(!f.ok ? f.error : '', /unknown statistic "foo"/);
  });
});

describe('training charts draw what was measured', () => {
  const series = [
    { name: 'train', color: '#f00' },
    { name: 'test', color: '#00f', dashed: true },
  ];
  const points = [
    { step: 1, epoch: 1, series: 'train', value: 2.3 },
    { step: 2, epoch: 1, series: 'train', value: 0.4 },
    { step: 3, epoch: 1, series: 'train', value: 0.9 },
    { step: 3, epoch: 1, series: 'test', value: 0.5 },
    { step: 4, epoch: 2, series: 'train', value: NaN },
  ];
  it('straight lines through every measured point, no smoothing', () => {
    const spec = stepChartSpec(points, { yTitle: 'loss', series }) as unknown as {
      mark: { interpolate: string; point: unknown };
      data: { values: unknown[] };
    };
    assert.equal(LINE_INTERPOLATION, 'linear');
    assert.equal(spec.mark.interpolate, 'linear');
    assert.ok(spec.mark.point, 'each measured point is drawn');
    assert.equal(spec.data.values.length, 4, 'a value that is not finite is left out, not drawn as 0');
  });
  it('hidden series leave the data and the colour scale; log axes drop values ≤ 0', () => {
    const spec = stepChartSpec([...points, { step: 5, epoch: 2, series: 'train', value: 0 }], {
      yTitle: 'tr G_s',
      series,
      log: true,
      hidden: new Set(['test']),
    }) as unknown as {
      data: { values: { series: string; value: number }[] };
      encoding: { color: { scale: { domain: string[]; range: string[] } }; strokeDash: { scale: { range: number[][] } } };
    };
    assert.deepEqual([...new Set(spec.data.values.map((v) => v.series))], ['train']);
    assert.ok(spec.data.values.every((v) => v.value > 0));
    assert.deepEqual(spec.encoding.color.scale, { domain: ['train'], range: ['#f00'] });
  });
});

describe('the report inside the panel', () => {
  it('its body styles apply to the wrapper in the shadow root; other rules stay', () => {
    const css = 'body{margin:0;color:#1b1b1b}h1{font-size:22px}tbody td{padding:1px} .x body.y{a:b}';
    assert.equal(scopeReportCss(css), '.report-body{margin:0;color:#1b1b1b}h1{font-size:22px}tbody td{padding:1px} .x .report-body.y{a:b}');
  });
});
