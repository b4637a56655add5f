import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { modelFlops } from '../../../src/engine/models/flops';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { useEngineBackend } from '../../helpers';

/** The FLOP count behind the benchmark's "fraction of peak", against multiply-adds counted by hand from the layer shapes. */
before(async () => {
  await useEngineBackend();
});

test('the MNIST ConvNet: conv 28·28·(3·3·1)·32 + conv 14·14·(3·3·32)·64 + dense 3136·10 multiply-adds', async () => {
  const imageShape: [number, number, number] = [28, 28, 1];
  const def = await resolveDefinition('convnet', { inputShape: imageShape, numClasses: 10 });
  const { model } = await buildModel(def, { imageShape, numClasses: 10, seed: 1 });
  const conv1 = 28 * 28 * 9 * 32;
  const conv2 = 14 * 14 * 9 * 32 * 64;
  const dense = 7 * 7 * 64 * 10;
  const f = modelFlops(model);
  assert.deepEqual(
    f.layers.map((l) => l.macs),
    [conv1, conv2, dense],
  );
  assert.equal(f.forward, 2 * (conv1 + conv2 + dense));
  // Backward: both gradients of every layer, except the first layer's input gradient.
  assert.equal(f.train, 2 * (conv1 + conv2 + dense) + 2 * (conv1 + conv2 + dense) + 2 * (conv2 + dense));
  model.dispose();
});

test('strided and valid convolutions count their output positions; layers without multiply-adds count nothing', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'valid' }), // 4×4 outputs
      tfl.layers.reLU(),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 5 }),
    ],
  });
  const conv = 4 * 4 * (3 * 3 * 3) * 4;
  const dense = 64 * 5;
  const f = modelFlops(model);
  assert.deepEqual(
    f.layers.map((l) => l.macs),
    [conv, dense],
  );
  assert.equal(f.train, 2 * (3 * (conv + dense) - conv));
  model.dispose();
});
