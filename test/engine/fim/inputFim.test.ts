import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { symmetricEigen } from '../../../src/engine/fim/eigen';
import { inputFimTopEigen, klBudget } from '../../../src/engine/fim/inputFim';
import { logitJacobian } from '../../../src/engine/fim/jacobian';
import { powerIterationTopEigen } from '../../../src/engine/fim/powerIteration';
import { marginStats, sampleFimStats } from '../../../src/engine/fim/sampleStats';
import { useEngineBackend } from '../../helpers';
import { explicitGx, klDivergence, referenceOf, tieFreeInputs, tinyConvNet } from './reference';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 64;
const B = 4;

before(async () => {
  await useEngineBackend();
});

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

test('the float64 reference reproduces the tfjs model (so finite differences check the same function)', () => {
  const model = tinyConvNet(11);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(B, N, 5);
  const z = tf.tidy(() => (model.apply(tf.tensor4d(xs, [B, ...SHAPE]), { training: false }) as tf.Tensor).dataSync());
  for (let s = 0; s < B; s++) {
    const r = ref.logits(xs.subarray(s * N, (s + 1) * N));
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(r[i]! - z[s * 5 + i]!) < 1e-5, `logit ${i}: ${r[i]} vs ${z[s * 5 + i]}`);
  }
});

for (const [seed, fused] of [
  [11, true],
  [23, true],
  [37, true],
  [11, false],
] as const) {
  const kind = fused ? 'fused blocks, one-forward Jacobian' : 'layers one by one, tiled batch';
  test(`exact λmax(G_x) and eigenvector equal the explicit N×N Jᵀdiag(1/p)J by finite differences (seed ${seed}, ${kind})`, () => {
    const model = tinyConvNet(seed, 5, SHAPE, { fused });
    const ref = referenceOf(model);
    const xs = tieFreeInputs(B, N, seed);
    const x = tf.tensor4d(xs, [B, ...SHAPE]);
    const fim = inputFimTopEigen(model, x);
    for (let s = 0; s < B; s++) {
      const xi = xs.subarray(s * N, (s + 1) * N);
      const g = explicitGx(ref, xi);
      const e = symmetricEigen(g, N);
      const lambda = e.values[0]!;
      assert.ok(relErr(fim.lambdaMax[s]!, lambda) < 1e-4, `sample ${s}: ${fim.lambdaMax[s]} vs explicit ${lambda}`);
      // Rank ≤ K − 1: the rows of J sum to zero.
      assert.ok(Math.abs(e.values[4]!) < 1e-6 * lambda, `5th eigenvalue ${e.values[4]} should vanish`);
      const v = fim.eigenvectors.subarray(s * N, (s + 1) * N);
      let dot = 0;
      let norm = 0;
      for (let t = 0; t < N; t++) {
        dot += v[t]! * e.vectors[t]!;
        norm += v[t]! * v[t]!;
      }
      assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-5, 'unit eigenvector');
      const gap = (e.values[0]! - e.values[1]!) / e.values[0]!;
      assert.ok(gap > 1e-3, 'test needs a simple top eigenvalue');
      assert.ok(1 - Math.abs(dot) < 1e-4, `sample ${s}: |cos| = ${Math.abs(dot)}`);
      const p = ref.probs(xi);
      for (let i = 0; i < 5; i++) assert.ok(Math.abs(fim.probs[s * 5 + i]! - p[i]!) < 1e-6);
    }
    x.dispose();
  });
}

test('KL(s(x) ‖ s(x+η)) approaches ½ ηᵀ G_x η as η → 0 (along the top eigenvector and a random direction)', () => {
  const model = tinyConvNet(41);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(1, N, 41);
  const fim = inputFimTopEigen(model, tf.tensor4d(xs, [1, ...SHAPE]));
  const g = explicitGx(ref, xs);
  const p = ref.probs(xs);
  const rnd = tieFreeInputs(1, N, 99).map((v) => v - 0.5);
  const rn = Math.hypot(...rnd);
  const dirs = { eigen: Float64Array.from(fim.eigenvectors), random: Float64Array.from(rnd, (v) => v / rn) };
  for (const [name, d] of Object.entries(dirs)) {
    let quad = 0;
    for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) quad += d[a]! * g[a * N + b]! * d[b]!;
    if (name === 'eigen') assert.ok(relErr(quad, fim.lambdaMax[0]!) < 1e-4);
    const errs = [1e-1, 1e-2, 1e-3].map((t) => {
      const kl = klDivergence(p, ref.probs(xs.map((v, i) => v + t * d[i]!)));
      return Math.abs(kl / (0.5 * t * t * quad) - 1);
    });
    assert.ok(errs[2]! < 1e-2, `${name}: relative error at t=1e-3 is ${errs[2]}`);
    assert.ok(errs[2]! < errs[0]!, `${name}: error must shrink with η (${errs.join(', ')})`);
  }
});

