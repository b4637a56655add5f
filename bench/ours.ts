// The engine's side of `npm run bench` (started by bench/run.ts, one process per repeat): runs the
// tasks through the product's own entry points — train() for training, predictLogits for
// inference, inputFimTopEigen for λmax(G_x), runAttack for OSSA and PGD — and prints one JSON object.
//
//   node --import tsx bench/ours.ts --tasks train-32,train-128,infer,fim,ossa,pgd10 --samples 200 --train-steps 40 [--profile]
//
// Every task's measured window records the machine's and this process's CPU time at its start
// and end (bench/load.ts), so that bench/run.ts can tell whether other processes ran meanwhile.
// --profile also times every kernel in the measured windows (src/engine/backend/profile.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { runAttack } from '../src/engine/attacks/run';
import { nativeStatus } from '../src/engine/backend/native/addon';
import { KernelProfiler, type Profile } from '../src/engine/backend/profile';
import { initBackend } from '../src/engine/backend/select';
import { batchPixels, limitDataset, range, type Dataset } from '../src/engine/data/dataset';
import { loadDataset } from '../src/engine/data/registry';
import { inputFimTopEigen } from '../src/engine/fim/inputFim';
import { modelFlops } from '../src/engine/models/flops';
import { buildModel, resolveDefinition } from '../src/engine/models/load';
import { predictLogits } from '../src/engine/models/predict';
import { train } from '../src/engine/train/trainer';
import { cpuSample, type CpuSample } from './load';
import { AUTOATTACK_BENCH, ONNX_CONVNET, TASKS, type FmaPeak, type OursResult, type Task } from './tasks';
import { autoAttackRun, loadEvalRun, samplesOf } from '../src/engine';

const MU = 0.022;
const WARMUP_STEPS = 10;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const profiling = process.argv.includes('--profile');

/** Start and end of one measured window: machine load samples and, with --profile, the kernel profile. */
class Window {
  private profiler = profiling ? new KernelProfiler() : null;
  private before: CpuSample | null = null;
  private t0 = 0;
  seconds = 0;
  samples: { before: CpuSample; after: CpuSample } | null = null;
  profile: Profile | null = null;

  open(): void {
    this.profiler?.start();
    this.before = cpuSample();
    this.t0 = performance.now();
  }

  close(): void {
    this.seconds = (performance.now() - this.t0) / 1000;
    const after = cpuSample();
    this.samples = this.before && after ? { before: this.before, after } : null;
    this.profile = this.profiler?.stop() ?? null;
  }
}

/**
 * Training through train(), with its run store and metrics: the first 10 steps are warm-up (kernel
 * set-up, heap growth), like the peer's 5 unmeasured steps; the rate is the samples of the other
 * steps over the wall time from the end of step 10 to the end of the last step, the trainer's
 * logging and file writes included.
 */
async function trainRate(
  batch: number,
  steps: number,
  store: string,
  model = 'convnet',
): Promise<{ rate: number; loss: number; window: Window; steps: number }> {
  const measured = batch >= 128 ? steps : steps * 2;
  const total = WARMUP_STEPS + measured;
  const w = new Window();
  let losses: number[] = [];
  const summary = await train(
    {
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
    },
    {
      onProgress: (p) => {
        if (p.phase !== 'train') return;
        if (p.step === WARMUP_STEPS) w.open();
        if (p.step === total) w.close();
        if (p.step > WARMUP_STEPS && p.step % WARMUP_STEPS === 0 && p.loss !== undefined) losses.push(p.loss);
      },
    },
  );
  if (summary.state !== 'completed' || !w.seconds) throw new Error(`bench training did not complete: ${summary.message ?? summary.state}`);
  if (!losses.length) losses = [Number.NaN];
  return { rate: (measured * batch) / w.seconds, loss: losses.reduce((a, b) => a + b, 0) / losses.length, window: w, steps: measured };
}

function floatBatch(d: Dataset, n: number): tf.Tensor4D {
  return tf.tensor4d(batchPixels(d, range(0, n)), [n, ...d.imageShape]);
}

function timed(f: () => void): Window {
  const w = new Window();
  w.open();
  f();
  w.close();
  return w;
}

/**
 * Peak fp32 multiply-add throughput of the native kernels' level, with one thread and with all:
 * wall time of a fixed number of rounds (about 0.1 s at AVX-512 speed), best of three.
 */
function fmaPeak(): FmaPeak | null {
  const { addon } = nativeStatus();
  if (!addon) return null;
  const threads = addon.info().threads;
  const rate = (n: number) => {
    addon.setThreads(n);
    addon.fmaPeak(1e6);
    let best = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const flops = addon.fmaPeak(2e7);
      best = Math.max(best, flops / ((performance.now() - t0) / 1000));
    }
    return best;
  };
  try {
    return { level: addon.info().level, oneThread: rate(1), allThreads: rate(threads), threads };
  } finally {
    addon.setThreads(threads);
  }
}

