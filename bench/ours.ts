// The engine's side of `npm run bench` (started by bench/run.ts, one process per repeat): runs the
// tasks through the product's own entry points — train() for training, predictLogits for
// inference, inputFimTopEigen for λmax(G_x), runAttack for OSSA and PGD — and prints one JSON object.
//
//   node --import tsx bench/ours.ts --tasks train-32,train-128,infer,fim,ossa,pgd10 --samples 200 --train-steps 40
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readMetrics } from '../src/runs/reader';
import type { StepMetrics } from '../src/runs/types';
import { runAttack } from '../src/engine/attacks/run';
import { initBackend } from '../src/engine/backend/select';
import { batchPixels, limitDataset, range, type Dataset } from '../src/engine/data/dataset';
import { loadDataset } from '../src/engine/data/registry';
import { inputFimTopEigen } from '../src/engine/fim/inputFim';
import { buildModel, resolveDefinition } from '../src/engine/models/load';
import { predictLogits } from '../src/engine/models/predict';
import { train } from '../src/engine/train/trainer';
import { AUTOATTACK_BENCH, ONNX_CONVNET, TASKS, type OursResult, type Task } from './tasks';
import { autoAttackRun, loadEvalRun, samplesOf } from '../src/engine';

const MU = 0.022;
const WARMUP_STEPS = 10;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/**
 * Training through train(): the first log interval (10 steps: kernel set-up, heap growth) is
 * warm-up, like the peer's 5 unmeasured steps; the rate is samples over time of the rest.
 */
async function trainRate(batch: number, steps: number, store: string, model = 'convnet'): Promise<{ rate: number; loss: number }> {
  const total = WARMUP_STEPS + (batch >= 128 ? steps : steps * 2);
  const summary = await train({
    model,
    dataset: 'mnist',
    mu: MU,
    epochs: 1,
    batchSize: batch,
    learningRate: 1e-3,
    seed: 1,
    limitTrain: batch * total,
    limitTest: 64,
    storeDir: store,
    logEvery: WARMUP_STEPS,
  });
  const steps_ = readMetrics(summary.runDir)
    .records.filter((r): r is StepMetrics => r.kind === 'step')
    .slice(1);
  let samples = 0;
  let seconds = 0;
  let loss = 0;
  for (const r of steps_) {
    const n = WARMUP_STEPS * batch;
    samples += n;
    seconds += n / r.samplesPerSecond;
    loss += r.loss;
  }
  return { rate: samples / seconds, loss: loss / steps_.length };
}

function floatBatch(d: Dataset, n: number): tf.Tensor4D {
  return tf.tensor4d(batchPixels(d, range(0, n)), [n, ...d.imageShape]);
}

function timeIt(f: () => void): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const tasks = arg('tasks', TASKS.join(',')).split(',') as Task[];
  const samples = Number(arg('samples', '200'));
  const trainSteps = Number(arg('train-steps', '40'));
  const backend = await initBackend();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-bench-'));
  const out: OursResult = { peer: 'ours', backend, samplesPerSecond: {}, trainLoss: {}, peakRssMb: 0 };
  try {
    const data = limitDataset((await loadDataset('mnist')).train, 4096);
    const def = await resolveDefinition('convnet', { inputShape: data.imageShape, numClasses: data.numClasses });
    const { model } = await buildModel(def, { imageShape: data.imageShape, numClasses: data.numClasses, seed: 1 });
    const inputs = { model, shape: data.imageShape, labels: data.labels.subarray(0, samples), x: batchPixels(data, range(0, samples)) };
    const warmInputs = { ...inputs, labels: inputs.labels.subarray(0, 20), x: inputs.x.subarray(0, 20 * 784) };
    for (const task of tasks) {
      switch (task) {
        case 'train-32':
        case 'train-128': {
          const r = await trainRate(task === 'train-32' ? 32 : 128, trainSteps, store);
          out.samplesPerSecond[task] = r.rate;
          out.trainLoss[task] = r.loss;
          break;
        }
        case 'infer': {
          const n = Math.min(2048, data.count);
          predictLogits(model, data, range(0, 256));
          out.samplesPerSecond.infer = n / timeIt(() => predictLogits(model, data, range(0, n)));
          break;
        }
        case 'fim':
        case 'fim-onnx': {
          const m =
            task === 'fim'
              ? model
              : (
                  await buildModel(
                    await resolveDefinition(path.resolve(ONNX_CONVNET), { inputShape: data.imageShape, numClasses: data.numClasses }),
                    { imageShape: data.imageShape, numClasses: data.numClasses, seed: 1 },
                  )
                ).model;
          // Warm-up on one full chunk (32 samples = 320 tiled rows): the heap grows to its working size.
          const warm = floatBatch(data, 32);
          inputFimTopEigen(m, warm);
          warm.dispose();
          const x = floatBatch(data, samples);
          out.samplesPerSecond[task] = samples / timeIt(() => inputFimTopEigen(m, x));
          x.dispose();
          if (m !== model) m.dispose();
          break;
        }
        case 'train-128-onnx': {
          const r = await trainRate(128, trainSteps, store, path.resolve(ONNX_CONVNET));
          out.samplesPerSecond[task] = r.rate;
          out.trainLoss[task] = r.loss;
          break;
        }
        case 'ossa':
          runAttack('ossa', warmInputs, [6], { batchSize: 100 });
          out.samplesPerSecond.ossa = samples / timeIt(() => runAttack('ossa', inputs, [6], { batchSize: 100 }));
          break;
        case 'pgd10':
          runAttack('pgd', warmInputs, [0.3], { batchSize: 100, options: { steps: 10 } });
          out.samplesPerSecond.pgd10 = samples / timeIt(() => runAttack('pgd', inputs, [0.3], { batchSize: 100, options: { steps: 10 } }));
          break;
        // The AutoAttack rows evaluate the trained run of bench/trained.ts on the first MNIST test images.
        case 'apgd-ce100': {
          const run = await loadEvalRun(arg('run', ''));
          const n = Number(arg('test-samples', String(AUTOATTACK_BENCH.testSamples)));
          const { x, labels } = samplesOf(run.data.test, Array.from(range(0, n)));
          const test = { model: run.model, shape: run.data.test.imageShape, labels, x };
          runAttack('apgd-ce', { ...test, labels: labels.subarray(0, 20), x: x.subarray(0, 20 * 784) }, [AUTOATTACK_BENCH.epsilon]);
          out.samplesPerSecond['apgd-ce100'] = n / timeIt(() => runAttack('apgd-ce', test, [AUTOATTACK_BENCH.epsilon], { batchSize: 100 }));
          break;
        }
        case 'autoattack': {
          const run = await loadEvalRun(arg('run', ''));
          const n = Number(arg('test-samples', String(AUTOATTACK_BENCH.testSamples)));
          const t0 = performance.now();
          await autoAttackRun(run, {
            norm: 'linf',
            epsilon: AUTOATTACK_BENCH.epsilon,
            selection: { split: 'test', start: 0, count: n },
            name: 'bench-autoattack',
          });
          out.samplesPerSecond.autoattack = n / ((performance.now() - t0) / 1000);
          break;
        }
      }
    }
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
  out.peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench/ours.ts: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
