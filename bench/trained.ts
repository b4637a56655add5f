// The trained ConvNet the AutoAttack rows of `npm run bench` evaluate (an untrained one is
// misclassified on 90% of the inputs, which no attack needs to break): one epoch of the baseline
// (μ = 0, seed 1) on all of MNIST through train(), made once per checkout under bench/.tmp and
// exported for the PyTorch peer (bench/peer/export_checkpoint.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, train } from '../src/engine';
import { listRuns } from '../src/runs/reader';
import { exportCheckpoint } from './peer/export_checkpoint';

export const TRAINED_NAME = 'bench-convnet-mu0-e1';

export async function prepareTrained(
  tmp: string,
  testSamples: number,
  log: (m: string) => void,
): Promise<{ runDir: string; checkpoint: string }> {
  const store = path.join(tmp, 'trained');
  let run = listRuns(store).find((r) => r.config?.name === TRAINED_NAME && r.effectiveState === 'completed');
  if (!run) {
    log('training the ConvNet for the AutoAttack rows (1 epoch, μ = 0)');
    await initBackend();
    const summary = await train({
      model: 'convnet',
      dataset: 'mnist',
      mu: 0,
      epochs: 1,
      batchSize: 128,
      learningRate: 1e-3,
      seed: 1,
      storeDir: store,
      name: TRAINED_NAME,
    });
    if (summary.state !== 'completed') throw new Error(`training the bench model ended ${summary.state}: ${summary.message ?? ''}`);
    run = listRuns(store).find((r) => r.dir === path.resolve(summary.runDir))!;
  }
  const checkpoint = path.join(tmp, 'trained-checkpoint.json');
  if (!fs.existsSync(checkpoint) || fs.statSync(checkpoint).mtimeMs < fs.statSync(run.dir).mtimeMs) {
    await initBackend();
    log(await exportCheckpoint(run.dir, testSamples, checkpoint));
  }
  return { runDir: run.dir, checkpoint };
}
