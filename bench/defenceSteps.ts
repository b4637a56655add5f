/**
 * What one training step of each defence costs, relative to the baseline's (docs/defences.md):
 * round-robin over the defences, `ROUNDS` times, each a 1-epoch training of the ConvNet on the
 * first `SAMPLES` MNIST samples at batch 128, through the engine's public train(). Round-robin,
 * so that a change in the machine's load hits every defence alike; the median over rounds of the
 * trainer's own samples/s (training steps only, no evaluation) is printed with the load.
 *
 *   npx tsx bench/defenceSteps.ts [rounds] [samples]
 *
 * Not part of `npm run bench`: it writes nothing but temporary runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveDefence } from '../src/runs/defence';
import { train, TRAIN_DEFAULTS, type TrainRequest } from '../src/engine';

const ROUNDS = Number(process.argv[2] ?? 3);
const SAMPLES = Number(process.argv[3] ?? 1280);

const CASES: [string, Partial<TrainRequest>][] = [
  ['baseline', { mu: 0 }],
  ['trace μ=0.022', { mu: 0.022 }],
  ['spectral rows=32', resolveDefence('spectral')],
  ['spectral rows=all', resolveDefence('spectral', undefined, { rows: 0 })],
  ['trades K=10', resolveDefence('trades')],
  ['trace-scaled', resolveDefence('trace-scaled')],
  ['pgd-at K=10', { mu: 0, adversarialTraining: { epsilon: 0.1, steps: 10, stepSize: 0.025, ratio: 1 } }],
];

async function main(): Promise<void> {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-defence-steps-'));
  const rates = new Map<string, number[]>();
  const load = [os.loadavg()[0]!];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, extra] of CASES) {
        const s = await train({
          model: TRAIN_DEFAULTS.model,
          dataset: TRAIN_DEFAULTS.dataset,
          mu: 0,
          epochs: 1,
          batchSize: TRAIN_DEFAULTS.batchSize,
          learningRate: TRAIN_DEFAULTS.learningRate,
          seed: r,
          limitTrain: SAMPLES,
          limitTest: 100,
          storeDir: store,
          logEvery: 1000,
          ...extra,
        });
        rates.set(name, [...(rates.get(name) ?? []), s.samplesPerSecond ?? NaN]);
      }
      load.push(os.loadavg()[0]!);
    }
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const base = median(rates.get('baseline')!);
  console.log(
    `${ROUNDS} rounds × ${SAMPLES} samples, batch ${TRAIN_DEFAULTS.batchSize}; 1-min load average ${load.map((l) => l.toFixed(1)).join(' → ')} on ${os.cpus().length} CPUs`,
  );
  for (const [name, r] of rates) {
    const m = median(r);
    console.log(
      `${name.padEnd(18)} ${m.toFixed(0).padStart(6)} samples/s  ${((1000 * TRAIN_DEFAULTS.batchSize) / m).toFixed(0).padStart(6)} ms/step  ×${(base / m).toFixed(1)}`,
    );
  }
}

void main();
