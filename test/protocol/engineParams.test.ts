/** The train request's schema keeps a defence (valibot's object schemas drop unknown fields) and names a bad one. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validateParams } from '../../src/protocol/engineParams';
import type { TrainParams } from '../../src/protocol/engine';
import type { DefenceConfig } from '../../src/runs/types';
import { resolveDefence } from '../../src/runs/defence';

const base: TrainParams = {
  jobId: 'j1',
  model: 'convnet',
  dataset: 'mnist',
  mu: 0,
  epochs: 1,
  batchSize: 128,
  learningRate: 0.001,
  seed: 0,
  storeDir: '/tmp/store',
};

describe('fim/train params with a defence', () => {
  for (const kind of ['spectral', 'trades', 'trace-scaled'] as const) {
    it(`keep ${kind} with every option, as the front ends resolve it`, () => {
      const { defence } = resolveDefence(kind);
      assert.ok(defence);
      const r = validateParams('fim/train', { ...base, defence });
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.deepEqual(r.value.defence, defence);
    });
  }

  it('refuse a defence with a bad or missing option, naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ kind: 'trades', weight: 6, epsilon: 0.1, steps: 0, stepSize: 0.025 }, /defence\.steps: must be ≥ 1/],
      [{ kind: 'spectral', weight: -1, fdStep: 0.01, rows: 32 }, /defence\.weight: must be ≥ 0/],
      [{ kind: 'trace-scaled', weight: 0.1, scale: 1, fdStep: 0.01 }, /defence\.probes: is required/],
      [{ kind: 'pgd', weight: 1 }, /defence\.kind/],
    ];
    for (const [defence, re] of bad) {
      const r = validateParams('fim/train', { ...base, defence: defence as DefenceConfig });
      assert.equal(r.ok, false, JSON.stringify(defence));
      if (!r.ok) assert.match(r.message, re);
    }
  });
});
