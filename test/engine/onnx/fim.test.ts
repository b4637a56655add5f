import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { batchPixels, range } from '../../../src/engine/data/dataset';
import { loadDataset } from '../../../src/engine/data/registry';
import { inputFimTopEigen } from '../../../src/engine/fim/inputFim';
import { outputStats } from '../../../src/engine/fim/outputStats';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { readOnnx } from '../../../src/engine/onnx/read';
import { useEngineBackend } from '../../helpers';
import { engineModel, fixture, MNIST_IMAGE } from './helpers';

/**
 * The paper's ConvNet exported from PyTorch (convnet_op13.onnx) and the built-in `convnet`
 * definition given the same weights are the same function: same logits, the same tr G_s and
 * λmax(G_x) per sample. The weights are converted here by hand (OIHW → HWIO, the dense rows from
 * PyTorch's C·H·W flatten order to the built-in's H·W·C), independently of the importer's layout
 * code.
 */
before(async () => {
  await useEngineBackend();
});

function hwio(w: Float32Array, [o, i, h, ww]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++) for (let x = 0; x < ww; x++) out[((y * ww + x) * i + b) * o + a] = w[((a * i + b) * h + y) * ww + x]!;
  return out;
}

/** PyTorch Linear weight [K, C·H·W] → Keras Dense kernel [H·W·C, K]. */
function denseKernel(w: Float32Array, k: number, [c, h, ww]: [number, number, number]): Float32Array {
  const out = new Float32Array(w.length);
  for (let cls = 0; cls < k; cls++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < ww; x++) out[((y * ww + x) * c + ch) * k + cls] = w[cls * c * h * ww + (ch * h + y) * ww + x]!;
  return out;
}

test('an imported PyTorch ConvNet has the same logits, tr G_s and λmax(G_x) as the built-in ConvNet with its weights', async () => {
  const m = readOnnx(fixture('convnet_op13.onnx'));
  const w = (name: string) => m.weights.get(name)!;
  const def = await resolveDefinition('convnet', { inputShape: MNIST_IMAGE, numClasses: 10 });
  const { model: builtin } = await buildModel(def, { imageShape: MNIST_IMAGE, numClasses: 10, seed: 0 });
  const { model: imported } = await engineModel(fixture('convnet_op13.onnx'));
  try {
    const values: Record<string, Float32Array> = {
      'conv1/kernel': hwio(w('conv1.weight'), [32, 1, 3, 3]),
      'conv1/bias': w('conv1.bias'),
      'bn1/gamma': w('bn1.weight'),
      'bn1/beta': w('bn1.bias'),
      'bn1/moving_mean': w('bn1.running_mean'),
      'bn1/moving_variance': w('bn1.running_var'),
      'conv2/kernel': hwio(w('conv2.weight'), [64, 32, 3, 3]),
      'conv2/bias': w('conv2.bias'),
      'bn2/gamma': w('bn2.weight'),
      'bn2/beta': w('bn2.bias'),
      'bn2/moving_mean': w('bn2.running_mean'),
      'bn2/moving_variance': w('bn2.running_var'),
      'dense/kernel': denseKernel(w('fc.weight'), 10, [64, 7, 7]),
      'dense/bias': w('fc.bias'),
    };
    // Layer names are the definition's own; match by order (each layer's weights: kernel, bias /
    // gamma, beta, moving mean, moving variance).
    const order = Object.keys(values);
    let k = 0;
    for (const layer of builtin.layers) {
      if (layer.weights.length === 0) continue;
      layer.setWeights(layer.weights.map((v) => tf.tensor(values[order[k++]!]!, v.shape as number[])));
    }
    assert.equal(k, order.length, 'every built-in weight was set');
    const test = (await loadDataset('mnist')).test;
    const n = 8;
    const x = tf.tensor4d(batchPixels(test, range(0, n)), [n, ...MNIST_IMAGE]);
    const a = inputFimTopEigen(builtin, x);
    const b = inputFimTopEigen(imported, x);
    x.dispose();
    for (let i = 0; i < a.logits.length; i++)
      assert.ok(Math.abs(a.logits[i]! - b.logits[i]!) <= 1e-4 * Math.max(1, Math.abs(a.logits[i]!)), `logit ${i}`);
    const sa = outputStats(a.logits, 10);
    const sb = outputStats(b.logits, 10);
    for (let s = 0; s < n; s++) {
      const tr = Math.abs(sa.traceGs[s]! - sb.traceGs[s]!) / sa.traceGs[s]!;
      const lm = Math.abs(a.lambdaMax[s]! - b.lambdaMax[s]!) / a.lambdaMax[s]!;
      assert.ok(tr <= 1e-4, `sample ${s}: tr G_s ${sb.traceGs[s]} vs built-in ${sa.traceGs[s]}`);
      assert.ok(lm <= 1e-3, `sample ${s}: λmax(G_x) ${b.lambdaMax[s]} vs built-in ${a.lambdaMax[s]}`);
    }
  } finally {
    builtin.dispose();
    imported.dispose();
  }
});
