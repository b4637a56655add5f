import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import { adversarialBatch, adversarialRows, pgdExamples } from '../../../src/engine/train/adversarial';
import { defendedLoss } from '../../../src/engine/train/loss';
import { makeBatchTransform } from '../../../src/engine/train/transforms';
import type { AdversarialTrainingConfig, RunConfig } from '../../../src/runs/types';
import { useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/**
 * Tsipras et al.'s toy problem on 8×8 images: 4 "robust" pixels at 0.5 ± 0.3 that agree with the
 * label 85% of the time, 60 "weak" pixels at 0.5 ± 0.06 + noise that agree on average. A standard
 * classifier leans on the weak pixels, which an l∞ perturbation of 0.1 reverses; a robust one must
 * use the robust pixels.
 */
function toy(n: number, seed: string): { x: Float32Array; y: Int32Array } {
  const rng = seedrandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const s = 2 * y[i]! - 1;
    const agree = rng() < 0.85 ? 1 : -1;
    for (let p = 0; p < 64; p++) {
      const v = p < 4 ? 0.5 + 0.3 * s * agree + 0.05 * gauss() : 0.5 + 0.06 * s + 0.1 * gauss();
      x[i * 64 + p] = Math.min(1, Math.max(0, v));
    }
  }
  return { x, y };
}

function linearModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [8, 8, 1] }), tfl.layers.dense({ units: 2, kernelInitializer: 'zeros' })],
  });
}

function config(at?: AdversarialTrainingConfig): RunConfig {
  return {
    formatVersion: 1,
    name: 't',
    model: 'm',
    dataset: 'toy',
    mu: 0,
    labelSmoothing: 0,
    epochs: 1,
    batchSize: 64,
    learningRate: 0.05,
    seed: 1,
    trainSamples: 256,
    testSamples: 200,
    augmentation: 'none',
    backendRequested: 'auto',
    createdAt: '',
    ...(at ? { adversarialTraining: at } : {}),
  };
}

function accuracy(model: tfl.LayersModel, x: Float32Array, y: Int32Array): number {
  const pred = tf.tidy(() => Array.from(tf.argMax(model.predict(tf.tensor4d(x, [y.length, 8, 8, 1])) as tf.Tensor, 1).dataSync()));
  return pred.filter((p, i) => p === y[i]).length / y.length;
}

const EPS = 0.1;

test('PGD adversarial training raises robust accuracy on a toy problem (same data, same steps, same start)', () => {
  const train = toy(256, 'train');
  const testSet = toy(200, 'test');
  const results: Record<string, { clean: number; robust: number }> = {};
  for (const [name, at] of [
    ['standard', undefined],
    ['pgd-at', { epsilon: EPS, steps: 5, stepSize: 0.05, ratio: 1 }],
  ] as const) {
    const model = linearModel();
    const transform = makeBatchTransform(config(at), model);
    assert.equal(transform === null, at === undefined);
    const opt = tf.train.adam(0.05);
    for (let step = 0; step < 20; step++) {
      const b = step % 4;
      tf.tidy(() => {
        let x = tf.tensor4d(train.x.slice(b * 64 * 64, (b + 1) * 64 * 64), [64, 8, 8, 1]);
        const y = tf.tensor1d(train.y.slice(b * 64, (b + 1) * 64), 'int32');
        if (transform) x = transform(x, y, { epoch: 0, step, seed: 1 });
        opt.minimize(() => defendedLoss(model.apply(x, { training: true }) as tf.Tensor2D, y, { mu: 0 }).loss);
      });
    }
    // Robust accuracy: accuracy under a stronger PGD (20 steps) at the same radius.
    const adv = pgdExamples(model, testSet.x, [8, 8, 1], testSet.y, { epsilon: EPS, steps: 20, stepSize: 0.02, ratio: 1 }, 'eval');
    results[name] = { clean: accuracy(model, testSet.x, testSet.y), robust: accuracy(model, adv, testSet.y) };
    model.dispose();
  }
  const msg = JSON.stringify(results);
  assert.ok(results['pgd-at']!.robust >= results.standard!.robust + 0.2, `PGD-AT must be much more robust: ${msg}`);
  assert.ok(results['pgd-at']!.clean >= 0.75, `and still classify clean inputs: ${msg}`);
});

test('the adversarial batch stays in the ε-ball and [0, 1], raises the loss, and replaces only `ratio` of the batch', () => {
  const data = toy(32, 'b');
  const model = linearModel();
  model.setWeights([
    tf.tensor2d(
      Array.from({ length: 128 }, (_, i) => (i % 2 ? 0.3 : -0.3) * (i < 8 ? 3 : 1)),
      [64, 2],
    ),
    tf.zeros([2]),
  ]);
  const x = tf.tensor4d(data.x, [32, 8, 8, 1]);
  const y = tf.tensor1d(data.y, 'int32');
  const loss = (t: tf.Tensor4D) => tf.tidy(() => defendedLoss(model.apply(t) as tf.Tensor2D, y, { mu: 0 }).ce.dataSync()[0]!);
  const full = adversarialBatch(model, x, y, { epsilon: EPS, steps: 5, stepSize: 0.05, ratio: 1 }, 3, 7);
  const a = full.dataSync();
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - data.x[i]!) <= EPS + 1e-6 && a[i]! >= 0 && a[i]! <= 1, `pixel ${i}`);
  }
  assert.ok(loss(full) > loss(x) + 0.1, `PGD raises the loss: ${loss(x)} → ${loss(full)}`);
  const again = adversarialBatch(model, x, y, { epsilon: EPS, steps: 5, stepSize: 0.05, ratio: 1 }, 3, 7);
  assert.deepEqual(Array.from(again.dataSync()), Array.from(a), 'the same (seed, step) gives the same examples: resume replays them');

  const rows = adversarialRows(32, 0.5, 3, 7);
  assert.equal(rows.length, 16);
  assert.deepEqual(Array.from(adversarialRows(32, 0.5, 3, 7)), Array.from(rows));
  const half = adversarialBatch(model, x, y, { epsilon: EPS, steps: 5, stepSize: 0.05, ratio: 0.5 }, 3, 7).dataSync();
  const replaced = new Set(rows);
  for (let s = 0; s < 32; s++) {
    const same = half.subarray(s * 64, (s + 1) * 64).every((v, k) => v === data.x[s * 64 + k]);
    assert.equal(same, !replaced.has(s), `sample ${s} ${replaced.has(s) ? 'is' : 'is not'} replaced`);
  }
  tf.dispose([x, y, full, again]);
  model.dispose();
});

test('invalid adversarial-training settings in a run config are rejected', () => {
  const m = linearModel();
  assert.throws(
    () => makeBatchTransform(config({ epsilon: 0, steps: 5, stepSize: 0.01, ratio: 1 }), m),
    /ε \(l∞ radius in pixel units\) must be in \(0, 1\]/,
  );
  assert.throws(
    () => makeBatchTransform(config({ epsilon: 0.1, steps: 0, stepSize: 0.01, ratio: 1 }), m),
    /steps must be a positive integer/,
  );
  assert.throws(() => makeBatchTransform(config({ epsilon: 0.1, steps: 3, stepSize: 0.01, ratio: 1.5 }), m), /ratio must be in \(0, 1\]/);
  m.dispose();
});
