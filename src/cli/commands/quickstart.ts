import * as path from 'node:path';
import { DEFAULT_RUNS_DIR } from '../../runs/paths';
import type { RunSummary } from '../../runs/types';
import { backendFlag, defineCommand, int, num, optInt, UsageError } from '../args';
import { fmt, pct, printJson, table } from '../output';
import { runTraining } from './train';
import { TRAIN_DEFAULTS } from '../../engine';

const usage = `fim quickstart [options]
  The main job on the built-in default: trains a baseline (μ = 0) and a defended (μ = ${TRAIN_DEFAULTS.mu})
  ConvNet on real MNIST with the same seed and prints their accuracy and tr G_s side by side.
  --mu M            μ of the defended model [${TRAIN_DEFAULTS.mu}]
  --epochs N        [1]
  --limit-train N   training samples [60000]
  --seed S          [0]
  --out DIR         run store [${DEFAULT_RUNS_DIR}]
  --backend B       [auto]
  --json            print {"runs": [baseline, defended]} summaries as one JSON object`;

export const quickstartCommand = defineCommand({
  name: 'quickstart',
  summary: 'train a baseline and a defended ConvNet on MNIST and compare them',
  usage,
  flags: {
    mu: { type: 'string' },
    epochs: { type: 'string' },
    'limit-train': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const backend = backendFlag(v.backend);
    const mu = num('mu', v.mu, TRAIN_DEFAULTS.mu);
    if (mu <= 0) throw new UsageError(`--mu must be > 0 for the defended model, got ${mu}`);
    const base = {
      model: TRAIN_DEFAULTS.model,
      dataset: TRAIN_DEFAULTS.dataset,
      epochs: int('epochs', v.epochs, 1),
      batchSize: TRAIN_DEFAULTS.batchSize,
      learningRate: TRAIN_DEFAULTS.learningRate,
      seed: int('seed', v.seed, TRAIN_DEFAULTS.seed, 0),
      storeDir: path.resolve(v.out ?? DEFAULT_RUNS_DIR),
      backend,
      limitTrain: optInt('limit-train', v['limit-train']) ?? 60000,
    };
    const summaries: RunSummary[] = [];
    for (const m of [0, mu]) {
      process.stderr.write(`\n== ${m === 0 ? 'baseline' : 'defended'} ConvNet, μ = ${m} ==\n`);
      const s = await runTraining({ ...base, mu: m, name: `quickstart-convnet-mu${m}` }, { json: Boolean(v.json) });
      summaries.push(s);
      if (s.state !== 'completed') break;
    }
    if (v.json) {
      printJson({ runs: summaries });
    } else {
      const rows = summaries.map((s) => [
        s.mu === 0 ? 'baseline' : 'defended',
        s.mu,
        pct(s.testAccuracy),
        fmt(s.testMeanTraceGs),
        fmt(s.testMedianTraceGs),
        fmt(s.testMeanLambdaMaxGs),
        s.samplesPerSecond === null ? '-' : Math.round(s.samplesPerSecond),
        s.runDir,
      ]);
      process.stdout.write(
        '\n' + table(['model', 'μ', 'test acc', 'tr G_s mean', 'tr G_s median', 'λmax(G_s) mean', 'samples/s', 'run'], rows) + '\n',
      );
      process.stdout.write(
        '\ntr G_s = Σ 1/p_i over the 10 classes (≥ 100; the defended optimum is ≈ 119). Inspect the runs with `fim runs`.\n',
      );
    }
    return summaries.every((s) => s.state === 'completed') ? 0 : 1;
  },
});
