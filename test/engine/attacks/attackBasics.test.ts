import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { listAttacks, getAttack, resolveOptions } from '../../../src/engine/attacks/registry';
import { minimalAdversarial, runAttack } from '../../../src/engine/attacks/run';
import {
  attackObjective,
  distances,
  objectiveGradient,
  projectToBall,
  normalizeDirection,
  perSampleNorm,
} from '../../../src/engine/attacks/tensorOps';
import { inputFimTopEigen } from '../../../src/engine/fim/inputFim';
import { useEngineBackend } from '../../helpers';
import { referenceOf, tieFreeInputs, tinyConvNet } from '../fim/reference';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 64;

before(async () => {
  await useEngineBackend();
});

function ce(p: ArrayLike<number>, y: number): number {
  return -Math.log(p[y]!);
}

test('attack objectives and their input gradients match finite differences of the float64 reference', () => {
  const model = tinyConvNet(5);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(2, N, 5);
  const labels = [1, 3];
  for (const loss of ['ce', 'margin'] as const) {
    for (const targeted of [false, true]) {
      const { grad, objective } = objectiveGradient(model, tf.tensor4d(xs, [2, ...SHAPE]), tf.tensor1d(labels, 'int32'), loss, targeted);
      const g = grad.dataSync();
      const o = objective.dataSync();
      const f = (x: Float64Array, y: number) => {
        const z = ref.logits(x);
        if (loss === 'ce') return (targeted ? -1 : 1) * ce(ref.probs(x), y);
        const other = Math.max(...Array.from(z).filter((_, j) => j !== y));
        return targeted ? z[y]! - other : other - z[y]!;
      };
      for (let s = 0; s < 2; s++) {
        const x = Float64Array.from(xs.subarray(s * N, (s + 1) * N));
        assert.ok(Math.abs(o[s]! - f(x, labels[s]!)) < 1e-5);
        for (const t of [0, 17, 40, 63]) {
          const h = 1e-6;
          const xp = Float64Array.from(x);
          xp[t]! += h;
          const xm = Float64Array.from(x);
          xm[t]! -= h;
          const fd = (f(xp, labels[s]!) - f(xm, labels[s]!)) / (2 * h);
          assert.ok(
            Math.abs(g[s * N + t]! - fd) < 1e-4 * Math.max(1, Math.abs(fd)),
            `${loss} targeted=${targeted} ∂/∂x${t}: ${g[s * N + t]} vs ${fd}`,
          );
        }
      }
    }
  }
});

test('the cross-entropy gradient keeps its true-class entry when p_y rounds to 1 in float32', () => {
  const z = [30, 2, 0];
  const g = tf
    .grad((t: tf.Tensor) => tf.sum<tf.Scalar>(attackObjective(t as tf.Tensor2D, tf.tensor1d([0], 'int32'), 'ce', false)))(tf.tensor2d([z]))
    .dataSync();
  const e = z.map((v) => Math.exp(v - 30));
  const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
  const expected = [-(p[1]! + p[2]!), p[1]!, p[2]!];
  for (let i = 0; i < 3; i++)
    assert.ok(Math.abs(g[i]! - expected[i]!) <= 1e-6 * Math.abs(expected[i]!), `∂CE/∂z${i}: ${g[i]} vs ${expected[i]}`);
});

test('directions are unit length and projections stay inside their balls', () => {
  const t = tf.tensor4d(
    tieFreeInputs(3, N, 9).map((v) => v - 0.5),
    [3, ...SHAPE],
  );
  for (const norm of ['l1', 'l2'] as const) {
    const n = perSampleNorm(normalizeDirection(t, norm), norm).dataSync();
    for (const v of n) assert.ok(Math.abs(v - 1) < 1e-5);
  }
  assert.deepEqual(Array.from(new Set(normalizeDirection(t, 'linf').dataSync().map(Math.abs))), [1]);
  // Gradients of a confident model are tiny; their sign must still be ±1 (wasm's Sign kernel says 0 below ~1.2e-7).
  const tiny = normalizeDirection(tf.tensor4d([1e-9, -3e-8, 1e-12, 0], [1, 2, 2, 1]), 'linf').dataSync();
  assert.deepEqual(Array.from(tiny), [1, -1, 1, 0]);
  const eps = new Float32Array([0.1, 0.5, 100]);
  for (const norm of ['l1', 'l2', 'linf'] as const) {
    const before = perSampleNorm(t, norm).dataSync();
    const after = perSampleNorm(projectToBall(t, eps, norm), norm).dataSync();
    for (let s = 0; s < 3; s++) assert.ok(Math.abs(after[s]! - Math.min(eps[s]!, before[s]!)) < 1e-5, `${norm} sample ${s}`);
  }
  const a = new Float32Array([0, 0.5, 1, 0]);
  const b = new Float32Array([0, 0.25, 0, 0]);
  assert.deepEqual(Array.from(distances(a, b, 4, 'l0')), [2]);
  assert.deepEqual(Array.from(distances(a, b, 4, 'l1')), [1.25]);
  assert.deepEqual(Array.from(distances(a, b, 4, 'linf')), [1]);
  assert.ok(Math.abs(distances(a, b, 4, 'l2')[0]! - Math.sqrt(1.0625)) < 1e-12);
});