async function main(): Promise<void> {
  const tasks = arg('tasks', TASKS.join(',')).split(',') as Task[];
  const samples = Number(arg('samples', '200'));
  const trainSteps = Number(arg('train-steps', '40'));
  const backend = await initBackend();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-bench-'));
  const out: OursResult = {
    peer: 'ours',
    backend,
    samplesPerSecond: {},
    windows: {},
    trainLoss: {},
    peakRssMb: 0,
    cpuSeconds: 0,
    fmaPeak: fmaPeak(),
    flopsPerSample: { forward: 0, train: 0 },
    ...(profiling ? { profiles: {} } : {}),
  };
  const record = (task: Task, rate: number, w: Window, units: { unit: 'step' | 'sample'; count: number }) => {
    out.samplesPerSecond[task] = rate;
    out.windows[task] = w.samples;
    if (w.profile && out.profiles) out.profiles[task] = { ...units, profile: w.profile };
  };
  try {
    const data = limitDataset((await loadDataset('mnist')).train, 4096);
    const def = await resolveDefinition('convnet', { inputShape: data.imageShape, numClasses: data.numClasses });
    const { model } = await buildModel(def, { imageShape: data.imageShape, numClasses: data.numClasses, seed: 1 });
    const flops = modelFlops(model);
    out.flopsPerSample = { forward: flops.forward, train: flops.train };
    const inputs = { model, shape: data.imageShape, labels: data.labels.subarray(0, samples), x: batchPixels(data, range(0, samples)) };
    const warmInputs = { ...inputs, labels: inputs.labels.subarray(0, 20), x: inputs.x.subarray(0, 20 * 784) };
    for (const task of tasks) {
      switch (task) {
        case 'train-32':
        case 'train-128': {
          const r = await trainRate(task === 'train-32' ? 32 : 128, trainSteps, store);
          record(task, r.rate, r.window, { unit: 'step', count: r.steps });
          out.trainLoss[task] = r.loss;
          break;
        }
        case 'infer': {
          const n = Math.min(2048, data.count);
          predictLogits(model, data, range(0, 256));
          const w = timed(() => predictLogits(model, data, range(0, n)));
          record(task, n / w.seconds, w, { unit: 'sample', count: n });
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
          const w = timed(() => inputFimTopEigen(m, x));
          record(task, samples / w.seconds, w, { unit: 'sample', count: samples });
          x.dispose();
          if (m !== model) m.dispose();
          break;
        }
        case 'train-128-onnx': {
          const r = await trainRate(128, trainSteps, store, path.resolve(ONNX_CONVNET));
          record(task, r.rate, r.window, { unit: 'step', count: r.steps });
          out.trainLoss[task] = r.loss;
          break;
        }
        case 'ossa': {
          runAttack('ossa', warmInputs, [6], { batchSize: 100 });
          const w = timed(() => runAttack('ossa', inputs, [6], { batchSize: 100 }));
          record(task, samples / w.seconds, w, { unit: 'sample', count: samples });
          break;
        }
        case 'pgd10': {
          runAttack('pgd', warmInputs, [0.3], { batchSize: 100, options: { steps: 10 } });
          const w = timed(() => runAttack('pgd', inputs, [0.3], { batchSize: 100, options: { steps: 10 } }));
          record(task, samples / w.seconds, w, { unit: 'sample', count: samples });
          break;
        }
        // The AutoAttack rows evaluate the trained run of bench/trained.ts on the first MNIST test images.
        case 'apgd-ce100': {
          const run = await loadEvalRun(arg('run', ''));
          const n = Number(arg('test-samples', String(AUTOATTACK_BENCH.testSamples)));
          const { x, labels } = samplesOf(run.data.test, Array.from(range(0, n)));
          const test = { model: run.model, shape: run.data.test.imageShape, labels, x };
          runAttack('apgd-ce', { ...test, labels: labels.subarray(0, 20), x: x.subarray(0, 20 * 784) }, [AUTOATTACK_BENCH.epsilon]);
          const w = timed(() => runAttack('apgd-ce', test, [AUTOATTACK_BENCH.epsilon], { batchSize: 100 }));
          record(task, n / w.seconds, w, { unit: 'sample', count: n });
          break;
        }
        case 'autoattack': {
          const run = await loadEvalRun(arg('run', ''));
          const n = Number(arg('test-samples', String(AUTOATTACK_BENCH.testSamples)));
          const w = new Window();
          w.open();
          await autoAttackRun(run, {
            norm: 'linf',
            epsilon: AUTOATTACK_BENCH.epsilon,
            selection: { split: 'test', start: 0, count: n },
            name: 'bench-autoattack',
          });
          w.close();
          record(task, n / w.seconds, w, { unit: 'sample', count: n });
          break;
        }
      }
    }
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
  out.peakRssMb = process.resourceUsage().maxRSS / 1024;
  const u = process.cpuUsage();
  out.cpuSeconds = (u.user + u.system) / 1e6;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench/ours.ts: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
