import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { directionalFisher } from '../../../src/engine/fim/directionalFisher';
import { traceGsFromLogits } from '../../../src/engine/train/loss';
import { normalisedLogits, traceProbes, traceScaledDefence } from '../../../src/engine/train/traceScaled';
import type { TraceScaledDefence } from '../../../src/runs/types';
import { useEngineBackend } from '../../helpers';
import { explicitGx, referenceOf, tieFreeInputs, tinyConvNet, type Reference } from '../fim/reference';
import { assertGradientsClose, centralDifferences, sampleCoordinates, weightGradient } from './defenceHelpers';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 64;
const K = 5;

before(async () => {
  await useEngineBackend();
});

/** Float64 z̃ = s·(z − z̄)/rms(z − z̄). */
function normalised64(z: ArrayLike<number>, scale: number): Float64Array {
  const k = z.length;
  let m = 0;
  for (let i = 0; i < k; i++) m += z[i]! / k;
  let ss = 0;
  for (let i = 0; i < k; i++) ss += (z[i]! - m) ** 2 / k;
  const rms = Math.sqrt(ss);
  return Float64Array.from({ length: k }, (_, i) => (scale * (z[i]! - m)) / rms);
}

/** The float64 reference with the normalised softmax p̃ in place of p, so explicitGx gives G̃_x. */
function normalisedReference(model: tfl.LayersModel, scale: number): Reference {
  const ref = referenceOf(model);
  return {
    ...ref,
    probs: (x) => {
      const z = normalised64(ref.logits(x), scale);
      const mx = Math.max(...z);
      const e = z.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    },
  };
}

function quadratic(g: Float64Array, u: ArrayLike<number>, o: number): number {
  let q = 0;
  for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) q += u[o + a]! * g[a * N + b]! * u[o + b]!;
  return q;
}

test('normalised logits have RMS `scale`, and do not change when the logits are scaled or shifted', () => {
  const z = tf.tensor2d([
    [2, -1, 0.5, 0, 3],
    [0.01, 0.02, -0.03, 0, 0.005],
  ]);
  const a = normalisedLogits(z, 1.5).arraySync();
  for (const row of a) {
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / row.length);
    assert.ok(Math.abs(rms - 1.5) < 1e-5, `rms ${rms}`);
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0)) < 1e-5);
  }
  const byHand = normalised64([2, -1, 0.5, 0, 3], 1.5);
  a[0]!.forEach((v, i) => assert.ok(Math.abs(v - byHand[i]!) < 1e-5));
  for (const c of [0.2, 7]) {
    const b = normalisedLogits(tf.add(tf.mul(z, c), 1), 1.5).arraySync();
    b.forEach((row, r) => row.forEach((v, i) => assert.ok(Math.abs(v - a[r]![i]!) < 1e-4, `c=${c}: ${v} vs ${a[r]![i]}`)));
  }
});

test('Σ over the N basis directions of vᵀ G̃_x v is the explicit tr G̃_x of the normalised softmax', () => {
  const model = tinyConvNet(11);
  const xs = tieFreeInputs(1, N, 5);
  const want = (() => {
    const g = explicitGx(normalisedReference(model, 1), xs);
    let t = 0;
    for (let a = 0; a < N; a++) t += g[a * N + a]!;
    return t;
  })();
  const basis = new Float32Array(N * N);
  for (let t = 0; t < N; t++) basis[t * N + t] = 1;
  const got = tf.tidy(() => {
    const x = tf.tile<tf.Tensor4D>(tf.tensor4d(xs, [1, ...SHAPE]), [N, 1, 1, 1]);
    const q = directionalFisher(model, x, tf.tensor4d(basis, [N, ...SHAPE]), 1e-3, (z) => normalisedLogits(z, 1));
    return tf.sum(q).dataSync()[0]!;
  });
  assert.ok(Math.abs(got - want) < 2e-3 * want, `${got} vs explicit ${want}`);
});

