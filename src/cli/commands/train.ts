import * as path from 'node:path';
import { DEFAULT_RUNS_DIR } from '../../runs/paths';
import { defenceLabel } from '../../runs/defence';
import type { RunSummary } from '../../runs/types';
import { backendFlag, defineCommand, int, num, optInt, UsageError } from '../args';
import { bar, fmt, pct, printJson, Progress } from '../output';
import { MODEL_FLAGS, MODEL_FLAGS_USAGE, modelOptionsFromFlags } from '../modelFlags';
import { onOutputClosed } from '../outputClosed';
import { adversarialFromFlags, augmentationFromFlag, datasetSpecFromFlags, defenceFromFlags, defenceUsage } from '../trainFlags';
import { backendRequestFrom, describeBackend, resume, train, TRAIN_DEFAULTS, type TrainHooks, type TrainRequest } from '../../engine';

export const trainUsage = `fim train [options]
  Train a classifier with the paper's loss CE + μ·Σ 1/p_i (μ = 0 is the plain baseline).

  --model NAME|PATH      built-in definition (convnet, vgg11, resnet14), an ONNX file (fine-tunes its weights),
                         or a tfjs Layers model.json / JS/TS model module [${TRAIN_DEFAULTS.model}]
  --dataset NAME         mnist | cifar10 | gtsrb | idx | folder [${TRAIN_DEFAULTS.dataset}]
  --data-dir DIR         dataset files (datasets other than the built-in MNIST)
  --image-size N|HxW     folder: resize images to this size [32]; gtsrb: side of the square [32]
  --val-split F          folder without train/ and test/ sub-folders: fraction of each class held out [0.2]
  --channels C           folder: 1, 3 or auto (1 when every image is grey) [auto]
  --idx-set NAME         idx: which file set when the directory holds several (e.g. emnist-balanced)
  --augment A            none | crop | crop-flip (random 4-pixel-padded crop, + horizontal flip)
                         [crop-flip for cifar10, crop for gtsrb, none otherwise]
  --adversarial-training PGD adversarial training (Madry et al.; l∞, random start), a baseline
  --at-eps E             its l∞ radius, pixels in [0, 1] [0.3 for mnist/idx, 8/255 otherwise]
  --at-steps N           PGD steps per batch [10]
  --at-step-size S       PGD step size [2.5·eps/steps]
  --at-ratio R           fraction of each batch replaced by PGD examples [1]
  --mu M                 weight μ of the trace term [${TRAIN_DEFAULTS.mu}]
  --defence KIND         the defence, with its weight in --weight (docs/defences.md):
${defenceUsage()}
  --weight W             the defence's weight (--defence trace --weight W is --mu W)
  --defence-option K=V   one of the defence's options (repeatable)
  --label-smoothing A    label smoothing α, the paper's LSR comparison [0]
  --epochs N             [${TRAIN_DEFAULTS.epochs}]
  --batch N              [${TRAIN_DEFAULTS.batchSize}]
  --lr X                 Adam learning rate [${TRAIN_DEFAULTS.learningRate}]
  --seed S               initial weights and data order [${TRAIN_DEFAULTS.seed}]
  --limit-train N        use the first N training samples
  --limit-test N         use the first N test samples
  --out DIR              run store [${DEFAULT_RUNS_DIR}]
  --name NAME            run name [model-mu<μ>]
  --backend B            auto | tfjs-node-gpu | tfjs-node | wasm | cpu [auto, or $FIM_BACKEND]
${MODEL_FLAGS_USAGE}
  --resume DIR           continue an interrupted run from its last checkpoint (other options ignored)
  --json                 print only the summary as one JSON object on stdout
  Ctrl-C stops after writing a checkpoint; --resume continues it.`;

