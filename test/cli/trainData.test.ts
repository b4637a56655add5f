import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args';
import { adversarialFromFlags, augmentationFromFlag, datasetSpecFromFlags } from '../../src/cli/trainFlags';
import { writeFolderSample, writeIdxSample } from '../fixtures/datasets';
import type { RunConfig, RunSummary } from '../../src/runs/types';
import { tmpDir } from '../helpers';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'src', 'cli', 'main.ts');
const env = { ...process.env, FIM_BACKEND: process.env.FIM_BACKEND ?? 'wasm' };

function fim(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, encoding: 'utf8' });
}

test('dataset flags become the dataset spec stored in config.json', () => {
  assert.equal(datasetSpecFromFlags({}), 'mnist');
  assert.equal(
    datasetSpecFromFlags({ dataset: 'folder', imageSize: '64', valSplit: '0.1', channels: '1' }),
    'folder:size=64,val=0.1,channels=1',
  );
  assert.equal(datasetSpecFromFlags({ dataset: 'gtsrb', imageSize: '48' }), 'gtsrb:size=48');
  assert.equal(datasetSpecFromFlags({ dataset: 'idx', idxSet: 'emnist-balanced' }), 'idx:set=emnist-balanced');
  assert.throws(
    () => datasetSpecFromFlags({ dataset: 'cifar10', imageSize: '64' }),
    (e: Error) => e instanceof UsageError && /--image-size applies to --dataset folder or gtsrb, not cifar10/.test(e.message),
  );
  assert.throws(
    () => datasetSpecFromFlags({ dataset: 'folder:size=32', imageSize: '64' }),
    /--image-size and the dataset's own size= option are both given/,
  );
});

test('augmentation defaults per dataset: crop + flip for CIFAR-10, crop only for traffic signs, none otherwise', () => {
  assert.equal(augmentationFromFlag(undefined, 'cifar10'), 'crop-flip');
  assert.equal(augmentationFromFlag(undefined, 'gtsrb:size=48'), 'crop');
  assert.equal(augmentationFromFlag(undefined, 'mnist'), 'none');
  assert.equal(augmentationFromFlag(undefined, 'folder'), 'none');
  assert.equal(augmentationFromFlag('none', 'cifar10'), 'none');
  assert.throws(() => augmentationFromFlag('flip', 'cifar10'), /--augment must be one of none, crop, crop-flip/);
});

test('PGD-AT flags: Madry et al. defaults per dataset, validation, and no PGD options without --adversarial-training', () => {
  assert.equal(adversarialFromFlags({}, 'cifar10'), undefined);
  assert.deepEqual(adversarialFromFlags({ adversarialTraining: true }, 'mnist'), { epsilon: 0.3, steps: 10, stepSize: 0.075, ratio: 1 });
  const c = adversarialFromFlags({ adversarialTraining: true, steps: '7', stepSize: '0.00784' }, 'cifar10')!;
  assert.equal(c.epsilon, 8 / 255);
  assert.equal(c.steps, 7);
  assert.equal(c.stepSize, 0.00784);
  assert.throws(() => adversarialFromFlags({ eps: '0.1' }, 'mnist'), /--at-eps needs --adversarial-training/);
  assert.throws(() => adversarialFromFlags({ adversarialTraining: true, eps: '2' }, 'mnist'), /--at-eps .* must be in \(0, 1\]/);
  assert.throws(() => adversarialFromFlags({ adversarialTraining: true, ratio: '0' }, 'mnist'), /--at-ratio .* must be in \(0, 1\]/);
  assert.throws(() => adversarialFromFlags({ adversarialTraining: true, steps: '2.5' }, 'mnist'), /--at-steps expects an integer/);
});

test('fim train: bad dataset flags and missing or corrupt data give a message and exit code 2, nothing on stdout', () => {
  const cases: [string[], RegExp][] = [
    [['train', '--dataset', 'cifar10', '--json'], /dataset cifar10 needs --data-dir DIR/],
    [['train', '--dataset', 'cifar10', '--data-dir', tmpDir()], /data_batch_1\.bin: file not found; a CIFAR-10 directory holds/],
    [['train', '--at-steps', '3'], /--at-steps needs --adversarial-training/],
    [['train', '--dataset', 'folder', '--data-dir', tmpDir()], /has no class sub-folders/],
  ];
  for (const [args, message] of cases) {
    const r = fim(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});

test('fim train on an image folder and on IDX files, with LSR and PGD-AT, records the resolved options', () => {
  const data = tmpDir();
  writeFolderSample(path.join(data, 'folder'), { classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], perClass: 3 });
  writeIdxSample(path.join(data, 'idx'), { classes: 10, train: 40, test: 10 });
  const out = tmpDir();
  const runs: [string[], Partial<RunConfig>][] = [
    [
      [
        '--dataset',
        'folder',
        '--data-dir',
        path.join(data, 'folder'),
        '--image-size',
        '28',
        '--channels',
        '1',
        '--val-split',
        '0.34',
        '--augment',
        'crop',
      ],
      { dataset: 'folder:size=28,val=0.34,channels=1', augmentation: 'crop', trainSamples: 20, testSamples: 10 },
    ],
    [
      ['--dataset', 'idx', '--data-dir', path.join(data, 'idx'), '--label-smoothing', '0.1', '--adversarial-training', '--at-steps', '2'],
      {
        dataset: 'idx',
        labelSmoothing: 0.1,
        augmentation: 'none',
        adversarialTraining: { epsilon: 0.3, steps: 2, stepSize: 0.375, ratio: 1 },
      },
    ],
  ];
  for (const [args, expected] of runs) {
    const r = fim(['train', ...args, '--model', 'convnet', '--epochs', '1', '--batch', '10', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as RunSummary;
    assert.equal(summary.state, 'completed');
    const config = JSON.parse(fs.readFileSync(path.join(summary.runDir, 'config.json'), 'utf8')) as RunConfig;
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(config[k as keyof RunConfig], v, k);
  }
});
