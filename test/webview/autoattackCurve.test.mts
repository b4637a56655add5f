/** The AutoAttack panel's curve rows: the chosen evaluation's curve plus the other runs' of the same norm only. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { curveRows, normLabel } from '../../webview/autoattack/curve.js';
import type { AutoAttackData } from '../../src/protocol/webview.js';

const run = (name: string, mu: number | null) => ({
  id: name,
  dir: `/s/${name}`,
  name,
  mu,
  state: 'completed' as const,
  model: 'convnet',
  dataset: 'mnist',
});
const curve = (norm: 'linf' | 'l2', acc: number[]) => ({
  norm,
  samples: 10,
  correct: 9,
  sources: ['x'],
  wallSeconds: 1,
  points: acc.map((a, i) => ({ epsilon: i / 10, robustAccuracy: a, robustAccuracyCi: [a - 0.1, a + 0.1] as [number, number] })),
});

describe('AutoAttack panel curve rows', () => {
  const d = {
    run: run('def', 0.022),
    evals: [
      { evalName: 'aa-linf', eval: { norm: 'linf', curve: curve('linf', [0.9, 0.5, 0.1]) } },
      { evalName: 'aa-nocurve', eval: { norm: 'linf' } },
    ],
    selected: 'aa-linf',
    overlays: [
      { run: run('base', 0), evalName: 'b-linf', epsilon: 0.3, curve: curve('linf', [0.95, 0.2]) },
      { run: run('base', 0), evalName: 'b-l2', epsilon: 2, curve: curve('l2', [0.9]) },
    ],
    assetsBase: 'x',
  } as unknown as AutoAttackData;

  it('labels each series by run and evaluation, and overlays only curves of the same norm', () => {
    const rows = curveRows(d, 'aa-linf');
    assert.deepEqual([...new Set(rows.map((r) => r.series))], ['def (defended μ=0.022) · aa-linf', 'base (baseline) · b-linf']);
    assert.equal(rows.length, 5);
    assert.deepEqual(rows[1], { series: 'def (defended μ=0.022) · aa-linf', epsilon: 0.1, robustAccuracy: 0.5, ciLow: 0.4, ciHigh: 0.6 });
  });

  it('has no rows for an evaluation without a curve or an unknown one', () => {
    assert.deepEqual(curveRows(d, 'aa-nocurve'), []);
    assert.deepEqual(curveRows(d, 'nosuch'), []);
    assert.equal(normLabel('linf'), 'l∞');
    assert.equal(normLabel('l2'), 'l2');
  });
});
