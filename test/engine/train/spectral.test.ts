import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { symmetricEigen } from '../../../src/engine/fim/eigen';
import { directionalFisher } from '../../../src/engine/fim/directionalFisher';
import { inputFimTopEigen } from '../../../src/engine/fim/inputFim';
import { spectralDefence } from '../../../src/engine/train/spectral';
import { useEngineBackend } from '../../helpers';
import { explicitGx, referenceOf, tieFreeInputs, tinyConvNet } from '../fim/reference';
import { assertGradientsClose, centralDifferences, sampleCoordinates, weightGradient } from './defenceHelpers';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 64;
const B = 3;

before(async () => {
  await useEngineBackend();
});

/** Exact λmax of the explicit N×N G_x of the float64 reference, per sample. */
function referenceLambdas(model: Parameters<typeof referenceOf>[0], xs: Float32Array): number[] {
  const ref = referenceOf(model);
  return Array.from({ length: xs.length / N }, (_, s) => symmetricEigen(explicitGx(ref, xs.subarray(s * N, (s + 1) * N)), N).values[0]!);
}

test('vᵀ G_x v by central differences equals Var_p(Z v), and along the exact top eigenvector equals λmax(G_x)', () => {
  const model = tinyConvNet(11);
  const xs = tieFreeInputs(B, N, 5);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const eig = inputFimTopEigen(model, x);
  const v = tf.tensor4d(eig.eigenvectors, x.shape);
  const q = directionalFisher(model, x, v, 1e-3).dataSync();
  const exact = referenceLambdas(model, xs);
  for (let s = 0; s < B; s++) {
    assert.ok(Math.abs(q[s]! - exact[s]!) < 1e-3 * exact[s]!, `sample ${s}: ${q[s]} vs explicit λmax ${exact[s]}`);
    assert.ok(Math.abs(eig.lambdaMax[s]! - exact[s]!) < 1e-4 * exact[s]!);
  }
  // Any other unit direction gives less (λmax is the maximum of the Rayleigh quotient).
  const r = tf.tidy(() => {
    const g = tf.randomNormal(x.shape, 0, 1, 'float32', 3);
    return tf.div<tf.Tensor4D>(g, tf.reshape(tf.norm(tf.reshape(g, [B, N]), 'euclidean', 1), [B, 1, 1, 1]));
  });
  const qr = directionalFisher(model, x, r, 1e-3).dataSync();
  for (let s = 0; s < B; s++) assert.ok(qr[s]! < q[s]!, `random direction ${qr[s]} should be below λmax ${q[s]}`);
  tf.dispose([x, v, r]);
});

for (const seed of [11, 23]) {
  test(`the spectral penalty's weight gradient equals central differences of the exact λmax(G_x) (seed ${seed})`, () => {
    const model = tinyConvNet(seed);
    const xs = tieFreeInputs(B, N, seed + 1);
    const x = tf.tensor4d(xs, [B, ...SHAPE]);
    const y = tf.tensor1d([0, 1, 2], 'int32');
    const coords = sampleCoordinates(model);
    assert.ok(coords.length >= 12);
    const defence = spectralDefence(model, { kind: 'spectral', weight: 1, fdStep: 1e-3, rows: 0 });
    const prepared = defence.prepare(x, y, { seed: 0, step: 0 });
    const got = weightGradient(model, () => prepared.penalty(tf.zeros([B, 5])), coords);
    prepared.dispose();
    const mean = () => referenceLambdas(model, xs).reduce((a, b) => a + b, 0) / B;
    const want = centralDifferences(model, mean, coords, 1e-3);
    assertGradientsClose(got, want, coords, 1e-2);
    tf.dispose([x, y]);
  });
}

test("the spectral penalty's value is the weight times the mean λmax(G_x) of the batch, or of its first `rows` rows", () => {
  const model = tinyConvNet(37);
  const xs = tieFreeInputs(B, N, 9);
  const x = tf.tensor4d(xs, [B, ...SHAPE]);
  const y = tf.tensor1d([0, 1, 2], 'int32');
  const exact = referenceLambdas(model, xs);
  for (const rows of [0, 2, 5]) {
    const prepared = spectralDefence(model, { kind: 'spectral', weight: 0.5, fdStep: 1e-3, rows }).prepare(x, y, { seed: 0, step: 0 });
    const value = prepared.penalty(tf.zeros([B, 5])).dataSync()[0]!;
    prepared.dispose();
    const used = exact.slice(0, rows > 0 && rows < B ? rows : B);
    const want = (0.5 * used.reduce((a, b) => a + b, 0)) / used.length;
    assert.ok(Math.abs(value - want) < 1e-3 * want, `rows ${rows}: ${value} vs ${want}`);
  }
  tf.dispose([x, y]);
});
