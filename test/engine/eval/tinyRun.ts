/**
 * Real run directories for the evaluation and CLI tests: the engine's trainer on a small conv net
 * (a tfjs Layers model.json definition) and a slice of MNIST, so they take seconds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train } from '../../../src/engine/train/trainer';
import { smallMnistModel } from '../attacks/trainedModel';

export function writeSmallDefinition(dir: string, seed = 1): string {
  const file = path.join(dir, `small-${seed}.json`);
  const model = smallMnistModel(seed);
  fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology: model.toJSON(null, false), weightsManifest: [] }));
  model.dispose();
  return file;
}

export async function makeTinyRun(
  storeDir: string,
  opts: { mu?: number; seed?: number; name?: string; trainSamples?: number } = {},
): Promise<string> {
  fs.mkdirSync(storeDir, { recursive: true });
  const summary = await train({
    model: writeSmallDefinition(storeDir, opts.seed ?? 1),
    dataset: 'mnist',
    mu: opts.mu ?? 0,
    epochs: 1,
    batchSize: 64,
    learningRate: 2e-3,
    seed: opts.seed ?? 1,
    limitTrain: opts.trainSamples ?? 2000,
    limitTest: 200,
    storeDir,
    name: opts.name ?? `tiny-mu${opts.mu ?? 0}`,
    backend: 'wasm',
  });
  if (summary.state !== 'completed') throw new Error(`tiny run did not complete: ${summary.message}`);
  return summary.runDir;
}
