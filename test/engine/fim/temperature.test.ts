import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import seedrandom from 'seedrandom';
import { fitTemperature, nllAtTemperature } from '../../../src/engine/fim/temperature';

/** Logits T0·u with labels drawn from softmax(u): the NLL-optimal temperature is ≈ T0. */
function synthetic(n: number, k: number, t0: number, seed: number) {
  const rng = seedrandom(String(seed));
  const logits = new Float64Array(n * k);
  const labels = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const u = Array.from({ length: k }, () => 3 * (rng() - 0.5));
    const e = u.map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    let r = rng() * z;
    let y = 0;
    while (y < k - 1 && (r -= e[y]!) > 0) y++;
    labels[s] = y;
    for (let i = 0; i < k; i++) logits[s * k + i] = t0 * u[i]!;
  }
  return { logits, labels };
}

for (const t0 of [0.5, 1, 4]) {
  test(`fitted temperature recovers T0 = ${t0} from calibrated-after-scaling logits`, () => {
    const { logits, labels } = synthetic(20000, 10, t0, 7);
    const fit = fitTemperature(logits, labels, 10);
    assert.ok(Math.abs(fit.temperature / t0 - 1) < 0.05, `T = ${fit.temperature}`);
    for (const f of [0.9, 1.1]) assert.ok(nllAtTemperature(logits, labels, 10, fit.temperature * f) >= fit.nll);
    assert.ok(fit.nll <= fit.nllAtOne + 1e-12);
  });
}

test('temperature scaling needs held-out samples', () => {
  assert.throws(() => fitTemperature([], [], 10), RangeError);
});
