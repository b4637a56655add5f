import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFENCE_KINDS, DEFENCES, defenceLabel, defenceProblem, resolveDefence } from '../../src/runs/defence';

test('every defence kind is declared once, with a default weight and options', () => {
  assert.deepEqual(
    DEFENCES.map((d) => d.kind),
    [...DEFENCE_KINDS],
  );
  for (const d of DEFENCES) {
    assert.ok(d.defaultWeight > 0 && d.title && d.weightMeaning.startsWith('weight '), d.kind);
    assert.deepEqual(Object.keys(d.optionMeanings).sort(), Object.keys(d.options).sort(), d.kind);
  }
});

test('resolveDefence: trace is μ; the others resolve every option, TRADES its step size by the PGD-AT rule', () => {
  assert.deepEqual(resolveDefence('trace', 0.01), { mu: 0.01 });
  assert.deepEqual(resolveDefence('spectral'), { mu: 0, defence: { kind: 'spectral', weight: 1, fdStep: 0.01, rows: 32 } });
  assert.deepEqual(resolveDefence('trades', 2, { epsilon: 0.2, steps: 4 }).defence, {
    kind: 'trades',
    weight: 2,
    epsilon: 0.2,
    steps: 4,
    stepSize: 0.125,
  });
  assert.equal((resolveDefence('trades', 2, { stepSize: 0.01 }).defence as { stepSize: number }).stepSize, 0.01);
  assert.throws(() => resolveDefence('spectral', 1, { probes: 2 }), /spectral has no option "probes" \(it takes fdStep, rows\)/);
  assert.throws(() => resolveDefence('trace-scaled', Number.NaN), /weight must be a finite number/);
  assert.throws(() => resolveDefence('trace-scaled', 1, { probes: 0 }), /probes must be a positive integer/);
  assert.throws(() => resolveDefence('spectral', 1, { rows: -1 }), /rows must be an integer ≥ 0/);
  assert.throws(() => resolveDefence('trades', 1, { epsilon: 1.5 }), /epsilon .* must be in \(0, 1\]/);
  assert.equal(defenceProblem({ kind: 'spectral', weight: 1, fdStep: 0, rows: 0 }), 'spectral: fdStep must be > 0, got 0');
});

test('defenceLabel names what a run was trained with', () => {
  assert.equal(defenceLabel({ mu: 0 }), 'baseline');
  assert.equal(defenceLabel({ mu: 0.022 }), 'trace μ=0.022');
  assert.equal(defenceLabel(resolveDefence('trades')), 'trades β=6');
  assert.equal(defenceLabel(resolveDefence('trace-scaled', 0.3)), 'trace-scaled w=0.3');
  assert.equal(defenceLabel({ mu: 0, adversarialTraining: { epsilon: 0.1, steps: 10, stepSize: 0.025, ratio: 1 } }), 'PGD-AT ε=0.1');
  assert.equal(defenceLabel({ mu: 0.01, labelSmoothing: 0.1 }), 'trace μ=0.01 + LSR α=0.1');
});
