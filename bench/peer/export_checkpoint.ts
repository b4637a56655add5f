// A run's newest checkpoint for the PyTorch side of a comparison (bench/peer/autoattack_reference.py,
// bench/peer/torch_autoattack.py through torch_tasks.py): every weight of the built-in ConvNet
// (BatchNorm's moving statistics included) and, for checking that both sides run the same model,
// the engine's clean logits of the first --samples test images.
//
//   node --import tsx bench/peer/export_checkpoint.ts --run DIR --samples 1000 --out /tmp/ckpt.json
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadEvalRun, logitsOf, samplesOf } from '../../src/engine';

export async function exportCheckpoint(runDir: string, samples: number, out: string): Promise<string> {
  const run = await loadEvalRun(path.resolve(runDir));
  if (run.config.model !== 'convnet')
    throw new Error(`the PyTorch side rebuilds the built-in ConvNet only (this run's model: ${run.config.model})`);
  const weights: Record<string, { shape: number[]; data: number[] }> = {};
  for (const w of run.model.weights) weights[w.name] = { shape: w.shape as number[], data: Array.from(w.read().dataSync()) };
  const d = run.data.test;
  const idx = Array.from({ length: Math.min(samples, d.count) }, (_, i) => i);
  const { x } = samplesOf(d, idx);
  const logits = tf.tidy(() => logitsOf(run.model, tf.tensor4d(x, [idx.length, ...d.imageShape])));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({
      runDir: run.runDir,
      checkpoint: run.checkpoint,
      checkpointSha256: run.checkpointSha256,
      weights,
      samples: idx.length,
      logits: Array.from(logits),
    }),
  );
  return `wrote ${out}: ${Object.keys(weights).length} weight tensors of ${run.runDir} (${run.checkpoint}), logits of ${idx.length} test samples`;
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined && fallback === undefined) throw new Error(`--${name} is required`);
  return v ?? fallback!;
}

if (require.main === module) {
  void (async () => {
    await initBackend();
    console.log(await exportCheckpoint(arg('run'), Number(arg('samples', '1000')), arg('out', '/tmp/fim-checkpoint.json')));
  })();
}
