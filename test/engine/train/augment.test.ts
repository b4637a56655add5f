import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { cropFlipParams, randomCropFlip } from '../../../src/engine/train/augment';
import { makeBatchTransform } from '../../../src/engine/train/transforms';
import type { RunConfig } from '../../../src/runs/types';
import { randomArray, useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

/** The augmented batch computed pixel by pixel: zero padding, crop at (dy, dx), optional mirror. */
function reference(x: Float32Array, [n, h, w, c]: number[], pad: number, p: ReturnType<typeof cropFlipParams>): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n!; i++) {
    for (let y = 0; y < h!; y++) {
      for (let xx = 0; xx < w!; xx++) {
        const cx = p.flip[i] ? w! - 1 - xx : xx;
        const sy = y + p.dy[i]! - pad;
        const sx = cx + p.dx[i]! - pad;
        for (let k = 0; k < c!; k++) {
          const inside = sy >= 0 && sy < h! && sx >= 0 && sx < w!;
          out[((i * h! + y) * w! + xx) * c! + k] = inside ? x[((i * h! + sy) * w! + sx) * c! + k]! : 0;
        }
      }
    }
  }
  return out;
}

test('random crop + flip equals the pixel-by-pixel definition', () => {
  const shape = [6, 8, 7, 3];
  const data = randomArray(6 * 8 * 7 * 3, 5, 0.1, 1);
  for (const flip of [true, false]) {
    const p = cropFlipParams(6, 4, flip, 9, 17);
    const got = tf.tidy(() =>
      randomCropFlip(tf.tensor4d(data, shape as [number, number, number, number]), { pad: 4, flip, seed: 9, step: 17 }).dataSync(),
    );
    assert.deepEqual(Array.from(got), Array.from(reference(data, shape, 4, p)));
  }
});

test('the random choices depend only on (seed, step): resume replays them; crop alone never flips', () => {
  const a = cropFlipParams(64, 4, true, 3, 100);
  const b = cropFlipParams(64, 4, true, 3, 100);
  assert.deepEqual(a, b);
  assert.notDeepEqual(cropFlipParams(64, 4, true, 3, 101), a);
  assert.notDeepEqual(cropFlipParams(64, 4, true, 4, 100), a);
  assert.ok(a.flip.some((f) => f === 1) && a.flip.some((f) => f === 0));
  assert.ok(a.dy.every((v) => v >= 0 && v <= 8) && new Set(a.dx).size > 3);
  assert.ok(cropFlipParams(64, 4, false, 3, 100).flip.every((f) => f === 0));
});

function config(extra: Partial<RunConfig>): RunConfig {
  return {
    formatVersion: 1,
    name: 't',
    model: 'm',
    dataset: 'cifar10',
    mu: 0,
    labelSmoothing: 0,
    epochs: 1,
    batchSize: 4,
    learningRate: 1e-3,
    seed: 2,
    trainSamples: 4,
    testSamples: 4,
    backendRequested: 'auto',
    createdAt: '',
    ...extra,
  };
}

test('the run config picks the transform: none → no transform, crop → no mirrored images', () => {
  assert.equal(makeBatchTransform(config({ augmentation: 'none' }), null as never), null);
  assert.equal(makeBatchTransform(config({}), null as never), null);
  const crop = makeBatchTransform(config({ augmentation: 'crop' }), null as never)!;
  // A batch whose only structure is left/right: a mirror would show as a reversed ramp.
  const ramp = Float32Array.from({ length: 4 * 32 * 32 }, (_, i) => (i % 32) / 32);
  for (let step = 0; step < 5; step++) {
    const out = tf.tidy(() =>
      crop(tf.tensor4d(ramp, [4, 32, 32, 1]), tf.tensor1d([0, 1, 2, 3], 'int32'), { epoch: 0, step, seed: 2 }).dataSync(),
    );
    for (let i = 0; i < 4; i++) {
      const row = Array.from(out.subarray(i * 1024 + 16 * 32, i * 1024 + 17 * 32)).filter((v) => v > 0);
      for (let k = 1; k < row.length; k++) assert.ok(row[k]! > row[k - 1]!, 'crop-only keeps the left-to-right order');
    }
  }
  assert.throws(() => makeBatchTransform(config({ augmentation: 'rotate' as never }), null as never), /unknown augmentation "rotate"/);
});