test('OSSA is √ε along the top G_x eigenvector (ε = squared l2 norm), with the sign that raises the loss', () => {
  const model = tinyConvNet(13);
  const ref = referenceOf(model);
  const xs = tieFreeInputs(4, N, 13);
  const labels = Int32Array.from([0, 1, 2, 3]);
  const v = inputFimTopEigen(model, tf.tensor4d(xs, [4, ...SHAPE])).eigenvectors;
  const r = runAttack('ossa', { model, x: xs, shape: SHAPE, labels }, [0.04, 1]);
  assert.equal(r.budgetUnit, 'ε = squared l2 norm ‖η‖₂² (paper §3.1)');
  for (const b of r.budgets) {
    assert.equal(b.evaluated, 'raw', 'OSSA reports the unclipped x + η by default');
    for (let s = 0; s < 4; s++) {
      const eta = b.raw.subarray(s * N, (s + 1) * N).map((val, t) => val - xs[s * N + t]!);
      const sq = eta.reduce((a, e) => a + e * e, 0);
      assert.ok(Math.abs(sq - b.budget) < 1e-4 * b.budget, `‖η‖² = ${sq} for ε = ${b.budget}`);
      let dot = 0;
      for (let t = 0; t < N; t++) dot += eta[t]! * v[s * N + t]!;
      assert.ok(Math.abs(Math.abs(dot) - Math.sqrt(b.budget)) < 1e-4, 'η ∥ v');
      const x0 = Float64Array.from(xs.subarray(s * N, (s + 1) * N));
      const chosen = ce(ref.probs(x0.map((val, t) => val + eta[t]!)), labels[s]!);
      const other = ce(ref.probs(x0.map((val, t) => val - eta[t]!)), labels[s]!);
      assert.ok(chosen >= other - 1e-9, `sign: loss ${chosen} vs ${other}`);
      assert.ok(chosen > ce(ref.probs(x0), labels[s]!), 'the loss increases');
      assert.ok(Math.abs(b.distance[s]! - Math.sqrt(b.budget)) < 1e-4, 'distance is the (unsquared) l2 norm');
    }
  }
  const l2 = runAttack('ossa', { model, x: xs, shape: SHAPE, labels }, [0.5], { options: { epsUnit: 'l2' } });
  assert.ok(Math.abs(l2.budgets[0]!.distance[0]! - 0.5) < 1e-5);
  // Clipping on request keeps the inputs valid images.
  const clipped = runAttack('ossa', { model, x: xs, shape: SHAPE, labels }, [4], { clip: true });
  assert.equal(clipped.budgets[0]!.evaluated, 'clipped');
  assert.ok(clipped.budgets[0]!.clipped.every((val) => val >= 0 && val <= 1));
});

test('FGSM and FGM follow their formulas; OTCM moves towards the least-likely class', () => {
  const model = tinyConvNet(17);
  const xs = tieFreeInputs(3, N, 17);
  const labels = Int32Array.from([0, 2, 4]);
  const { grad } = objectiveGradient(model, tf.tensor4d(xs, [3, ...SHAPE]), tf.tensor1d(labels, 'int32'), 'ce', false);
  const g = grad.dataSync();
  const fgsm = runAttack('fgsm', { model, x: xs, shape: SHAPE, labels }, [0.03]).budgets[0]!;
  for (let i = 0; i < xs.length; i++) assert.ok(Math.abs(fgsm.raw[i]! - (xs[i]! + 0.03 * Math.sign(g[i]!))) < 1e-6);
  const fgm = runAttack('fgm', { model, x: xs, shape: SHAPE, labels }, [0.2]).budgets[0]!;
  for (let s = 0; s < 3; s++) {
    const gs = g.subarray(s * N, (s + 1) * N);
    const norm = Math.hypot(...gs);
    for (let t = 0; t < N; t++) assert.ok(Math.abs(fgm.raw[s * N + t]! - (xs[s * N + t]! + (0.2 * gs[t]!) / norm)) < 1e-5);
  }
  const z = (model.apply(tf.tensor4d(xs, [3, ...SHAPE])) as tf.Tensor).arraySync() as number[][];
  const ll = z.map((row) => row.indexOf(Math.min(...row)));
  const before = attackObjective(tf.tensor2d(z), tf.tensor1d(ll, 'int32'), 'ce', true).dataSync();
  const adv = runAttack('otcm', { model, x: xs, shape: SHAPE, labels }, [0.02]).budgets[0]!;
  const za = model.apply(tf.tensor4d(adv.raw, [3, ...SHAPE])) as tf.Tensor2D;
  const after = attackObjective(za, tf.tensor1d(ll, 'int32'), 'ce', true).dataSync();
  for (let s = 0; s < 3; s++) assert.ok(after[s]! > before[s]!, 'CE to the least-likely class falls');
});

