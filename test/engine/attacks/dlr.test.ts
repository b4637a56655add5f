import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { dlrLoss, dlrTargetedLoss } from '../../../src/engine/attacks/dlr';
import { useEngineBackend } from '../../helpers';
import { referenceOf, tieFreeInputs, tinyConvNet } from '../fim/reference';

/**
 * The DLR loss of APGD (Croce & Hein 2020, §4) against the formula worked by hand, its gradient
 * against finite differences (tfjs has no TopK gradient; dlr.ts writes it out), and the input
 * gradient through a model against finite differences of the float64 reference model.
 */
before(async () => {
  await useEngineBackend();
});

/** The DLR formulas, written directly from the paper. */
function dlrByHand(z: number[], y: number, t?: number): number {
  const s = [...z].sort((a, b) => b - a);
  if (t === undefined) {
    const other = Math.max(...z.filter((_, j) => j !== y));
    return -(z[y]! - other) / (s[0]! - s[2]! + 1e-12);
  }
  return -(z[y]! - z[t]!) / (s[0]! - (s[2]! + s[3]!) / 2 + 1e-12);
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

test('DLR by hand: label on top, label not on top, and the targeted form', () => {
  // z sorted: 4 (class 1), 3 (class 3), 1 (class 0), 0.5 (class 2), -2 (class 4).
  const z = [1, 4, 0.5, 3, -2];
  const logits = tf.tensor2d([z, z, z], [3, 5]);
  // Label 1 is on top: −(4 − 3)/(4 − 1) = −1/3. Label 0 is not: −(1 − 4)/(4 − 1) = +1.
  const u = values(dlrLoss(logits, tf.tensor1d([1, 0, 3], 'int32')));
  assert.ok(Math.abs(u[0]! - -1 / 3) < 1e-6, `${u[0]}`);
  assert.ok(Math.abs(u[1]! - 1) < 1e-6, `${u[1]}`);
  // Label 3, runner-up: −(3 − 4)/3 = 1/3.
  assert.ok(Math.abs(u[2]! - 1 / 3) < 1e-6, `${u[2]}`);
  // Targeted, label 1 → target 2: −(4 − 0.5)/(4 − (1 + 0.5)/2) = −3.5/3.25.
  const t = values(dlrTargetedLoss(logits, tf.tensor1d([1, 1, 3], 'int32'), tf.tensor1d([2, 3, 1], 'int32')));
  assert.ok(Math.abs(t[0]! - -3.5 / 3.25) < 1e-6, `${t[0]}`);
  assert.ok(Math.abs(t[1]! - -1 / 3.25) < 1e-6, `${t[1]}`);
  assert.ok(Math.abs(t[2]! - 1 / 3.25) < 1e-6, `${t[2]}`);
});

test('DLR is invariant to shifting and scaling the logits', () => {
  const z = tf.tensor2d([[0.3, 2.2, -1, 0.9, 0.1]]);
  const y = tf.tensor1d([1], 'int32');
  const base = values(dlrLoss(z, y))[0]!;
  const moved = values(dlrLoss(tf.add<tf.Tensor2D>(tf.mul(z, 1000), 7), y))[0]!;
  assert.ok(Math.abs(base - moved) < 1e-5, `${base} vs ${moved}`);
  const tb = values(dlrTargetedLoss(z, y, tf.tensor1d([3], 'int32')))[0]!;
  const tm = values(dlrTargetedLoss(tf.mul<tf.Tensor2D>(z, 0.01), y, tf.tensor1d([3], 'int32')))[0]!;
  assert.ok(Math.abs(tb - tm) < 1e-4, `${tb} vs ${tm}`);
});

test('the written-out DLR gradient matches finite differences in the logits', () => {
  const rows = [
    [0.3, 2.2, -1, 0.9, 0.1, 1.7],
    [2.5, 0.2, 0.4, -0.3, 1.1, 0.6],
  ];
  const labels = [1, 4];
  const targets = [5, 0];
  for (const targeted of [false, true]) {
    const f = (z: number[], s: number) => dlrByHand(z, labels[s]!, targeted ? targets[s] : undefined);
    const g = tf.grad((zt: tf.Tensor) => {
      const l = targeted
        ? dlrTargetedLoss(zt as tf.Tensor2D, tf.tensor1d(labels, 'int32'), tf.tensor1d(targets, 'int32'))
        : dlrLoss(zt as tf.Tensor2D, tf.tensor1d(labels, 'int32'));
      return tf.sum(l);
    })(tf.tensor2d(rows));
    const gv = values(g);
    rows.forEach((z, s) => {
      for (let j = 0; j < z.length; j++) {
        const h = 1e-5;
        const zp = [...z];
        zp[j]! += h;
        const zm = [...z];
        zm[j]! -= h;
        const fd = (f(zp, s) - f(zm, s)) / (2 * h);
        assert.ok(Math.abs(gv[s * z.length + j]! - fd) < 1e-4, `targeted=${targeted} row ${s} ∂/∂z${j}: ${gv[s * z.length + j]} vs ${fd}`);
      }
    });
  }
});

test('the DLR input gradient through a model matches finite differences of the float64 reference', () => {
  const model = tinyConvNet(7);
  const ref = referenceOf(model);
  const n = 64;
  const xs = tieFreeInputs(2, n, 11);
  const labels = [2, 0];
  const targets = [4, 3];
  for (const targeted of [false, true]) {
    const g = tf.grad((x: tf.Tensor) => {
      const z = model.apply(x, { training: false }) as tf.Tensor2D;
      const y = tf.tensor1d(labels, 'int32');
      return tf.sum(targeted ? dlrTargetedLoss(z, y, tf.tensor1d(targets, 'int32')) : dlrLoss(z, y));
    })(tf.tensor4d(xs, [2, 8, 8, 1]));
    const gv = values(g);
    for (let s = 0; s < 2; s++) {
      const x = Float64Array.from(xs.subarray(s * n, (s + 1) * n));
      const f = (v: Float64Array) => dlrByHand(Array.from(ref.logits(v)), labels[s]!, targeted ? targets[s] : undefined);
      for (const t of [3, 20, 41, 60]) {
        const h = 1e-6;
        const xp = Float64Array.from(x);
        xp[t]! += h;
        const xm = Float64Array.from(x);
        xm[t]! -= h;
        const fd = (f(xp) - f(xm)) / (2 * h);
        assert.ok(
          Math.abs(gv[s * n + t]! - fd) < 1e-3 * Math.max(1, Math.abs(fd)),
          `targeted=${targeted} ∂/∂x${t}: ${gv[s * n + t]} vs ${fd}`,
        );
      }
    }
  }
});
