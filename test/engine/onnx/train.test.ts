import { strict as assert } from 'node:assert';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { batchPixels, limitDataset, range } from '../../../src/engine/data/dataset';
import { loadDataset } from '../../../src/engine/data/registry';
import { exportRun } from '../../../src/engine/eval/exportRun';
import { loadEvalRun } from '../../../src/engine/eval/runModel';
import { argmaxRows } from '../../../src/engine/models/predict';
import { resume, train } from '../../../src/engine/train/trainer';
import { readRun } from '../../../src/runs/reader';
import { randomArray, tmpDir, useEngineBackend } from '../../helpers';
import { attr, GraphBuilder } from './graphBuilder';
import { engineModel, fixture, ortRun, toNchw } from './helpers';
import * as path from 'node:path';

/**
 * Fine-tuning imported models: BatchNormalization in PyTorch's train mode (batch statistics,
 * running statistics with ONNX's momentum and the unbiased variance) or frozen, Dropout active in
 * training only, the trainer's checkpoints and resume on an ONNX model, and the round trip
 * import → defended fine-tune → export → onnxruntime giving the run's own test accuracy.
 */
before(async () => {
  await useEngineBackend();
});

const IMAGE: [number, number, number] = [4, 4, 3];

function bnGraph(): { file: string; b: GraphBuilder } {
  const b = new GraphBuilder(13, IMAGE);
  const bn = b.node(
    'BatchNormalization',
    [b.input, b.weight([3], 0.3, 1), b.weight([3]), b.weight([3]), b.weight([3], 0.3, 1)],
    [attr.float('momentum', 0.8), attr.float('epsilon', 1e-5)],
  );
  const d = b.node('Dropout', [bn, b.scalar(0.5)]);
  return { file: b.write(b.head(d, 48)).file, b };
}

test('BatchNormalization trains like PyTorch: batch statistics, running mean and unbiased variance with ONNX momentum', async () => {
  const { file, b } = bnGraph();
  for (const freeze of [false, true]) {
    const { model } = await engineModel(file, IMAGE, 5, freeze ? { freezeBatchNorm: true } : undefined);
    try {
      const n = 6;
      const xs = randomArray(n * 48, 9, 0, 1);
      const stats = () => model.weights.filter((w) => !w.trainable).map((w) => Array.from(w.read().dataSync()));
      const before_ = stats();
      const init = (i: number) => Array.from(b.weights.get(b.inits[i]!.name)!);
      assert.deepEqual(
        before_.map((v) => v.map((x) => +x.toFixed(6))),
        [init(2), init(3)].map((v) => v.map((x) => +x.toFixed(6))),
      );
      tf.tidy(() => model.apply(tf.tensor4d(xs, [n, ...IMAGE]), { training: true }) as tf.Tensor);
      const after = stats();
      if (freeze) {
        assert.deepEqual(after, before_, 'frozen statistics stay');
        continue;
      }
      // Per channel over N·H·W values (NHWC: channel is the last index).
      for (let ch = 0; ch < 3; ch++) {
        const v: number[] = [];
        for (let i = ch; i < xs.length; i += 3) v.push(xs[i]!);
        const mean = v.reduce((a, x) => a + x, 0) / v.length;
        const unbiased = v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1);
        assert.ok(Math.abs(after[0]![ch]! - (0.8 * before_[0]![ch]! + 0.2 * mean)) < 1e-5, `running mean ${ch}`);
        assert.ok(Math.abs(after[1]![ch]! - (0.8 * before_[1]![ch]! + 0.2 * unbiased)) < 1e-5, `running variance ${ch}`);
      }
    } finally {
      model.dispose();
    }
  }
});

test('Dropout drops only in training', async () => {
  const { file } = bnGraph();
  const { model } = await engineModel(file, IMAGE, 5, { freezeBatchNorm: true });
  try {
    const x = tf.tensor4d(randomArray(2 * 48, 4, 0, 1), [2, ...IMAGE]);
    const a = tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).dataSync().slice());
    const b = tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).dataSync().slice());
    const c = tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).dataSync().slice());
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    x.dispose();
  } finally {
    model.dispose();
  }
});

test('fim train --model m.onnx: defended fine-tuning, a stop and --resume, then export: onnxruntime gives the run’s own test accuracy', async () => {
  const store = tmpDir();
  const file = fixture('resnet_bn_norm_op13.onnx');
  const ac = new AbortController();
  const req = {
    model: file,
    dataset: 'mnist',
    mu: 0.022,
    epochs: 1,
    batchSize: 64,
    learningRate: 1e-3,
    seed: 1,
    limitTrain: 640,
    limitTest: 300,
    storeDir: store,
    logEvery: 2,
  };
  const stopped = await train(req, { onProgress: (p) => p.step >= 3 && ac.abort() }, ac.signal);
  assert.equal(stopped.state, 'stopped');
  const summary = await resume(stopped.runDir);
  assert.equal(summary.state, 'completed');
  const info = readRun(summary.runDir);
  assert.equal(info.config!.model, file);
  assert.ok(summary.testAccuracy! > 0.5, `accuracy after fine-tuning ${summary.testAccuracy}`);
  // The checkpoint is a tfjs Layers model holding the graph; it reloads without the .onnx file.
  const run = await loadEvalRun(summary.runDir);
  assert.equal(run.model.layers.map((l) => l.getClassName()).join(), 'InputLayer,FimOnnxGraph');
  run.model.dispose();
  const out = path.join(store, 'finetuned.onnx');
  const e = await exportRun({ runDir: summary.runDir, out, format: 'onnx' });
  assert.equal(e.kind, 'imported');
  assert.equal(e.inputName, 'input');
  assert.equal(e.outputName, 'output');
  assert.equal(e.opset, 13);
  assert.ok(e.maxRelativeDifference <= 1e-5);
  const test_ = limitDataset((await loadDataset('mnist')).test, 300);
  const x = toNchw(batchPixels(test_, range(0, 300)), 300, [28, 28, 1]);
  const logits = await ortRun(out, new ort.Tensor('float32', x, [300, 1, 28, 28]));
  const pred = argmaxRows(logits, 10);
  let correct = 0;
  for (let i = 0; i < 300; i++) if (pred[i] === test_.labels[i]) correct++;
  assert.equal(correct / 300, summary.testAccuracy, 'onnxruntime on the export gives the run’s test accuracy');
});
