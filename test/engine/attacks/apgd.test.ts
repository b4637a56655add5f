import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { apgdCheckpoints, halveStepSize, projectBallBox } from '../../../src/engine/attacks/apgd';
import { getAttack } from '../../../src/engine/attacks/registry';
import { runAttack } from '../../../src/engine/attacks/run';
import { randomArray, useEngineBackend } from '../../helpers';

/**
 * Auto-PGD (Croce & Hein 2020): its step-size schedule against the paper's formula, its halving
 * conditions on hand-made loss histories, its l∞/l2 projections against direct formulas, and its
 * ascent on a linear model whose constrained optimum is known in closed form.
 */
before(async () => {
  await useEngineBackend();
});

test("the checkpoints follow the paper's p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06) for 100 iterations", () => {
  const p = [0, 0.22];
  while (true) {
    const next = p[p.length - 1]! + Math.max(p[p.length - 1]! - p[p.length - 2]! - 0.03, 0.06);
    if (next > 1) break;
    p.push(next);
  }
  const paper = p.slice(1).map((v) => Math.round(v * 100));
  assert.deepEqual(paper, [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(100), paper);
  // Other budgets round as the reference does (⌊0.22n⌋ first, windows shrinking by ⌊0.03n⌋ to ⌊0.06n⌋).
  assert.deepEqual(apgdCheckpoints(40), [8, 15, 21, 26, 30, 33, 35, 37, 39]);
  assert.deepEqual(apgdCheckpoints(5), [1, 2, 3, 4, 5]);
});

test('the step size halves when the loss oscillates or when the best loss stalls after an unreduced step', () => {
  const base = { window: 4, rho: 0.75, reducedLastCheck: true, bestLastCheck: 0, best: 1 };
  // The loss rose in 4 of the last 4 steps: 4 > 0.75·4, keep the step.
  assert.equal(halveStepSize({ ...base, losses: [0, 1, 2, 3, 4] }), false);
  // It rose in 3 of 4: 3 ≤ 3, halve (the reference compares with ≤).
  assert.equal(halveStepSize({ ...base, losses: [0, 1, 0.5, 2, 3] }), true);
  // Only the last `window` steps count: an early fall does not matter.
  assert.equal(halveStepSize({ ...base, losses: [5, 0, 1, 2, 3, 4] }), false);
  // Condition 2: not halved last time and the best loss did not improve since.
  const rising = [0, 1, 2, 3, 4];
  assert.equal(halveStepSize({ ...base, losses: rising, reducedLastCheck: false, bestLastCheck: 1, best: 1 }), true);
  assert.equal(halveStepSize({ ...base, losses: rising, reducedLastCheck: false, bestLastCheck: 0.5, best: 1 }), false);
  assert.equal(halveStepSize({ ...base, losses: rising, reducedLastCheck: true, bestLastCheck: 1, best: 1 }), false);
});

test('the projections: l∞ clips to the cube, l2 rescales onto the sphere, both then clip to the box', () => {
  const x0 = [0.5, 0.5, 0.1, 0.9];
  const out = new Float64Array(4);
  projectBallBox([0.9, 0.45, -0.3, 0.95], x0, 0.2, 'linf', [0, 1], out);
  assert.deepEqual(
    Array.from(out, (v) => +v.toFixed(9)),
    [0.7, 0.45, 0, 0.95],
  );
  // Inside the l2 ball nothing moves.
  projectBallBox([0.55, 0.45, 0.12, 0.88], x0, 0.2, 'l2', [0, 1], out);
  assert.deepEqual(
    Array.from(out, (v) => +v.toFixed(9)),
    [0.55, 0.45, 0.12, 0.88],
  );
  // Outside: δ = (0.3, −0.4, 0, 0) has norm 0.5 → scaled to 0.2, same direction.
  projectBallBox([0.8, 0.1, 0.1, 0.9], x0, 0.2, 'l2', [0, 1], out);
  assert.ok(Math.abs(out[0]! - 0.62) < 1e-9 && Math.abs(out[1]! - 0.34) < 1e-9, `${Array.from(out)}`);
  // The box clips after the rescaling (the reference's order): δ = (0, 0, −0.5, 0) → −0.2 → clipped at 0.
  projectBallBox([0.5, 0.5, -0.4, 0.9], x0, 0.2, 'l2', [0, 1], out);
  assert.ok(Math.abs(out[2]! - 0) < 1e-12, `${out[2]}`);
});

/** A linear 2-class model on 4×4 inputs whose label stays predicted throughout the ε-ball. */
function linearModel(v: Float32Array): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 3 })] });
  // z_0 = 0, z_1 = v·x − 10 (< −3 in the ball), z_2 = −10: CE(label 0) grows with v·x only. (Much
  // lower logits would underflow the softmax in float32 and leave no gradient at all.)
  const w = new Float32Array(16 * 3);
  for (let i = 0; i < 16; i++) w[i * 3 + 1] = v[i]!;
  model.layers[1]!.setWeights([tf.tensor2d(w, [16, 3]), tf.tensor1d([0, -10, -10])]);
  return model;
}

