import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeSourceHash, nativeStatus } from '../../../src/engine/backend/native/addon';
import { currentBackend } from '../../../src/engine/backend/select';
import { randomArray, useEngineBackend } from '../../helpers';

/**
 * The optional native addon: what the backend report says about it, that bad arguments are
 * errors (never memory corruption), that its parallel reductions give the same bits whatever the
 * thread count (resumed training replays exactly), and that the engine runs without it.
 */
const root = path.resolve(__dirname, '..', '..', '..');
let backend = '';
before(async () => {
  backend = await useEngineBackend();
});

test('the backend report says whether the native kernels are used, and why not', (t) => {
  const r = currentBackend()!;
  if (backend !== 'wasm') return t.skip(`the native kernels serve the wasm backend; this run uses ${backend}`);
  const { addon, summary } = nativeStatus();
  assert.ok(r.details.includes(summary), `details ${JSON.stringify(r.details)} lack "${summary}"`);
  if (addon) {
    assert.match(summary, /^native kernels on \(\w+, \d+ threads?\)$/);
    assert.ok(r.details.some((d) => d.startsWith('native: ') && d.includes('Conv2DBackpropFilter')));
  } else {
    assert.match(summary, /^native kernels off: .+/);
    assert.ok(r.details.some((d) => d.startsWith('project kernels: ') && d.includes('Conv2DBackpropFilter')));
  }
});

test('the built addon matches the sources (the engine refuses a stale build)', (t) => {
  const info = path.join(root, 'native', 'build', 'build-info.json');
  if (!fs.existsSync(info)) return t.skip('native addon not built');
  const built = JSON.parse(fs.readFileSync(info, 'utf8')) as { sourceHash: string };
  const current = nativeSourceHash(path.join(root, 'native', 'src'));
  if (process.env.FIM_NATIVE === '0') return t.skip('FIM_NATIVE=0 turns the addon off');
  if (built.sourceHash === current) assert.ok(nativeStatus().addon, nativeStatus().summary);
  else assert.match(nativeStatus().summary, /older than native\/src/);
});

test('native kernels reject tensors outside the heap and malformed arguments', (t) => {
  const addon = nativeStatus().addon;
  if (!addon) return t.skip(nativeStatus().summary);
  const heap = new ArrayBuffer(1024);
  // x at 0 (64 floats), out beyond the end
  assert.throws(() => addon.sumRows(heap, new Float64Array([0, 2048, 8, 8])), /outside the heap/);
  assert.throws(() => addon.sumRows(heap, new Float64Array([2, 0, 8, 8])), /outside the heap/, 'misaligned offset');
  assert.throws(() => addon.sumRows(heap, new Float64Array([0, 256])), /too few arguments/);
  assert.throws(() => addon.sumRows(heap, [0, 256, 8, 8] as unknown as Float64Array), /Float64Array/);
  assert.throws(() => addon.conv2d(heap, new Float64Array(20)), /invalid dimensions/);
  // A correct call on a plain ArrayBuffer works.
  const f = new Float32Array(heap);
  f.set(randomArray(64, 3), 0);
  addon.sumRows(heap, new Float64Array([0, 512, 8, 8]));
  let s0 = 0;
  for (let r = 0; r < 8; r++) s0 += f[r * 8]!;
  assert.ok(Math.abs(f[128]! - s0) < 1e-5);
});

