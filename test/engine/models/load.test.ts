import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { findBuiltin } from '../../../src/engine/models/builtin';
import { writeModelFiles } from '../../../src/engine/models/files';
import { buildModel, ModelDefinitionError, resolveDefinition } from '../../../src/engine/models/load';
import { tmpDir, useEngineBackend } from '../../helpers';

const MNIST = { imageShape: [28, 28, 1] as [number, number, number], numClasses: 10 };

before(async () => {
  await useEngineBackend();
});

async function build(spec: string, opts = MNIST, seed = 1) {
  const def = await resolveDefinition(spec, { inputShape: opts.imageShape, numClasses: opts.numClasses });
  return buildModel(def, { ...opts, seed });
}

test('the built-in ConvNet has the paper architecture and 50,570 parameters', async () => {
  const { model } = await build('convnet');
  const classes = model.layers.map((l) => l.getClassName());
  assert.deepEqual(classes, [
    'Conv2D',
    'BatchNormalization',
    'ReLU',
    'MaxPooling2D',
    'Conv2D',
    'BatchNormalization',
    'ReLU',
    'MaxPooling2D',
    'Flatten',
    'Dense',
  ]);
  assert.equal(model.countParams(), 50570);
  assert.deepEqual(model.outputs[0]!.shape, [null, 10]);
  model.dispose();
});

test('--seed fixes the initial weights', async () => {
  const a = await build('convnet', MNIST, 7);
  const b = await build('convnet', MNIST, 7);
  const c = await build('convnet', MNIST, 8);
  const w = (m: tfl.LayersModel) => m.getWeights()[0]!.dataSync();
  assert.deepEqual(Array.from(w(a.model)), Array.from(w(b.model)));
  assert.notDeepEqual(Array.from(w(a.model)), Array.from(w(c.model)));
  [a, b, c].forEach((x) => x.model.dispose());
});

test('a definition that does not fit the dataset is rejected with what does not fit', async () => {
  await assert.rejects(
    build('convnet', { imageShape: [32, 32, 3], numClasses: 10 }),
    (e: Error) =>
      e instanceof ModelDefinitionError && /expects input shape \[28, 28, 1\] but the dataset's images are \[32, 32, 3\]/.test(e.message),
  );
  await assert.rejects(
    build('convnet', { imageShape: [28, 28, 1], numClasses: 43 }),
    /outputs shape \[\?, 10\] but the dataset has 43 classes/,
  );
  await assert.rejects(build('nosuchmodel'), /neither a built-in definition \(convnet.*\) nor an existing file/);
});

test('a user model.json that ends in softmax is trained on its logits', async () => {
  const dir = tmpDir();
  const m = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10, activation: 'softmax' })],
  });
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology: m.toJSON(null, false), weightsManifest: [] }));
  const { model, notes } = await build(file);
  assert.match(notes.join(), /softmax activation; the engine uses its logits/);
  const out = Array.from((model.predict(tf.ones([1, 28, 28, 1])) as tf.Tensor).dataSync());
  const looksLikeProbs = Math.abs(out.reduce((a, b) => a + b, 0) - 1) < 1e-6 && out.every((v) => v >= 0);
  assert.equal(looksLikeProbs, false, 'outputs must be logits, not probabilities');
});

test('a model.json with weights is loaded for fine-tuning, and its values are kept', async () => {
  const dir = tmpDir();
  const m = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10 })] });
  await writeModelFiles(m, dir);
  const { model, notes } = await build(dir);
  assert.match(notes.join(), /fine-tuning/);
  assert.deepEqual(Array.from(model.getWeights()[0]!.dataSync()), Array.from(m.getWeights()[0]!.dataSync()));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(10));
  await assert.rejects(build(dir), /weight files hold 10 bytes but the manifest describes 31400/);
});

test('corrupt or foreign model files give clear errors', async () => {
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, '{"modelTopology": ');
  await assert.rejects(build(bad), /bad\.json: not a readable JSON model definition/);
  const other = path.join(dir, 'other.json');
  fs.writeFileSync(other, '{"hello": 1}');
  await assert.rejects(build(other), /not a tfjs Layers model\.json \(no "modelTopology"\)/);
  const txt = path.join(dir, 'model.txt');
  fs.writeFileSync(txt, 'x');
  await assert.rejects(build(txt), /unsupported model definition/);
});

test('a TypeScript model module is bundled and its default export builds the model', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'mymodel.ts');
  fs.writeFileSync(
    file,
    `import * as tf from '@tensorflow/tfjs';
export default function build(ctx: { inputShape: number[]; numClasses: number }): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: ctx.inputShape, filters: 4, kernelSize: 3 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: ctx.numClasses, activation: 'softmax' }));
  return m;
}
`,
  );
  const { model, notes } = await build(file);
  assert.equal(model.layers.length, 3);
  assert.match(notes.join(), /softmax/);
  const broken = path.join(dir, 'broken.ts');
  fs.writeFileSync(broken, 'export default function (: number) {}');
  await assert.rejects(build(broken), /broken\.ts: cannot be compiled/);
  const wrong = path.join(dir, 'wrong.js');
  fs.writeFileSync(wrong, 'module.exports = () => 42;');
  await assert.rejects(build(wrong), /must be a tf\.LayersModel or a function returning one \(got number\)/);
});

test('built-in definitions are plain tfjs Layers model.json files', () => {
  const def = findBuiltin('convnet')!;
  assert.equal(def.modelJson.format, 'layers-model');
  assert.equal(def.modelJson.modelTopology.class_name, 'Sequential');
});