test('APGD-CE reaches the closed-form optimum of a linear objective over the ball and the box', () => {
  const v = randomArray(16, 3, -1, 1);
  const model = linearModel(v);
  const x = randomArray(16, 4, 0.3, 0.7);
  const labels = new Int32Array([0]);
  const score = (a: ArrayLike<number>) => a.length && Array.from(v).reduce((s, vi, i) => s + vi * a[i]!, 0);
  for (const [name, eps] of [
    ['apgd-ce', 0.2],
    ['apgd-ce-l2', 0.25],
  ] as const) {
    const r = runAttack(name, { model, x, shape: [4, 4, 1], labels }, [eps], { seed: 1 });
    const adv = r.budgets[0]!.clipped;
    assert.equal(r.budgets[0]!.success[0], 0, 'the label stays predicted, so APGD returns its highest-loss point');
    let optimum: number;
    if (name === 'apgd-ce') {
      // Separable: each pixel goes to the end of its interval [x − ε, x + ε] ∩ [0, 1] that v favours.
      optimum = Array.from(v).reduce((s, vi, i) => s + vi * (vi > 0 ? Math.min(1, x[i]! + eps) : Math.max(0, x[i]! - eps)), 0);
    } else {
      // No pixel reaches the box (|δ_i| ≤ ε < 0.3): x + ε·v/‖v‖.
      const len = Math.sqrt(Array.from(v).reduce((s, vi) => s + vi * vi, 0));
      optimum = score(x) + eps * len;
    }
    // l∞ lands on the optimal vertex; l2 converges towards the optimal direction as the step halves
    // (within 0.5% of the attainable gain ε‖v‖ after 100 iterations).
    const tol = name === 'apgd-ce' ? 1e-6 : 5e-3 * (optimum - score(x));
    assert.ok(score(adv) <= optimum + 1e-6 && optimum - score(adv) < tol, `${name}: v·x ${score(adv)} vs optimum ${optimum}`);
    assert.ok(r.budgets[0]!.distance[0]! <= eps + 1e-6);
  }
});

test('APGD options are declared and validated, and DLR needs enough classes', () => {
  assert.deepEqual(getAttack('apgd-ce').defaults, { steps: 100, restarts: 1, rho: 0.75, searchEpsilon: 0.3, searchSteps: 100 });
  assert.equal(getAttack('apgd-t').defaults.targetClasses, 9);
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 2 })] });
  const inputs = { model, x: randomArray(16, 1, 0, 1), shape: [4, 4, 1] as [number, number, number], labels: new Int32Array([0]) };
  assert.throws(() => runAttack('apgd-dlr', inputs, [0.1]), /at least 3 classes/);
  assert.throws(() => runAttack('apgd-t', inputs, [0.1]), /at least 4 classes/);
  assert.throws(() => runAttack('apgd-ce', inputs, [0.1], { options: { rho: -1 } }), /finite number ≥ 0/);
  assert.throws(() => runAttack('apgd-ce', inputs, [0.1], { options: { momentum: 0.5 } }), /has no option "momentum"/);
});
