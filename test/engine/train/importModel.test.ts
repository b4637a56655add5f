import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { isInputError } from '../../../src/engine/errors';
import { writeModelFiles } from '../../../src/engine/models/files';
import { buildModel, resolveDefinition } from '../../../src/engine/models/load';
import { importModel } from '../../../src/engine/train/importModel';
import { listRuns } from '../../../src/runs/reader';
import { tmpDir, useEngineBackend } from '../../helpers';

/**
 * `fim import` of a tfjs Layers model.json with weights: a run with the imported model as its
 * checkpoint (same logits), its test accuracy measured; a topology-only model.json is refused,
 * and a refused import writes nothing.
 */
before(async () => {
  await useEngineBackend();
});

test('a tfjs Layers model.json with weights imports as a run whose accuracy is the model’s', async () => {
  const dir = tmpDir();
  const def = await resolveDefinition('convnet', { inputShape: [28, 28, 1], numClasses: 10 });
  const { model } = await buildModel(def, { imageShape: [28, 28, 1], numClasses: 10, seed: 4 });
  const modelDir = path.join(dir, 'keras');
  fs.mkdirSync(modelDir);
  await writeModelFiles(model, modelDir);
  const store = path.join(dir, 'store');
  const r = await importModel({ model: path.join(modelDir, 'model.json'), dataset: 'mnist', storeDir: store, limitTest: 64 });
  assert.equal(r.format, 'tfjs-layers');
  assert.equal(r.testSamples, 64);
  assert.equal(
    r.trainableParameters,
    model.trainableWeights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0),
  );
  const runs = listRuns(store);
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.config!.imported!.format, 'tfjs-layers');
  assert.equal(runs[0]!.effectiveState, 'completed');
  assert.equal(runs[0]!.summary!.testAccuracy, r.testAccuracy);
  model.dispose();
  // Topology only: refused, and the store keeps its one run.
  const bare = path.join(dir, 'bare.json');
  fs.writeFileSync(
    bare,
    JSON.stringify({ modelTopology: JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).modelTopology }),
  );
  await assert.rejects(
    () => importModel({ model: bare, dataset: 'mnist', storeDir: store, limitTest: 8 }),
    (e: Error) => isInputError(e) && /has no weights/.test(e.message),
  );
  assert.equal(listRuns(store).length, 1);
});
