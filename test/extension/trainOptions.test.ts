import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNumberIn, parsePositive, worstCaseNorm } from '../../src/extension/inputs';
import { adversarialOf } from '../../src/extension/trainOptions';
import { defaultAtEpsilonFor, defaultAugmentationFor } from '../../src/protocol/trainDefaults';
import { adversarialFromFlags, augmentationFromFlag } from '../../src/cli/trainFlags';

const settings = {
  batchSize: 128,
  learningRate: 1e-3,
  seed: 0,
  limitTrain: 0,
  limitTest: 0,
  logEvery: 20,
  epochs: 2,
  labelSmoothing: 0,
  augmentation: 'auto' as const,
  adversarialTraining: false,
  atEpsilon: 0,
  atSteps: 10,
  atRatio: 1,
};
const none = { atEpsilon: 0, atSteps: 0, atStepSize: 0, atRatio: 0 };

describe('the training form offers the run fim train makes', () => {
  it('adversarial training "on" equals fim train --adversarial-training, per dataset', () => {
    for (const dataset of ['mnist', 'cifar10', 'gtsrb']) {
      assert.deepEqual(adversarialOf('default', dataset, settings, none), adversarialFromFlags({ adversarialTraining: true }, dataset));
    }
    assert.equal(adversarialOf('off', 'mnist', settings, none), undefined);
    assert.deepEqual(adversarialOf('custom', 'mnist', settings, { atEpsilon: 0.1, atSteps: 5, atStepSize: 0.05, atRatio: 0.5 }), {
      epsilon: 0.1,
      steps: 5,
      stepSize: 0.05,
      ratio: 0.5,
    });
    assert.deepEqual(adversarialOf('default', 'mnist', { ...settings, atEpsilon: 0.2, atSteps: 4, atRatio: 0.5 }, none), {
      epsilon: 0.2,
      steps: 4,
      stepSize: 0.125,
      ratio: 0.5,
    });
  });

  it('the dataset defaults are the CLI’s', () => {
    for (const d of ['mnist', 'cifar10', 'gtsrb', 'idx', 'folder'])
      assert.equal(defaultAugmentationFor(d), augmentationFromFlag(undefined, d));
    assert.equal(defaultAtEpsilonFor('mnist'), 0.3);
    assert.equal(defaultAtEpsilonFor('cifar10'), 8 / 255);
  });

  it('parses the form’s numbers', () => {
    assert.equal(parseNumberIn('0.1', 0, 1, false), 0.1);
    assert.equal(parseNumberIn('1', 0, 1, false), null, 'α < 1');
    assert.equal(parseNumberIn('1', 0, 1), 1);
    assert.equal(parseNumberIn('-0.1', 0, 1), null);
    assert.equal(parseNumberIn('', 0, 1), null);
    assert.equal(parsePositive('0'), null);
    assert.equal(parsePositive('0.3', 1), 0.3);
    assert.equal(parsePositive('2', 1), null);
  });

  it('a worst-case list needs one norm; OSSA joins l2 lists', () => {
    const attacks = [
      { name: 'pgd', title: '', norm: 'linf', kind: 'iterative', budgetUnit: '' },
      { name: 'square', title: '', norm: 'linf', kind: 'iterative', budgetUnit: '' },
      { name: 'pgd-l2', title: '', norm: 'l2', kind: 'iterative', budgetUnit: '' },
      { name: 'ossa', title: '', norm: 'l2', kind: 'one-step', budgetUnit: '' },
    ];
    assert.deepEqual(worstCaseNorm(['pgd', 'square'], attacks), { norm: 'linf' });
    assert.deepEqual(worstCaseNorm(['pgd-l2', 'ossa'], attacks), { norm: 'l2' });
    assert.match((worstCaseNorm(['pgd', 'ossa'], attacks) as { error: string }).error, /share a norm \(got linf, l2\)/);
  });
});
