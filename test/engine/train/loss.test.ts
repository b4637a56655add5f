import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { defendedLoss, traceGsFromLogits } from '../../../src/engine/train/loss';
import { outputStats } from '../../../src/engine/fim/outputStats';
import { useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/** Σ 1/p_i and CE computed by hand in float64. */
function byHand(z: number[], label: number, mu: number) {
  const e = z.map(Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / s);
  const trace = p.reduce((a, v) => a + 1 / v, 0);
  const ce = -Math.log(p[label]!);
  return { trace, ce, loss: ce + mu * trace, lambdaMax: 1 / Math.min(...p) };
}

test('tr G_s and λmax(G_s) from logits match hand computation', () => {
  const z = [2, -1, 0.5];
  const h = byHand(z, 0, 0);
  // Uniform p = 1/K gives the minimum trace K².
  const uniform = outputStats([0, 0, 0, 0], 4);
  assert.ok(Math.abs(uniform.traceGs[0]! - 16) < 1e-12);
  assert.ok(Math.abs(uniform.lambdaMaxGs[0]! - 4) < 1e-12);
  const s = outputStats(z, 3);
  assert.ok(Math.abs(s.traceGs[0]! - h.trace) / h.trace < 1e-12);
  assert.ok(Math.abs(s.lambdaMaxGs[0]! - h.lambdaMax) / h.lambdaMax < 1e-12);
  const t = traceGsFromLogits(tf.tensor2d([z])).dataSync()[0]!;
  assert.ok(Math.abs(t - h.trace) / h.trace < 1e-6, `${t} vs ${h.trace}`);
});

test('float64 statistics stay finite where 1/softmax overflows float32', () => {
  const s = outputStats([100, 0, 0], 3);
  assert.ok(Number.isFinite(s.traceGs[0]!) && s.traceGs[0]! > 1e43);
  assert.ok(Math.abs(Math.log(s.lambdaMaxGs[0]!) - 100) < 1e-9);
});

test('defended loss matches hand-computed values', () => {
  const z = [
    [1.5, -0.3, 0.2, 0.0],
    [0.1, 0.1, 2.0, -1.0],
  ];
  const y = [0, 2];
  const mu = 0.05;
  const { loss, ce } = defendedLoss(tf.tensor2d(z), tf.tensor1d(y, 'int32'), { mu });
  const h = z.map((r, i) => byHand(r, y[i]!, mu));
  const expLoss = (h[0]!.loss + h[1]!.loss) / 2;
  const expCe = (h[0]!.ce + h[1]!.ce) / 2;
  assert.ok(Math.abs(loss.dataSync()[0]! - expLoss) < 1e-5);
  assert.ok(Math.abs(ce.dataSync()[0]! - expCe) < 1e-6);
});

test('μ = 0 is exactly plain cross-entropy', () => {
  const z = tf.tensor2d([
    [3, 1, -2],
    [0, 5, 1],
  ]);
  const y = tf.tensor1d([1, 1], 'int32');
  const a = defendedLoss(z, y, { mu: 0 }).loss.dataSync()[0]!;
  const plain = tf.losses.softmaxCrossEntropy(tf.oneHot(y, 3), z).dataSync()[0]!;
  assert.equal(Math.fround(a), Math.fround(plain));
  const b = defendedLoss(z, y, { mu: 0 });
  assert.equal(b.loss.dataSync()[0], b.ce.dataSync()[0]);
});

test('label smoothing uses targets y(1−α)+α/K', () => {
  const z = [0.3, -0.2, 1.1];
  const a = 0.1;
  const { ce } = defendedLoss(tf.tensor2d([z]), tf.tensor1d([2], 'int32'), { mu: 0, labelSmoothing: a });
  const lse = Math.log(z.map(Math.exp).reduce((s, v) => s + v, 0));
  const t = [a / 3, a / 3, 1 - a + a / 3];
  const expected = -t.reduce((s, ti, i) => s + ti * (z[i]! - lse), 0);
  assert.ok(Math.abs(ce.dataSync()[0]! - expected) < 1e-6);
});

test('gradient of the defended loss w.r.t. logits matches central finite differences', () => {
  const z0 = [0.7, -1.2, 0.3, 2.1, -0.4];
  const label = 3;
  const mu = 0.022;
  const g = tf
    .grad((z: tf.Tensor) => defendedLoss(z as tf.Tensor2D, tf.tensor1d([label], 'int32'), { mu }).loss)(tf.tensor2d([z0]))
    .dataSync();
  const h = 1e-5;
  for (let i = 0; i < z0.length; i++) {
    const zp = [...z0];
    const zm = [...z0];
    zp[i]! += h;
    zm[i]! -= h;
    const fd = (byHand(zp, label, mu).loss - byHand(zm, label, mu).loss) / (2 * h);
    assert.ok(Math.abs(g[i]! - fd) < 2e-4 * Math.max(1, Math.abs(fd)), `d/dz${i}: ${g[i]} vs ${fd}`);
  }
});

test('per-sample optimum of CE + μ·Σ 1/p_i puts p_true ≈ 0.30 at μ = 0.022 (tr G_s ≈ 119)', () => {
  // With the nine other classes equal, the loss depends on the margin m = z_true − z_other only.
  const mu = 0.022;
  const lossAt = (m: number) => byHand([m, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, mu);
  let best = 0;
  let bestLoss = Infinity;
  for (let m = 0; m < 10; m += 1e-4) {
    const l = lossAt(m).loss;
    if (l < bestLoss) {
      bestLoss = l;
      best = m;
    }
  }
  const pTrue = Math.exp(best) / (Math.exp(best) + 9);
  assert.ok(Math.abs(pTrue - 0.3) < 0.02, `p_true = ${pTrue}`);
  assert.ok(Math.abs(lossAt(best).trace - 119) < 3, `trace = ${lossAt(best).trace}`);
});
