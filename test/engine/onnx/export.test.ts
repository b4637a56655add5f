import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { modelToOnnx } from '../../../src/engine/models/exportOnnx';
import { decodeModel } from '../../../src/engine/onnx/onnxSchema';
import { randomArray, useEngineBackend } from '../../helpers';
import { engineLogits, engineModel, fixture, images, MNIST_IMAGE, ortRun, relDiff, softmaxRows, toNchw } from './helpers';

/**
 * Export: an imported model comes back as the same graph (input and output names, opset, nodes,
 * initialisers) with the run's weights; a built-in model is converted. onnxruntime on the exported
 * file gives the engine's logits (≤ 1e-4 relative).
 */
before(async () => {
  await useEngineBackend();
});

/** Changes every weight, as fine-tuning would, so the test sees the run's weights and not the file's. */
function perturb(model: {
  weights: { read(): tf.Tensor; write(t: tf.Tensor): void; shape: (number | null)[]; trainable: boolean }[];
}): void {
  model.weights.forEach((w, i) => {
    const t = w.read();
    const size = t.size;
    const noise = tf.tensor(randomArray(size, 31 + i, -0.05, 0.05), t.shape);
    // Running variances must stay positive.
    w.write(tf.tidy(() => (w.trainable ? tf.add(t, noise) : tf.mul(t, tf.add(1, noise)))));
    noise.dispose();
  });
}

for (const name of ['resnet_bn_norm_op17', 'depthwise_op11', 'avgpool_view_op11', 'nhwc_input_op13']) {
  test(`${name}: exported with the run's weights, the same graph, and onnxruntime gives the engine's logits`, async () => {
    const file = fixture(`${name}.onnx`);
    const { model } = await engineModel(file);
    try {
      perturb(model);
      const e = modelToOnnx(model);
      assert.equal(e.kind, 'imported');
      const original = decodeModel(new Uint8Array(fs.readFileSync(file)));
      const exported = decodeModel(e.bytes);
      const og = original.graph!;
      const xg = exported.graph!;
      assert.deepEqual(exported.opset_import, original.opset_import);
      assert.equal(exported.ir_version, original.ir_version);
      assert.deepEqual(
        xg.input!.map((i) => [i.name, JSON.stringify(i.type)]),
        og.input!.filter((i) => !og.initializer!.some((t) => t.name === i.name)).map((i) => [i.name, JSON.stringify(i.type)]),
      );
      assert.deepEqual(
        xg.output!.map((o) => [o.name, JSON.stringify(o.type)]),
        og.output!.map((o) => [o.name, JSON.stringify(o.type)]),
      );
      // The same nodes, except that an Identity of an initialiser (PyTorch writes one when two
      // buffers hold equal values) has become an initialiser of that name (read.ts deAlias).
      const inits = new Map(og.initializer!.map((t) => [t.name, t]));
      const aliases = og.node!.filter((n) => n.op_type === 'Identity' && inits.has(n.input![0]));
      assert.deepEqual(
        xg.node!.map((n) => `${n.op_type}:${n.name}`),
        og.node!.filter((n) => !aliases.includes(n)).map((n) => `${n.op_type}:${n.name}`),
      );
      const initKey = (t: { name?: string; dims?: number[]; data_type?: number }) => `${t.name}:${t.dims!.join('x')}:${t.data_type}`;
      assert.deepEqual(
        xg.initializer!.map(initKey).sort(),
        [...og.initializer!.map(initKey), ...aliases.map((n) => initKey({ ...inits.get(n.input![0])!, name: n.output![0]! }))].sort(),
      );
      const n = 4;
      const x = images(n, 41);
      const nhwc = name.startsWith('nhwc');
      const ref = await ortRun(
        e.bytes,
        new ort.Tensor('float32', nhwc ? x : toNchw(x, n, MNIST_IMAGE), nhwc ? [n, 28, 28, 1] : [n, 1, 28, 28]),
      );
      let ours = engineLogits(model, x, n, MNIST_IMAGE);
      if (name.startsWith('depthwise')) ours = softmaxRows(ours, 10);
      assert.ok(relDiff(ours, ref) <= 1e-4, `relative difference ${relDiff(ours, ref)}`);
      // And the file's own weights are gone: the original gives other logits.
      const orig = await ortRun(
        file,
        new ort.Tensor('float32', nhwc ? x : toNchw(x, n, MNIST_IMAGE), nhwc ? [n, 28, 28, 1] : [n, 1, 28, 28]),
      );
      assert.ok(relDiff(orig, ref) > 1e-3, 'the export carries the changed weights');
    } finally {
      model.dispose();
    }
  });
}

const BUILTINS: [string, [number, number, number], number][] = [
  ['convnet', [28, 28, 1], 10],
  ['vgg11', [32, 32, 3], 10],
  ['resnet14', [32, 32, 3], 43],
];

for (const [name, image, classes] of BUILTINS) {
  test(`built-in ${name} converts to an NCHW ONNX graph whose onnxruntime logits equal the engine's`, async () => {
    const def = await resolveDefinition(name, { inputShape: image, numClasses: classes });
    const { model } = await buildModel(def, { imageShape: image, numClasses: classes, seed: 3 });
    try {
      perturb(model);
      const n = 2;
      const x = images(n, 5, image);
      const ours = engineLogits(model, x, n, image);
      const [h, w, c] = image;
      for (const layout of ['nchw', 'nhwc'] as const) {
        if (layout === 'nhwc' && name !== 'convnet') continue;
        const e = modelToOnnx(model, { inputLayout: layout });
        assert.equal(e.kind, 'converted');
        const feed =
          layout === 'nchw' ? new ort.Tensor('float32', toNchw(x, n, image), [n, c, h, w]) : new ort.Tensor('float32', x, [n, h, w, c]);
        const ref = await ortRun(e.bytes, feed);
        assert.ok(relDiff(ref, ours) <= 1e-4, `${name} (${layout}): relative difference ${relDiff(ref, ours)}`);
      }
    } finally {
      model.dispose();
    }
  });
}
