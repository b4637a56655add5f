// The engine's starting point for a training run, for bench/peer/torch_same_start.py: the built-in
// ConvNet's initial weights for a seed (as `fim train --seed S` builds them) and the batch order of
// each epoch (the trainer's epochOrder). PyTorch trained from exactly this start must reach the
// engine's accuracies; a gap then means an engine difference, not seed luck.
//
//   node --import tsx bench/peer/export_start.ts --seed 0 --epochs 2 --out /tmp/start-s0.json
import * as fs from 'node:fs';
import { initBackend } from '../../src/engine/backend/select';
import { buildModel, resolveDefinition } from '../../src/engine/models/load';
import { epochOrder } from '../../src/engine/train/trainer';

const MNIST_TRAIN = 60_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const seed = Number(arg('seed', '0'));
  const epochs = Number(arg('epochs', '2'));
  const out = arg('out', `/tmp/fim-start-s${seed}.json`);
  await initBackend();
  const { model } = await buildModel(await resolveDefinition('convnet', {} as never), { seed, imageShape: [28, 28, 1], numClasses: 10 });
  const weights: Record<string, { shape: number[]; data: number[] }> = {};
  for (const w of model.weights) weights[w.name] = { shape: w.shape as number[], data: Array.from(w.read().dataSync()) };
  const orders = Array.from({ length: epochs }, (_, e) => Array.from(epochOrder(MNIST_TRAIN, seed, e)));
  fs.writeFileSync(out, JSON.stringify({ seed, weights, orders }));
  console.log(`wrote ${out}: ${model.weights.length} weight tensors, ${epochs} epoch orders`);
}

void main();
