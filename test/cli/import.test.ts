import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readRun } from '../../src/runs/reader';
import { tmpDir } from '../helpers';

/**
 * The PyTorch user's path on the command line (docs/models.md): fim import → fim runs / inspect /
 * attack → fim train --model m.onnx → fim export, and the bad-input contract: exit code 2, one
 * message, nothing written to the store.
 */
const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };
const fixtures = path.join(root, 'test', 'fixtures', 'onnx');

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

function json<T>(r: ReturnType<typeof fim>): T {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

test('fim import, runs, inspect, attack, train --model, export: the ONNX path works end to end', () => {
  const store = tmpDir();
  const model = path.join(fixtures, 'resnet_bn_norm_op13.onnx');
  const imported = json<{ runDir: string; testAccuracy: number; testSamples: number; opset: number; inputLayout: string }>(
    fim(['import', model, '--dataset', 'mnist', '--limit-test', '300', '--out', store, '--json']),
  );
  assert.equal(imported.testSamples, 300);
  assert.equal(imported.opset, 13);
  assert.equal(imported.inputLayout, 'nchw');
  assert.ok(imported.testAccuracy > 0.8, `the PyTorch fixture classifies MNIST (${imported.testAccuracy})`);
  const info = readRun(imported.runDir);
  assert.equal(info.config?.imported?.format, 'onnx');
  assert.equal(info.effectiveState, 'completed');
  const runs = fim(['runs', '--out', store]);
  assert.equal(runs.status, 0);
  assert.match(runs.stdout, /imported/);
  const inspect = fim(['inspect', '--run', imported.runDir, '--samples', '12', '--json']);
  assert.equal(inspect.status, 0, inspect.stderr);
  const attack = fim(['attack', '--run', imported.runDir, '--attack', 'fgsm', '--eps', '0.1', '--samples', '12', '--json']);
  assert.equal(attack.status, 0, attack.stderr);
  const trained = json<{ runDir: string; state: string }>(
    fim([
      'train',
      '--model',
      model,
      '--mu',
      '0.022',
      '--epochs',
      '1',
      '--limit-train',
      '256',
      '--limit-test',
      '100',
      '--out',
      store,
      '--json',
    ]),
  );
  assert.equal(trained.state, 'completed');
  const out = path.join(store, 'defended.onnx');
  const exported = json<{ kind: string; inputName: string; outputName: string; opset: number; maxRelativeDifference: number }>(
    fim(['export', '--run', trained.runDir, '--format', 'onnx', '--out', out, '--json']),
  );
  assert.deepEqual([exported.kind, exported.inputName, exported.outputName, exported.opset], ['imported', 'input', 'output', 13]);
  assert.ok(fs.statSync(out).size > 10_000);
  // The export imports again.
  const again = json<{ runDir: string }>(fim(['import', out, '--dataset', 'mnist', '--limit-test', '50', '--out', store, '--json']));
  assert.ok(fs.existsSync(again.runDir));
});

test('fim import refuses bad models with exit code 2 and writes nothing to the store', () => {
  const store = path.join(tmpDir(), 'store');
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'junk.onnx'), 'not a model');
  const cases: [string[], RegExp][] = [
    [[path.join(bad, 'junk.onnx')], /not (a readable )?(an )?ONNX model/],
    [[path.join(fixtures, 'unsupported.onnx')], /Resize \(upsample\)/],
    [[path.join(fixtures, 'quantised.onnx')], /quantised/],
    [[path.join(fixtures, 'two_inputs.onnx')], /2 inputs/],
    [[path.join(fixtures, 'dynamic_hw.onnx')], /dynamic/],
    [[path.join(fixtures, 'probabilities.onnx')], /probabilities/],
    [[path.join(fixtures, 'convnet_op13.onnx'), '--input-layout', 'nhwc'], /as NHWC does not fit/],
    [[path.join(fixtures, 'convnet_op13.onnx'), '--normalize', 'mean=0.1'], /--normalize/],
    [[path.join(bad, 'missing.onnx')], /not found/],
  ];
  for (const [args, pattern] of cases) {
    const r = fim(['import', ...args, '--dataset', 'mnist', '--limit-test', '20', '--out', store, '--json']);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, pattern);
    assert.ok(!fs.existsSync(store) || fs.readdirSync(store).length === 0, `${args.join(' ')} wrote to the store`);
  }
  const usage = fim(['import', '--dataset', 'mnist']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /MODEL/);
  for (const c of ['import', 'export']) {
    const h = fim([c, '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`fim ${c}`));
  }
});
