import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { modelFromGraph } from '../../../src/engine/onnx/graph';
import { DataType, encodeModel } from '../../../src/engine/onnx/onnxSchema';
import { readOnnx } from '../../../src/engine/onnx/read';
import { floatToHalf, halfToFloat } from '../../../src/engine/onnx/tensor';
import { useEngineBackend } from '../../helpers';
import { engineLogits, engineModel, fixture, images, MNIST_IMAGE, ortRun, relDiff, softmaxRows, toNchw } from './helpers';

/**
 * Every PyTorch-exported fixture gives onnxruntime's logits (≤ 1e-4 relative) when imported, on
 * random images in [0, 1]. A model that ends in Softmax is compared after the softmax, since the
 * engine keeps the logits before it.
 */
before(async () => {
  await useEngineBackend();
});

const N = 6;
const PYTORCH = [
  'convnet_op13',
  'resnet_bn_norm_op13',
  'resnet_bn_norm_op17',
  'depthwise_op11',
  'depthwise_op14',
  'avgpool_view_op11',
  'avgpool_view_op17',
  'nhwc_input_op13',
  'external',
];

for (const name of PYTORCH) {
  test(`${name}: imported logits equal onnxruntime's`, async () => {
    const file = fixture(`${name}.onnx`);
    const { model, notes } = await engineModel(file);
    try {
      const x = images(N, name.length);
      const nhwc = name.startsWith('nhwc');
      const feed = new ort.Tensor('float32', nhwc ? x : toNchw(x, N, MNIST_IMAGE), nhwc ? [N, 28, 28, 1] : [N, 1, 28, 28]);
      const ref = await ortRun(file, feed);
      let ours = engineLogits(model, x, N, MNIST_IMAGE);
      const endsInSoftmax = notes.some((n) => n.includes('ends in Softmax'));
      assert.equal(endsInSoftmax, name.startsWith('depthwise'), 'only the depthwise fixtures end in a softmax');
      if (endsInSoftmax) ours = softmaxRows(ours, 10);
      const rel = relDiff(ours, ref);
      assert.ok(rel <= 1e-4, `${name}: relative difference ${rel}`);
    } finally {
      model.dispose();
    }
  });
}

test('fp16 weights are converted: the engine computes the float32 model onnxruntime gives for the same half values', async () => {
  const file = fixture('fp16.onnx');
  const { model } = await engineModel(file);
  try {
    // Inputs that are exact halves, so the float16 model and the engine see the same numbers.
    const x = Float32Array.from(images(N, 3), (v) => halfToFloat(floatToHalf(v)));
    const ref = await ortRun(file, new ort.Tensor('float16', Uint16Array.from(x, floatToHalf), [N, 1, 28, 28]));
    const refF = Float32Array.from(ref as unknown as Uint16Array, halfToFloat);
    const ours = engineLogits(model, x, N, MNIST_IMAGE);
    // onnxruntime computes in float16 (3 significant digits); the engine in float32.
    assert.ok(relDiff(ours, refF) <= 5e-3, `relative difference ${relDiff(ours, refF)}`);
  } finally {
    model.dispose();
  }
});

test('fp16 weights: the engine equals onnxruntime on the same model written in float32 (≤ 1e-4)', async () => {
  const m = readOnnx(fixture('fp16.onnx'));
  // The same graph and (half-exact) values, as float32: what the engine computes after converting.
  const g = structuredClone(m.graph);
  g.inputs.forEach((v) => (v.elemType = DataType.FLOAT));
  g.outputs.forEach((v) => (v.elemType = DataType.FLOAT));
  g.initializers.forEach((i) => (i.dataType = DataType.FLOAT));
  const bytes = encodeModel(modelFromGraph(g, m.weights));
  const { model } = await engineModel(fixture('fp16.onnx'));
  try {
    const x = images(N, 8);
    const ref = await ortRun(bytes, new ort.Tensor('float32', x, [N, 1, 28, 28]));
    const ours = engineLogits(model, x, N, MNIST_IMAGE);
    assert.ok(relDiff(ours, ref) <= 1e-4, `relative difference ${relDiff(ours, ref)}`);
  } finally {
    model.dispose();
  }
});