test('tr G_s, λmax(G_s), margin and KL budget per sample match hand computation', () => {
  const model = tinyConvNet(54);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(3, N, 54);
  const labels = [0, 3, 4];
  const { stats } = sampleFimStats(model, tf.tensor4d(xs, [3, ...SHAPE]), labels, [10, 11, 12], { tau: 0.1, temperature: 2 });
  for (let s = 0; s < 3; s++) {
    const xi = xs.subarray(s * N, (s + 1) * N);
    const z = ref.logits(xi);
    const p = ref.probs(xi);
    const r = stats[s]!;
    assert.equal(r.index, 10 + s);
    assert.equal(r.label, labels[s]);
    assert.equal(r.predicted, p.indexOf(Math.max(...p)));
    assert.ok(
      relErr(
        r.traceGs,
        p.reduce((a, v) => a + 1 / v, 0),
      ) < 1e-5,
      `trace ${r.traceGs}`,
    );
    assert.ok(relErr(r.lambdaMaxGs, 1 / Math.min(...p)) < 1e-5, `lmax ${r.lambdaMaxGs}`);
    assert.ok(r.lambdaMaxGx > 0);
    assert.ok(relErr(r.klBudget, Math.sqrt(0.2 / r.lambdaMaxGx)) < 1e-12);
    const rival = Math.max(...Array.from(z).filter((_, j) => j !== labels[s]));
    assert.ok(Math.abs(r.margin - (z[labels[s]!]! - rival)) < 1e-5, `margin ${r.margin} vs ${z[labels[s]!]! - rival}`);
    // Temperature 2: the statistics of softmax(z/2).
    const e = z.map((v) => Math.exp(v / 2));
    const pt = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    assert.ok(
      relErr(
        r.scaled!.traceGs,
        pt.reduce((a, v) => a + 1 / v, 0),
      ) < 1e-5,
      `st ${r.scaled!.traceGs}`,
    );
    assert.ok(relErr(r.scaled!.lambdaMaxGs, 1 / Math.min(...pt)) < 1e-5, 'sl');
  }
  assert.equal(klBudget(0, 0.1), Infinity);
});

test('temperature-scaled λmax(G_x) equals the exact value of the model with logits divided by T', () => {
  const model = tinyConvNet(61);
  const xs = tieFreeInputs(2, N, 61);
  const x = tf.tensor4d(xs, [2, ...SHAPE]);
  const { stats } = sampleFimStats(model, x, [0, 1], [0, 1], { tau: 0.1, temperature: 3 });
  // Scale the last layer's weights and bias by 1/T: the same as dividing the logits by T.
  const dense = model.layers[model.layers.length - 1]!;
  const [k, b] = dense.getWeights();
  dense.setWeights([tf.div(k!, 3), tf.div(b!, 3)]);
  const scaled = inputFimTopEigen(model, x);
  for (let s = 0; s < 2; s++) assert.ok(relErr(stats[s]!.scaled!.lambdaMaxGx, scaled.lambdaMax[s]!) < 1e-5);
});

test('normalized margin uses the finite-difference gradient of the margin', () => {
  const model = tinyConvNet(71);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(1, N, 71);
  const jac = logitJacobian(model, tf.tensor4d(xs, [1, ...SHAPE]));
  const label = 2;
  const m = marginStats(jac, 0, label);
  const z0 = ref.logits(xs);
  let rival = 0;
  while (rival === label) rival++;
  for (let j = 0; j < 5; j++) if (j !== label && z0[j]! > z0[rival]!) rival = j;
  const h = 1e-6;
  let g2 = 0;
  for (let t = 0; t < N; t++) {
    const xp = Float64Array.from(xs);
    xp[t]! += h;
    const zp = ref.logits(xp);
    xp[t]! -= 2 * h;
    const zm = ref.logits(xp);
    const d = (zp[label]! - zp[rival]! - (zm[label]! - zm[rival]!)) / (2 * h);
    g2 += d * d;
  }
  assert.ok(relErr(m.normalizedMargin, m.margin / Math.sqrt(g2)) < 1e-4);
});

test('power iteration (optional fast path) agrees with the exact top eigenvalue', () => {
  const model = tinyConvNet(83);
  const xs = tieFreeInputs(B, N, 83);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const exact = inputFimTopEigen(model, x);
  const power = powerIterationTopEigen(model, x, { iterations: 60, seed: 1 });
  for (let s = 0; s < B; s++) {
    assert.ok(
      relErr(power.lambdaMax[s]!, exact.lambdaMax[s]!) < 1e-2,
      `sample ${s}: power ${power.lambdaMax[s]} vs exact ${exact.lambdaMax[s]}`,
    );
    let dot = 0;
    for (let t = 0; t < N; t++) dot += power.eigenvectors[s * N + t]! * exact.eigenvectors[s * N + t]!;
    assert.ok(Math.abs(dot) > 0.99, `sample ${s}: |cos| ${Math.abs(dot)}`);
  }
});

test('the batched Jacobian equals per-sample Jacobians whatever the chunking', () => {
  const model = tinyConvNet(97);
  const xs = tieFreeInputs(5, N, 97);
  const x = tf.tensor4d(xs, [5, ...SHAPE]);
  const whole = logitJacobian(model, x);
  const chunked = logitJacobian(model, x, 7); // one sample (5 rows) per pass
  let m = 0;
  for (let i = 0; i < whole.gradients.length; i++) m = Math.max(m, Math.abs(whole.gradients[i]! - chunked.gradients[i]!));
  assert.ok(m < 1e-6);
  assert.deepEqual(Array.from(whole.logits), Array.from(chunked.logits));
});