test("Hutchinson's estimate N·uᵀG̃_x u over random unit probes averages to tr G̃_x", () => {
  const model = tinyConvNet(23);
  const xs = tieFreeInputs(1, N, 7);
  const g = explicitGx(normalisedReference(model, 1), xs);
  let trace = 0;
  for (let a = 0; a < N; a++) trace += g[a * N + a]!;
  const d: TraceScaledDefence = { kind: 'trace-scaled', weight: 1, scale: 1, probes: 1500, fdStep: 1e-3 };
  const x = tf.tensor4d(xs, [1, ...SHAPE]);
  const prepared = traceScaledDefence(model, d).prepare(x, tf.tensor1d([0], 'int32'), { seed: 4, step: 2 });
  const est = prepared.penalty(tf.zeros([1, K])).dataSync()[0]!;
  prepared.dispose();
  // The same probes, through the explicit matrix: the estimator itself, without finite differences.
  const u = traceProbes(d.probes, N, 4, 2);
  let exactEst = 0;
  for (let j = 0; j < d.probes; j++) exactEst += (N * quadratic(g, u, j * N)) / d.probes;
  assert.ok(Math.abs(est - exactEst) < 2e-3 * exactEst, `${est} vs ${exactEst} through the explicit G̃_x`);
  // Unbiased: 1,500 probes put the mean within a few per cent of the trace (the estimator's relative sd is ≤ √2 per probe).
  assert.ok(Math.abs(est - trace) < 0.12 * trace, `estimate ${est} vs trace ${trace}`);
  x.dispose();
});

test("the trace-scaled penalty's weight gradient equals central differences of the explicit N·uᵀG̃_x u", () => {
  const model = tinyConvNet(37);
  const B = 2;
  const xs = tieFreeInputs(B, N, 13);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const d: TraceScaledDefence = { kind: 'trace-scaled', weight: 1, scale: 1.3, probes: 2, fdStep: 1e-3 };
  const coords = sampleCoordinates(model);
  const prepared = traceScaledDefence(model, d).prepare(x, tf.tensor1d([0, 1], 'int32'), { seed: 1, step: 5 });
  const got = weightGradient(model, () => prepared.penalty(tf.zeros([B, K])), coords);
  prepared.dispose();
  const u = traceProbes(B * d.probes, N, 1, 5);
  const estimate = () => {
    const ref = normalisedReference(model, d.scale);
    let total = 0;
    for (let s = 0; s < B; s++) {
      const g = explicitGx(ref, xs.subarray(s * N, (s + 1) * N));
      for (let j = 0; j < d.probes; j++) total += N * quadratic(g, u, (j * B + s) * N);
    }
    return total / (B * d.probes);
  };
  const want = centralDifferences(model, estimate, coords, 1e-3);
  assertGradientsClose(got, want, coords, 1e-2);
  x.dispose();
});

test('scaling the logits leaves the trace-scaled penalty unchanged, while the paper’s tr G_s moves', () => {
  const model = tinyConvNet(41);
  const B = 4;
  const x = tf.tensor4d(tieFreeInputs(B, N, 17), [B, ...SHAPE]);
  const y = tf.tensor1d([0, 1, 2, 3], 'int32');
  const d: TraceScaledDefence = { kind: 'trace-scaled', weight: 1, scale: 1, probes: 3, fdStep: 1e-3 };
  const measure = () => {
    const prepared = traceScaledDefence(model, d).prepare(x, y, { seed: 0, step: 0 });
    const penalty = prepared.penalty(tf.zeros([B, K])).dataSync()[0]!;
    prepared.dispose();
    const trace = tf.tidy(() => tf.mean(traceGsFromLogits(model.apply(x, { training: false }) as tf.Tensor2D)).dataSync()[0]!);
    return { penalty, trace };
  };
  const before = measure();
  const dense = model.layers[model.layers.length - 1]!;
  const original = dense.getWeights().map((t) => t.clone());
  dense.setWeights(original.map((t) => tf.mul(t, 0.2)));
  const after = measure();
  dense.setWeights(original);
  assert.ok(Math.abs(after.penalty - before.penalty) < 2e-3 * before.penalty, `${after.penalty} vs ${before.penalty}`);
  // tr G_s ≥ K²; shrinking the logits takes it most of the way down to that minimum.
  assert.ok(after.trace - K * K < 0.5 * (before.trace - K * K), `tr G_s ${after.trace} should fall from ${before.trace} towards ${K * K}`);
  tf.dispose([x, y, ...original]);
});
