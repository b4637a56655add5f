import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { boxHyperplaneStep, type HyperplaneNorm } from '../../../src/engine/attacks/boxHyperplane';
import { getAttack } from '../../../src/engine/attacks/registry';
import { minimalAdversarial, runAttack } from '../../../src/engine/attacks/run';
import { argmaxRows, logitsOf } from '../../../src/engine/models/predict';
import { randomArray, useEngineBackend } from '../../helpers';

/**
 * FAB (Croce & Hein 2020): its projection onto a hyperplane inside the box against a brute-force
 * search in two and three dimensions, and the targeted attack on linear models, whose minimum
 * adversarial distances are known in closed form: |z_y − z_t| / ‖w_y − w_t‖_dual.
 */
before(async () => {
  await useEngineBackend();
});

const normOf = (d: ArrayLike<number>, p: HyperplaneNorm) =>
  p === 'linf' ? Math.max(...Array.from(d, Math.abs)) : Math.sqrt(Array.from(d).reduce((s, v) => s + v * v, 0));

/**
 * The smallest ‖z − x‖ over points z of the box on the hyperplane w·z = b, by brute force: a fine
 * grid over the first N−1 coordinates, the last solved from the hyperplane. Infinity if none.
 */
function bruteForce(x: number[], w: number[], b: number, p: HyperplaneNorm, steps: number): number {
  const n = x.length;
  let best = Infinity;
  const z = new Array<number>(n).fill(0);
  const visit = (i: number) => {
    if (i === n - 1) {
      let rest = b;
      for (let j = 0; j < n - 1; j++) rest -= w[j]! * z[j]!;
      z[n - 1] = rest / w[n - 1]!;
      if (z[n - 1]! < 0 || z[n - 1]! > 1) return;
      best = Math.min(
        best,
        normOf(
          z.map((v, j) => v - x[j]!),
          p,
        ),
      );
      return;
    }
    for (let k = 0; k <= steps; k++) {
      z[i] = k / steps;
      visit(i + 1);
    }
  };
  visit(0);
  return best;
}

test('the box-constrained hyperplane step is as short as a brute-force search finds, in 2 and 3 dimensions', () => {
  let cases = 0;
  for (let seed = 1; cases < 24; seed++) {
    const n = seed % 2 === 0 ? 2 : 3;
    const x = Array.from(randomArray(n, seed, 0, 1));
    const w = Array.from(randomArray(n, seed + 100, -1, 1));
    // Hyperplanes through a random point of the box, so most are reachable; some need the box to bind.
    const through = Array.from(randomArray(n, seed + 200, 0, 1));
    const b = w.reduce((s, wi, i) => s + wi * through[i]!, 0);
    for (const p of ['linf', 'l2'] as const) {
      const d = new Float64Array(n);
      const reached = boxHyperplaneStep(x, w, b, p, [0, 1], d);
      assert.ok(reached, 'a hyperplane through a point of the box is reachable');
      const z = x.map((v, i) => v + d[i]!);
      assert.ok(
        z.every((v) => v >= -1e-12 && v <= 1 + 1e-12),
        `stays in the box: ${z.join(', ')}`,
      );
      assert.ok(Math.abs(w.reduce((s, wi, i) => s + wi * z[i]!, 0) - b) < 1e-9, 'lands on the hyperplane');
      const brute = bruteForce(x, w, b, p, n === 2 ? 20000 : 400);
      const got = normOf(d, p);
      assert.ok(got <= brute + 1e-9, `${p} n=${n} seed ${seed}: ${got} is longer than brute force ${brute}`);
      assert.ok(got >= brute - (n === 2 ? 1e-4 : 5e-3), `${p} n=${n} seed ${seed}: ${got} is shorter than any point found (${brute})`);
    }
    cases++;
  }
});

test('the step: the unconstrained projection when the box does not bind, the closest corner when the plane is out of reach', () => {
  const d = new Float64Array(3);
  // From the centre, w = (1, 2, −2), b chosen so the plane is 0.1 away in l2: d = 0.1·w/‖w‖.
  const x = [0.5, 0.5, 0.5];
  const w = [1, 2, -2];
  const wx = w.reduce((s, wi, i) => s + wi * x[i]!, 0);
  boxHyperplaneStep(x, w, wx + 0.3, 'l2', [0, 1], d);
  assert.deepEqual(
    Array.from(d, (v) => +v.toFixed(12)),
    [0.1 / 3, 0.2 / 3, -0.2 / 3].map((v) => +v.toFixed(12)),
  );
  // l∞: every coordinate moves by c/‖w‖₁ = 0.3/5 along sign(w).
  boxHyperplaneStep(x, w, wx + 0.3, 'linf', [0, 1], d);
  assert.deepEqual(
    Array.from(d, (v) => +v.toFixed(12)),
    [0.06, 0.06, -0.06],
  );
  // Out of reach (the box's largest w·z is 1 + 2 + 0 = 3): the corner (1, 1, 0), reported as not reached.
  for (const p of ['linf', 'l2'] as const) {
    assert.equal(boxHyperplaneStep(x, w, 10, p, [0, 1], d), false);
    assert.deepEqual(Array.from(d), [0.5, 0.5, -0.5]);
  }
  // Already on the plane: no step.
  assert.equal(boxHyperplaneStep(x, w, wx, 'l2', [0, 1], d), true);
  assert.deepEqual(Array.from(d), [0, 0, 0]);
});

