import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { builtinDefinitions } from '../../../src/engine/models/builtin';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { defendedLoss } from '../../../src/engine/train/loss';
import { randomArray, useEngineBackend } from '../../helpers';

before(async () => {
  await useEngineBackend();
});

async function build(name: string, numClasses: number) {
  const imageShape: [number, number, number] = [32, 32, 3];
  const def = await resolveDefinition(name, { inputShape: imageShape, numClasses });
  return (await buildModel(def, { imageShape, numClasses, seed: 3 })).model;
}

const classes = (m: tfl.LayersModel) => m.layers.map((l) => l.getClassName());
const count = (m: tfl.LayersModel, cls: string) => classes(m).filter((c) => c === cls).length;

test('VGG-11: 8 conv + 3 dense weight layers, 5 pools, 9,761,930 parameters (9,756,426 trainable)', async () => {
  const m = await build('vgg11', 10);
  assert.equal(count(m, 'Conv2D'), 8);
  assert.equal(count(m, 'Dense'), 3);
  assert.equal(count(m, 'BatchNormalization'), 8);
  assert.equal(count(m, 'MaxPooling2D'), 5);
  assert.deepEqual(
    m.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => (l.getConfig() as { filters: number }).filters),
    [64, 128, 256, 256, 512, 512, 512, 512],
  );
  assert.equal(m.countParams(), 9761930);
  assert.equal(
    m.trainableWeights.reduce((a, w) => a + w.shape.reduce((x, y) => x! * y!, 1)!, 0),
    9756426,
  );
  assert.deepEqual(m.outputs[0]!.shape, [null, 10]);
  m.dispose();
});

test('ResNet-14: 13 conv + 1 dense on the main path, 2 projection shortcuts, 6 residual adds, 178,523 parameters (177,403 trainable)', async () => {
  const m = await build('resnet14', 43);
  const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.name);
  assert.equal(convs.filter((n) => !n.endsWith('_proj')).length, 13);
  assert.deepEqual(
    convs.filter((n) => n.endsWith('_proj')),
    ['s2b1_proj', 's3b1_proj'],
  );
  assert.equal(count(m, 'Add'), 6);
  assert.equal(count(m, 'Dense'), 1);
  assert.equal(count(m, 'GlobalAveragePooling2D'), 1);
  assert.equal(m.countParams(), 178523);
  assert.equal(
    m.trainableWeights.reduce((a, w) => a + w.shape.reduce((x, y) => x! * y!, 1)!, 0),
    177403,
  );
  assert.deepEqual(m.outputs[0]!.shape, [null, 43]);
  // A residual block's output really is relu(branch + shortcut): the add layer has two inputs.
  const add = m.getLayer('s1b1_add');
  assert.equal((add.inboundNodes[0]!.inboundLayers as unknown[]).length, 2);
  m.dispose();
});

test('the built-ins are listed with their paper datasets (the extension quick pick reads this list)', () => {
  const byName = Object.fromEntries(builtinDefinitions().map((b) => [b.name, b.defaultDataset]));
  assert.equal(byName.vgg11, 'cifar10');
  assert.equal(byName.resnet14, 'gtsrb');
});

/** A few Adam steps on 8 fixed random images with distinct labels; returns [loss, ce] before and after. */
async function overfits(
  name: string,
  numClasses: number,
  mu: number,
  steps: number,
): Promise<{ loss: [number, number]; ce: [number, number] }> {
  const m = await build(name, numClasses);
  const opt = tf.train.adam(1e-3);
  const x = tf.tensor4d(randomArray(8 * 32 * 32 * 3, 11, 0, 1), [8, 32, 32, 3]);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
  const eval_ = () =>
    tf.tidy(() => {
      const { loss, ce } = defendedLoss(m.apply(x, { training: true }) as tf.Tensor2D, y, { mu });
      return [loss.dataSync()[0]!, ce.dataSync()[0]!] as const;
    });
  const before = eval_();
  for (let s = 0; s < steps; s++) {
    const loss = opt.minimize(() => defendedLoss(m.apply(x, { training: true }) as tf.Tensor2D, y, { mu }).loss, true)!;
    loss.dispose();
  }
  const after = eval_();
  tf.dispose([x, y]);
  opt.dispose();
  m.dispose();
  return { loss: [before[0], after[0]], ce: [before[1], after[1]] };
}

for (const [name, k, steps] of [
  ['vgg11', 10, 6],
  ['resnet14', 43, 8],
] as const) {
  for (const mu of [0, 0.02]) {
    test(`${name} overfits a batch of 8 images ${mu ? `with the trace term (μ=${mu})` : 'without the trace term'}`, async () => {
      const { loss, ce } = await overfits(name, k, mu, steps);
      const what = `${name} μ=${mu}: loss ${loss[0].toFixed(3)} → ${loss[1].toFixed(3)}, CE ${ce[0].toFixed(3)} → ${ce[1].toFixed(3)} after ${steps} steps`;
      assert.ok(loss.every(Number.isFinite) && ce.every(Number.isFinite), what);
      if (mu === 0) {
        assert.ok(ce[1] < 0.5 * ce[0], what);
      } else {
        // μ·Σ 1/p_i is at least μK² (uniform outputs), and its first effect is to flatten the
        // outputs (docs/design.md §2): the loss above that floor must halve, and the CE still fall.
        const floor = mu * k * k;
        assert.ok(loss[1] - floor < 0.5 * (loss[0] - floor), what);
        assert.ok(ce[1] < ce[0], what);
      }
    });
  }
}
