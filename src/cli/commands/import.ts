import * as path from 'node:path';
import { DEFAULT_RUNS_DIR } from '../../runs/paths';
import { backendFlag, optInt, parse, UsageError, type Command } from '../args';
import { MODEL_FLAGS, MODEL_FLAGS_USAGE, modelOptionsFromFlags } from '../modelFlags';
import { fmt, pct, printJson, Progress } from '../output';
import { datasetSpecFromFlags } from '../trainFlags';
import { importModel } from '../../engine';

const usage = `fim import MODEL --dataset D [options]
  Import a model trained elsewhere as a run of the store, so that fim inspect, fim attack, every
  fim eval and the panels work on it. MODEL is an ONNX file (torch.onnx.export, tf2onnx) or a
  tfjs Layers model.json with its weights. Its test accuracy is measured on the dataset.

  --dataset NAME         mnist | cifar10 | gtsrb | idx | folder (the data the model was trained on) [mnist]
  --data-dir DIR         dataset files (datasets other than the built-in MNIST)
  --image-size N|HxW     folder: resize images to this size [32]; gtsrb: side of the square [32]
  --channels C           folder: 1, 3 or auto [auto]
  --idx-set NAME         idx: which file set when the directory holds several
  --limit-test N         measure the test accuracy on the first N test samples
${MODEL_FLAGS_USAGE}
  --name NAME            run name [file name + "-imported"]
  --out DIR              run store [${DEFAULT_RUNS_DIR}]
  --backend B            auto | tfjs-node-gpu | tfjs-node | wasm | cpu [auto, or $FIM_BACKEND]
  --json                 print {runDir, testAccuracy, …} as one JSON object
  A file that cannot be imported (not ONNX, unsupported operators, shapes that do not fit the
  dataset, …) is reported with what to do (exit code 2), and nothing is written to the store.`;

const FLAGS = {
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  'image-size': { type: 'string' },
  channels: { type: 'string' },
  'idx-set': { type: 'string' },
  'limit-test': { type: 'string' },
  ...MODEL_FLAGS,
  name: { type: 'string' },
  out: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Not defineCommand: the model file is a positional argument. */
export const importCommand: Command = {
  name: 'import',
  summary: 'import an ONNX or tfjs Layers model as a run (inspect, attack and fine-tune it)',
  usage,
  async run(argv) {
    const { values: v, positionals } = parse(argv, FLAGS, true);
    if ((v as { help?: boolean }).help) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length ? `one MODEL file, got ${positionals.join(' ')}` : 'MODEL (an .onnx file or a model.json) is required',
      );
    const dataset = datasetSpecFromFlags({ dataset: v.dataset, imageSize: v['image-size'], channels: v.channels, idxSet: v['idx-set'] });
    const modelOptions = modelOptionsFromFlags(v);
    const limitTest = optInt('limit-test', v['limit-test']);
    const progress = new Progress(Boolean(v.json));
    progress.update(`importing ${positionals[0]} …`);
    let r;
    try {
      r = await importModel({
        model: path.resolve(positionals[0]!),
        dataset,
        ...(v['data-dir'] ? { dataDir: path.resolve(v['data-dir']) } : {}),
        storeDir: path.resolve(v.out ?? DEFAULT_RUNS_DIR),
        ...(v.name ? { name: v.name } : {}),
        ...(limitTest !== undefined ? { limitTest } : {}),
        ...(modelOptions ? { modelOptions } : {}),
        backend: backendFlag(v.backend),
      });
    } finally {
      progress.clear();
    }
    if (v.json) {
      printJson(r);
      return 0;
    }
    const lines = [
      `run              ${r.runDir}`,
      `model            ${r.model} (${r.format}${r.opset ? `, opset ${r.opset}, ${r.inputLayout?.toUpperCase()} input` : ''})`,
      `parameters       ${r.parameters} (${r.trainableParameters} trainable)`,
      `test accuracy    ${pct(r.testAccuracy)} on ${r.testSamples} samples`,
      `test tr G_s      mean ${fmt(r.testMeanTraceGs)}, median ${fmt(r.testMedianTraceGs)}`,
      ...r.notes.map((n) => `note             ${n}`),
      `next             fim inspect --run ${r.runDir}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