/** A linear K-class model on 4×4 inputs. */
function linearModel(seed: number, k: number): { model: tfl.LayersModel; w: Float32Array; b: Float32Array } {
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: k })] });
  const w = randomArray(16 * k, seed, -1, 1);
  const b = randomArray(k, seed + 1, -0.2, 0.2);
  model.layers[1]!.setWeights([tf.tensor2d(w, [16, k]), tf.tensor1d(b)]);
  return { model, w, b };
}

test('FAB-T finds the minimum distance to the nearest boundary of a linear model (l∞ and l2)', () => {
  const k = 5;
  const { model, w, b } = linearModel(21, k);
  // Inputs in the middle of the box, so no pixel reaches 0 or 1 on the way to the boundary.
  const n = 6;
  const x = randomArray(n * 16, 22, 0.45, 0.55);
  const labels = argmaxRows(logitsOf(model, tf.tensor4d(x, [n, 4, 4, 1])), k);
  for (const [name, p] of [
    ['fab-t', 'linf'],
    ['fab-t-l2', 'l2'],
  ] as const) {
    const r = minimalAdversarial(name, { model, x, shape: [4, 4, 1], labels }, {});
    for (let s = 0; s < n; s++) {
      const xs = x.subarray(s * 16, (s + 1) * 16);
      const y = labels[s]!;
      // The closed form: min over t of (z_y − z_t)/‖w_y − w_t‖_dual (l1 for l∞, l2 for l2).
      let exact = Infinity;
      for (let t = 0; t < k; t++) {
        if (t === y) continue;
        let gap = b[y]! - b[t]!;
        let dual = 0;
        for (let i = 0; i < 16; i++) {
          const dw = w[i * k + y]! - w[i * k + t]!;
          gap += dw * xs[i]!;
          dual += p === 'linf' ? Math.abs(dw) : dw * dw;
        }
        exact = Math.min(exact, gap / (p === 'linf' ? dual : Math.sqrt(dual)));
      }
      assert.equal(r.found[s], 1, `${name} sample ${s} is broken`);
      const got = r.distance[s]!;
      assert.ok(got >= exact * (1 - 1e-4), `${name} sample ${s}: ${got} below the true minimum ${exact}`);
      assert.ok(got <= exact * 1.01, `${name} sample ${s}: ${got} vs the true minimum ${exact}`);
    }
  }
});

test('FAB-T under a budget keeps the adversarials within ε; stopAtNorm skips the remaining targets', () => {
  const { model } = linearModel(31, 6);
  const n = 8;
  const x = randomArray(n * 16, 32, 0.3, 0.7);
  const labels = argmaxRows(logitsOf(model, tf.tensor4d(x, [n, 4, 4, 1])), 6);
  const inputs = { model, x, shape: [4, 4, 1] as [number, number, number], labels };
  const min = minimalAdversarial('fab-t', inputs, {});
  const eps = [...min.distance].sort((a, c) => a - c)[n >> 1]!;
  const r = runAttack('fab-t', inputs, [eps], {});
  const broken = Array.from(r.budgets[0]!.success);
  for (let s = 0; s < n; s++) {
    assert.ok(r.budgets[0]!.distance[s]! <= eps + 1e-6);
    if (min.distance[s]! <= eps * (1 - 1e-6)) assert.equal(broken[s], 1, `sample ${s} has an adversarial within ε`);
  }
  // Stopping at the first adversarial within ε changes no verdict.
  const stopped = runAttack('fab-t', inputs, [eps], { options: { stopAtNorm: eps } });
  assert.deepEqual(Array.from(stopped.budgets[0]!.success), broken);
  assert.equal(getAttack('fab-t').kind, 'minimization');
  assert.deepEqual(getAttack('fab-t-l2').defaults, { steps: 100, targetClasses: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9, stopAtNorm: 0 });
});