test('iterative attacks stay in the ε-ball and the pixel range; seeds make random starts reproducible', () => {
  const model = tinyConvNet(19);
  const xs = tieFreeInputs(3, N, 19);
  const labels = Int32Array.from([0, 1, 2]);
  for (const [name, eps] of [
    ['bim-linf', 0.05],
    ['bim-l2', 0.3],
    ['bim-l1', 2],
    ['pgd', 0.05],
    ['pgd-l2', 0.3],
    ['pgd-margin', 0.05],
    ['pgd-l2-margin', 0.3],
  ] as const) {
    const a = getAttack(name);
    const r = runAttack(a, { model, x: xs, shape: SHAPE, labels }, [eps], { seed: 3 });
    const b = r.budgets[0]!;
    assert.ok(
      b.clipped.every((v) => v >= 0 && v <= 1),
      `${name} in range`,
    );
    for (const d of b.distance) assert.ok(d <= eps * (1 + 1e-5), `${name}: distance ${d} > ε ${eps}`);
    const again = runAttack(a, { model, x: xs, shape: SHAPE, labels }, [eps], { seed: 3 }).budgets[0]!;
    assert.deepEqual(Array.from(again.clipped), Array.from(b.clipped), `${name} is reproducible with the same seed`);
    if (name.startsWith('pgd')) {
      const other = runAttack(a, { model, x: xs, shape: SHAPE, labels }, [eps], { seed: 4 }).budgets[0]!;
      assert.notDeepEqual(Array.from(other.clipped), Array.from(b.clipped), `${name}: another seed, another random start`);
    }
  }
});

test('minimization attacks are restricted to each budget (Foolbox 3 rule) and success is re-checked', () => {
  const model = tinyConvNet(23);
  const xs = tieFreeInputs(4, N, 23);
  const z = (model.apply(tf.tensor4d(xs, [4, ...SHAPE])) as tf.Tensor).arraySync() as number[][];
  const labels = Int32Array.from(z.map((row) => row.indexOf(Math.max(...row))));
  const r = runAttack('deepfool', { model, x: xs, shape: SHAPE, labels }, [0.01, Infinity]);
  const [small, inf] = r.budgets;
  for (let s = 0; s < 4; s++) {
    assert.ok(small!.distance[s]! <= 0.01 + 1e-6);
    const pred = tf
      .argMax(model.apply(tf.tensor4d(inf!.clipped.subarray(s * N, (s + 1) * N), [1, ...SHAPE])) as tf.Tensor, 1)
      .dataSync()[0];
    assert.equal(Boolean(inf!.success[s]), pred !== labels[s]);
  }
  assert.ok(inf!.success.some(Boolean), 'DeepFool finds adversarials with an unbounded budget');
  const m = minimalAdversarial('deepfool', { model, x: xs, shape: SHAPE, labels });
  for (let s = 0; s < 4; s++) if (m.found[s]) assert.ok(Math.abs(m.distance[s]! - inf!.distance[s]!) < 1e-6);
});

test('bad requests: unknown attack, empty or negative budgets, unknown or ill-typed options', () => {
  const model = tinyConvNet(29);
  const inputs = { model, x: tieFreeInputs(1, N, 1), shape: SHAPE, labels: Int32Array.from([0]) };
  assert.throws(() => runAttack('nosuch', inputs, [1]), /unknown attack "nosuch"; available: ossa, fgsm/);
  assert.throws(() => runAttack('fgsm', inputs, []), /at least one budget/);
  assert.throws(() => runAttack('fgsm', inputs, [-1]), /budgets must be ≥ 0/);
  assert.throws(() => runAttack('fgsm', inputs, [Infinity]), /unbounded budget only makes sense/);
  assert.throws(() => resolveOptions(getAttack('pgd'), { stepz: 3 }), /has no option "stepz"; its options: steps/);
  assert.throws(() => resolveOptions(getAttack('pgd'), { steps: 'many' }), /expects a number/);
  assert.throws(() => resolveOptions(getAttack('ossa'), { epsUnit: 'l3' }), /must be one of squared-l2, l2/);
  assert.equal(resolveOptions(getAttack('cw'), { steps: '50' }).steps, 50);
  assert.equal(resolveOptions(getAttack('fgsm'), { searchSteps: '100' }).searchSteps, 100);
  assert.equal(resolveOptions(getAttack('ossa'), {}).clip, false, 'OSSA is unclipped unless asked');
  assert.throws(() => runAttack('fgsm', { ...inputs, labels: Int32Array.from([7]) }, [1]), /label 7 is outside 0..4/);
  assert.deepEqual(
    listAttacks()
      .map((a) => a.name)
      .slice(0, 4),
    ['ossa', 'fgsm', 'fgm', 'otcm'],
  );
});
