import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { objectiveAndLogitGradient, objectiveGradient } from '../../../src/engine/attacks/tensorOps';
import { maxAbs, maxAbsDiff, useEngineBackend } from '../../helpers';
import { tieFreeInputs, tinyConvNet } from '../fim/reference';

/**
 * The attacks' input gradient through the one-forward path (layers/inputVjp.ts, the objective's
 * logit gradient in closed form) against tf.grad of attackObjective on the same weights with the
 * layers run one by one, for every loss and both targeting modes.
 */
before(async () => {
  await useEngineBackend();
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5): void {
  const tol = rel * Math.max(1, maxAbs(expected));
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

for (const loss of ['ce', 'margin'] as const)
  for (const targeted of [false, true]) {
    test(`objective gradient (${loss}, ${targeted ? 'targeted' : 'untargeted'}): the one-forward path equals tf.grad`, () => {
      const fused = tinyConvNet(7, 5, [8, 8, 1]);
      const plain = tinyConvNet(7, 5, [8, 8, 1], { fused: false });
      const B = 6;
      const x = tf.tensor4d(tieFreeInputs(B, 64, 3), [B, 8, 8, 1]);
      const classes = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
      const read = (m: typeof fused) =>
        tf.tidy(() => {
          const r = objectiveGradient(m, x, classes, loss, targeted);
          const out = [r.grad, r.objective, r.logits].map((t) => t.dataSync().slice());
          tf.dispose([r.objective, r.logits]);
          return out;
        });
      const ours = read(fused);
      const ref = read(plain);
      ['input gradient', 'objective', 'logits'].forEach((name, i) => close(ours[i]!, ref[i]!, name));
      tf.dispose([x, classes]);
      fused.dispose();
      plain.dispose();
    });
  }

test('the closed-form logit gradient: CE is p − e_c with the c-th entry −Σ_{j≠c} p_j; a tied margin maximum gets the full gradient, like tf.max', () => {
  const z = Float32Array.from([2, 1, 0, 5, 5, -1]);
  const ce = objectiveAndLogitGradient(z, Int32Array.from([0, 2]), 3, 'ce', false);
  const p0 = [2, 1, 0].map((v) => Math.exp(v) / (Math.exp(2) + Math.exp(1) + 1));
  close(ce.dz.subarray(0, 3), [-(p0[1]! + p0[2]!), p0[1]!, p0[2]!], 'CE row 0', 1e-6);
  close([ce.objective[0]!], [-Math.log(p0[0]!)], 'CE value', 1e-6);
  const m = objectiveAndLogitGradient(z, Int32Array.from([0, 2]), 3, 'margin', false);
  // Row 1: class 2, the other two logits tie at 5: both get +1, the class −1.
  assert.deepEqual(Array.from(m.dz.subarray(3, 6)), [1, 1, -1]);
  assert.equal(m.objective[1], 6);
  const t = objectiveAndLogitGradient(z, Int32Array.from([0, 2]), 3, 'margin', true);
  assert.deepEqual(Array.from(t.dz.subarray(3, 6)), [-1, -1, 1]);
});