/** Runs training with CLI progress; shared by `fim train` and the main job. */
export async function runTraining(
  req: TrainRequest | { resumeDir: string; backend?: string },
  opts: { json: boolean; quiet?: boolean },
): Promise<RunSummary> {
  const progress = new Progress(opts.quiet);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      progress.line('stopping after this step (a checkpoint is written); press Ctrl-C again to abort without one');
      ac.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  // Output closed (a pipe to `head`, a closed terminal): stop with a checkpoint, as Ctrl-C does.
  const unsubscribe = onOutputClosed(() => ac.abort());
  const hooks: TrainHooks = {
    onStart: (dir, config, backend, notes) => {
      progress.line(`run ${dir}`);
      progress.line(
        `${config.model} on ${config.dataset} (${config.trainSamples} train / ${config.testSamples} test), ${defenceLabel(config)}, ${config.epochs} epoch(s), batch ${config.batchSize}`,
      );
      progress.line(describeBackend(backend));
      for (const n of notes) progress.line(`note: ${n}`);
    },
    onProgress: (p) => {
      const frac = p.step / p.totalSteps;
      const what = p.phase === 'eval' ? 'evaluating on the test set' : `loss ${p.loss === undefined ? '…' : fmt(p.loss)}`;
      progress.update(
        `epoch ${p.epoch}/${p.epochs} ${bar(frac)} ${p.epochStep}/${p.epochSteps}  ${what}  ${Math.round(p.samplesPerSecond)} samples/s`,
      );
    },
    onEpoch: (m) => {
      progress.line(
        `epoch ${m.epoch}: test accuracy ${pct(m.testAccuracy)}, test tr G_s mean ${fmt(m.testMeanTraceGs)} / median ${fmt(m.testMedianTraceGs)}, ${m.seconds.toFixed(1)} s, ${Math.round(m.samplesPerSecond)} samples/s`,
      );
    },
  };
  try {
    if ('resumeDir' in req) {
      const backend = req.backend === undefined ? undefined : backendRequestFrom(req.backend);
      return await resume(req.resumeDir, backend ? { backend } : {}, hooks, ac.signal);
    }
    return await train(req, hooks, ac.signal);
  } finally {
    progress.clear();
    unsubscribe();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

export function printSummary(s: RunSummary): void {
  const lines = [
    `state            ${s.state}${s.message ? ` (${s.message})` : ''}`,
    `run              ${s.runDir}`,
    `test accuracy    ${pct(s.testAccuracy)}`,
    `test tr G_s      mean ${fmt(s.testMeanTraceGs)}, median ${fmt(s.testMedianTraceGs)}`,
    `test λmax(G_s)   mean ${fmt(s.testMeanLambdaMaxGs)}`,
    `backend          ${s.backend}, ${s.samplesPerSecond === null ? '-' : Math.round(s.samplesPerSecond)} samples/s, ${s.wallSeconds.toFixed(1)} s wall`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a baseline or defended model',
  usage: trainUsage,
  flags: {
    model: { type: 'string' },
    dataset: { type: 'string' },
    'data-dir': { type: 'string' },
    'image-size': { type: 'string' },
    'val-split': { type: 'string' },
    channels: { type: 'string' },
    'idx-set': { type: 'string' },
    augment: { type: 'string' },
    'adversarial-training': { type: 'boolean' },
    'at-eps': { type: 'string' },
    'at-steps': { type: 'string' },
    'at-step-size': { type: 'string' },
    'at-ratio': { type: 'string' },
    mu: { type: 'string' },
    defence: { type: 'string' },
    weight: { type: 'string' },
    'defence-option': { type: 'string', multiple: true },
    'label-smoothing': { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    'limit-train': { type: 'string' },
    'limit-test': { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    backend: { type: 'string' },
    resume: { type: 'string' },
    json: { type: 'boolean' },
    ...MODEL_FLAGS,
  },
  async run(v) {
    const json = Boolean(v.json);
    const backend = backendFlag(v.backend);
    let summary: RunSummary;
    if (v.resume !== undefined) {
      summary = await runTraining({ resumeDir: path.resolve(v.resume), ...(v.backend ? { backend: v.backend } : {}) }, { json });
    } else {
      const { mu, defence } = defenceFromFlags(
        { defence: v.defence, weight: v.weight, options: v['defence-option'], mu: v.mu },
        TRAIN_DEFAULTS.mu,
      );
      const ls = num('label-smoothing', v['label-smoothing'], 0);
      if (ls < 0 || ls >= 1) throw new UsageError(`--label-smoothing must be in [0, 1), got ${ls}`);
      const lr = num('lr', v.lr, TRAIN_DEFAULTS.learningRate);
      if (lr <= 0) throw new UsageError(`--lr must be > 0, got ${lr}`);
      const dataset = datasetSpecFromFlags({
        dataset: v.dataset,
        imageSize: v['image-size'],
        valSplit: v['val-split'],
        channels: v.channels,
        idxSet: v['idx-set'],
      });
      const adversarialTraining = adversarialFromFlags(
        {
          adversarialTraining: v['adversarial-training'],
          eps: v['at-eps'],
          steps: v['at-steps'],
          stepSize: v['at-step-size'],
          ratio: v['at-ratio'],
        },
        dataset,
      );
      const req: TrainRequest = {
        model: v.model ?? TRAIN_DEFAULTS.model,
        dataset,
        augmentation: augmentationFromFlag(v.augment, dataset),
        ...(adversarialTraining ? { adversarialTraining } : {}),
        ...(defence ? { defence } : {}),
        ...(v['data-dir'] ? { dataDir: path.resolve(v['data-dir']) } : {}),
        mu,
        labelSmoothing: ls,
        epochs: int('epochs', v.epochs, TRAIN_DEFAULTS.epochs),
        batchSize: int('batch', v.batch, TRAIN_DEFAULTS.batchSize),
        learningRate: lr,
        seed: int('seed', v.seed, TRAIN_DEFAULTS.seed, 0),
        storeDir: path.resolve(v.out ?? DEFAULT_RUNS_DIR),
        backend,
      };
      const lt = optInt('limit-train', v['limit-train']);
      const le = optInt('limit-test', v['limit-test']);
      if (lt !== undefined) req.limitTrain = lt;
      if (le !== undefined) req.limitTest = le;
      if (v.name) req.name = v.name;
      const modelOptions = modelOptionsFromFlags(v);
      if (modelOptions) req.modelOptions = modelOptions;
      summary = await runTraining(req, { json });
    }
    if (json) printJson(summary);
    else printSummary(summary);
    return summary.state === 'completed' ? 0 : summary.state === 'stopped' ? 130 : 1;
  },
});