test('native kernels reject NaN and out-of-range integers, huge strides, inconsistent output sizes and aliased outputs', (t) => {
  const addon = nativeStatus().addon;
  if (!addon) return t.skip(nativeStatus().summary);
  const heap = new ArrayBuffer(1 << 16);
  // conv2d: [x, w, bias|-1, out, B, IH, IW, CI, OH, OW, CO, FH, FW, sh, sw, dh, dw, pt, pl, act]
  // A valid 1×4×4×1 input, 3×3 filter, valid padding: 2×2 output.
  const conv = (dims: number[], out = 2048) => new Float64Array([0, 1024, -1, out, ...dims, 0]);
  const ok = [1, 4, 4, 1, 2, 2, 1, 3, 3, 1, 1, 1, 1, 0, 0];
  addon.conv2d(heap, conv(ok));
  const bad = (i: number, v: number) => conv(ok.map((x, j) => (j === i ? v : x)));
  assert.throws(() => addon.conv2d(heap, bad(1, NaN)), /not an integer/, 'NaN height');
  assert.throws(() => addon.conv2d(heap, bad(0, 3e9)), /not an integer in range/, 'a batch beyond int');
  assert.throws(() => addon.conv2d(heap, bad(1, 4.5)), /not an integer/, 'a fractional size');
  assert.throws(() => addon.conv2d(heap, bad(9, 2 ** 30)), /invalid dimensions/, 'a stride that overflows the index arithmetic');
  assert.throws(() => addon.conv2d(heap, bad(13, 2 ** 30)), /invalid dimensions/, 'huge padding');
  addon.conv2d(heap, bad(4, 3)); // one more output row: a bottom padding of 1 ('same'-like), still valid
  assert.throws(() => addon.conv2d(heap, bad(4, 6)), /output size does not follow/, 'an output taller than the input allows');
  assert.throws(() => addon.conv2d(heap, bad(13, 3)), /output size does not follow/, 'top padding wider than the window');
  assert.throws(() => addon.conv2d(heap, bad(5, 1)), /output size does not follow/, 'an output narrower than the input gives');
  assert.throws(() => addon.conv2d(heap, conv(ok, 16)), /overlaps/, 'output aliasing the input');
  // maxPool: [x, y, B, IH, IW, C, OH, OW, FH, FW, sh, sw, dh, dw, pt, pl]; y on top of x.
  const pool = [1, 4, 4, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0];
  addon.maxPool(heap, new Float64Array([0, 1024, ...pool]));
  assert.throws(() => addon.maxPool(heap, new Float64Array([0, 0, ...pool])), /overlaps/);
  assert.throws(() => addon.maxPool(heap, new Float64Array([0, 1024, ...pool.map((x, j) => (j === 4 ? 100 : x))])), /output size/);
  // Element counts and epsilons: NaN is refused, not cast.
  assert.throws(() => addon.reluGrad(heap, new Float64Array([0, 256, 512, NaN])), /not a count/);
  assert.throws(() => addon.batchNormInference(heap, new Float64Array([0, 256, 512, -1, -1, 1024, 4, 2, NaN])), /finite number/);
  assert.throws(() => addon.sumRows(heap, new Float64Array([0, 0, 8, 8])), /overlaps/, 'sum into its own input');
});

test('native reductions give the same bits with 1 and 2 threads (exact replay after resume)', (t) => {
  const addon = nativeStatus().addon;
  if (!addon || backend !== 'wasm') return t.skip(nativeStatus().summary);
  const threads = addon.info().threads;
  const x = tf.tensor4d(randomArray(16 * 14 * 14 * 32, 5), [16, 14, 14, 32]);
  const dy = tf.tensor4d(randomArray(16 * 14 * 14 * 64, 6), [16, 14, 14, 64]);
  const run = () =>
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), dy)));
      const [, dw] = g([x, tf.ones([3, 3, 32, 64])]);
      return [dw!, tf.sum(x, [0, 1, 2]), tf.moments(x, [0, 1, 2]).variance].map((v) => Array.from(v.dataSync()));
    });
  try {
    addon.setThreads(1);
    const one = run();
    addon.setThreads(2);
    const two = run();
    one.forEach((v, i) => assert.deepEqual(two[i], v, `output ${i} differs between 1 and 2 threads`));
  } finally {
    addon.setThreads(threads);
    tf.dispose([x, dy]);
  }
});

test('without the addon (FIM_NATIVE=0) the engine reports why and trains on the portable kernels', () => {
  const script = `
    import { initBackend } from '../../../src/engine/backend/select';
    import * as tf from '@tensorflow/tfjs-core';
    (async () => {
      const r = await initBackend('wasm');
      const x = tf.randomNormal([4, 8, 8, 3]);
      const g = tf.grad((f) => tf.sum(tf.conv2d(x, f, 1, 'same')))(tf.ones([3, 3, 3, 5]));
      console.log(JSON.stringify({ details: r.details, finite: g.dataSync().every(Number.isFinite) }));
    })();`;
  const file = path.join(root, 'test', 'engine', 'backend', '.native-off.tmp.ts');
  fs.writeFileSync(file, script);
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FIM_NATIVE: '0' },
    });
    assert.equal(r.status, 0, r.stderr.slice(-1000));
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { details: string[]; finite: boolean };
    assert.ok(out.details.includes('native kernels off: disabled by FIM_NATIVE=0'), JSON.stringify(out.details));
    assert.ok(out.finite);
  } finally {
    fs.rmSync(file, { force: true });
  }
});
