/**
 * The bad-input corpus: a hundred-odd ways a new user or an attacker can get the command line
 * wrong (flags, data sets, images, model files, run directories, evaluation names, locks), each
 * with the exit code and the one-line message it must give. For every case the test also checks
 * that no stack trace is printed, that it ends in time (no hang), and that a sentinel run and the
 * run the evaluations aim at, in the same store, are byte-for-byte unchanged. The closing line
 * prints the figures: cases tried, clear errors, destructive or silent-garbage results, hangs.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { inspectRun } from '../../src/engine/eval/inspect';
import { loadEvalRun } from '../../src/engine/eval/runModel';
import { acquireEvalLock, acquireReproduceLock, acquireRunLock, type Lock } from '../../src/runs/lock';
import { listRuns } from '../../src/runs/reader';
import type { EffectiveState } from '../../src/runs/types';
import { hasStackTrace, runFim, type CliResult } from '../cliBundle';
import { makeTinyRun } from '../engine/eval/tinyRun';
import { tmpDir, treeDigest, useEngineBackend } from '../helpers';
import { writeBadInputs, type Fixtures } from './badInputFixtures';

interface Case {
  name: string;
  args: (f: Fixtures) => string[];
  exit: number;
  /** Must match one line of stderr. */
  message: RegExp;
  /** A case that legitimately creates a run: the state it must end in. */
  creates?: EffectiveState;
  /** Something held while the case runs (a lock another process would hold); released after. */
  hold?: (f: Fixtures) => Lock;
}

const TINY = ['--limit-train', '64', '--limit-test', '32', '--epochs', '1', '--batch', '32'];
const train = (f: Fixtures, ...extra: string[]) => ['train', '--out', f.store, '--model', f.definition, ...TINY, ...extra];
const trainData = (f: Fixtures, dataset: string, dir: string, ...extra: string[]) => [
  'train',
  '--out',
  f.store,
  '--dataset',
  dataset,
  '--data-dir',
  dir,
  '--model',
  'convnet',
  '--epochs',
  '1',
  '--batch',
  '32',
  ...extra,
];
const folder = (f: Fixtures, key: string) => trainData(f, 'folder', f[key]!, '--image-size', '28', '--channels', '1');
const inspect = (f: Fixtures, ...extra: string[]) => ['inspect', '--run', f.target, '--samples', '4', ...extra];
const attack = (f: Fixtures, ...extra: string[]) => [
  'attack',
  '--run',
  f.target,
  '--attack',
  'fgsm',
  '--eps',
  '0.1',
  '--samples',
  '4',
  ...extra,
];
const USAGE = 2;
const INPUT = 2;

const CASES: Case[] = [
  // ---------------------------------------------------------------- flags
  { name: 'train --epochs x', args: (f) => train(f, '--epochs', 'x'), exit: USAGE, message: /--epochs expects a number, got "x"/ },
  { name: 'train --epochs 0', args: (f) => train(f, '--epochs', '0'), exit: USAGE, message: /--epochs expects an integer ≥ 1/ },
  { name: 'train --epochs 1.5', args: (f) => train(f, '--epochs', '1.5'), exit: USAGE, message: /--epochs expects an integer/ },
  { name: 'train --epochs 1e400', args: (f) => train(f, '--epochs', '1e400'), exit: USAGE, message: /--epochs expects a number/ },
  { name: 'train --batch 0', args: (f) => train(f, '--batch', '0'), exit: USAGE, message: /--batch expects an integer ≥ 1/ },
  {
    name: 'train --batch -5',
    args: (f) => train(f, '--batch', '-5'),
    exit: USAGE,
    message: /--batch -5: a value that starts with "-" is read as an option; write --batch=-5/,
  },
  { name: 'train --batch=-5', args: (f) => train(f, '--batch=-5'), exit: USAGE, message: /--batch expects an integer ≥ 1, got "-5"/ },
  { name: 'train --lr 0', args: (f) => train(f, '--lr', '0'), exit: USAGE, message: /--lr must be > 0/ },
  { name: 'train --lr=-1', args: (f) => train(f, '--lr=-1'), exit: USAGE, message: /--lr must be > 0/ },
  { name: 'train --lr abc', args: (f) => train(f, '--lr', 'abc'), exit: USAGE, message: /--lr expects a number/ },
  { name: 'train --mu=-1', args: (f) => train(f, '--mu=-1'), exit: USAGE, message: /--mu must be ≥ 0/ },
  { name: 'train --mu NaN', args: (f) => train(f, '--mu', 'NaN'), exit: USAGE, message: /--mu expects a number/ },
  { name: 'train --mu Infinity', args: (f) => train(f, '--mu', 'Infinity'), exit: USAGE, message: /--mu expects a number/ },
  {
    name: 'train --label-smoothing 1',
    args: (f) => train(f, '--label-smoothing', '1'),
    exit: USAGE,
    message: /--label-smoothing must be in \[0, 1\)/,
  },
  { name: 'train --seed=-1', args: (f) => train(f, '--seed=-1'), exit: USAGE, message: /--seed expects an integer ≥ 0/ },
  {
    name: 'train --limit-train 0',
    args: (f) => train(f, '--limit-train', '0'),
    exit: USAGE,
    message: /--limit-train expects an integer ≥ 1/,
  },
  { name: 'train --limit-test=-2', args: (f) => train(f, '--limit-test=-2'), exit: USAGE, message: /--limit-test expects an integer ≥ 1/ },
  { name: 'train --nope', args: (f) => train(f, '--nope'), exit: USAGE, message: /Unknown option '--nope'/ },
  { name: 'train --backend tpu', args: (f) => train(f, '--backend', 'tpu'), exit: USAGE, message: /tpu/ },
  { name: 'train --augment sideways', args: (f) => train(f, '--augment', 'sideways'), exit: USAGE, message: /--augment/ },
  { name: 'train --dataset nosuch', args: (f) => train(f, '--dataset', 'nosuch'), exit: INPUT, message: /nosuch/ },
  { name: 'train --dataset folder without --data-dir', args: (f) => train(f, '--dataset', 'folder'), exit: INPUT, message: /data-dir/ },
  {
    name: 'train --dataset folder:size=abc',
    args: (f) => [...folder(f, 'folder-split').slice(0, 3), '--dataset', 'folder:size=abc', '--data-dir', f['folder-split']!],
    exit: INPUT,
    message: /size/,
  },
  { name: 'train --dataset idx:nope=1', args: (f) => trainData(f, 'idx:nope=1', f['idx-ok']!), exit: INPUT, message: /nope/ },
  {
    name: 'train --image-size 0',
    args: (f) => trainData(f, 'folder', f['folder-split']!, '--image-size', '0'),
    exit: INPUT,
    message: /image size must be N or HxW with sides in 4\.\.1024, got "0"/,
  },
  {
    name: 'train --val-split 2',
    args: (f) => trainData(f, 'folder', f['folder-one-class']!, '--val-split', '2'),
    exit: INPUT,
    message: /option val \(the held-out fraction\) must be in \(0, 1\), got "2"/,
  },
  {
    name: 'train --channels 5',
    args: (f) => trainData(f, 'folder', f['folder-split']!, '--channels', '5'),
    exit: INPUT,
    message: /option channels must be 1, 3 or auto, got "5"/,
  },
  { name: 'train --at-eps -1', args: (f) => train(f, '--adversarial-training', '--at-eps', '-1'), exit: USAGE, message: /--at-eps/ },
  { name: 'train --at-ratio 2', args: (f) => train(f, '--adversarial-training', '--at-ratio', '2'), exit: USAGE, message: /--at-ratio/ },
  {
    name: 'train --out naming a file',
    args: (f) => ['train', '--out', f.file, ...TINY],
    exit: INPUT,
    message: /is a file, not a directory/,
  },
  {
    name: 'train --out below a file',
    args: (f) => ['train', '--out', path.join(f.file, 'runs'), ...TINY],
    exit: INPUT,
    message: /is a file, not a directory/,
  },
  {
    name: 'train --out under /proc',
    args: () => ['train', '--out', '/proc/fim-runs/x', ...TINY],
    exit: INPUT,
    message: /cannot create the directory \/proc\/fim-runs/,
  },
  {
    name: 'train --lr 1e30 diverges',
    args: (f) => train(f, '--lr', '1e30', '--name', 'corpus-diverged'),
    exit: 1,
    message: /became (-?Infinity|NaN) at epoch 1/,
    creates: 'failed',
  },
  {
    name: 'train --batch 1e9',
    args: (f) => train(f, '--batch', '1e9', '--name', 'corpus-bigbatch'),
    exit: 0,
    message: /^note: batch 1000000000 is larger than the 64 training samples: one step per epoch$/,
    creates: 'completed',
  },
  { name: 'runs --out naming a file', args: (f) => ['runs', '--out', f.file], exit: USAGE, message: /is a file, not a run store/ },
  { name: 'runs --bogus', args: () => ['runs', '--bogus'], exit: USAGE, message: /Unknown option/ },
  { name: 'reproduce --bogus', args: () => ['reproduce', '--bogus'], exit: USAGE, message: /Unknown option/ },
  {
    name: 'reproduce --out naming a file',
    args: (f) => ['reproduce', '--quick', '--out', f.file],
    exit: INPUT,
    message: /is a file, not a directory/,
  },
  { name: 'an unknown command', args: () => ['frobnicate'], exit: USAGE, message: /unknown command "frobnicate"/ },
  { name: 'no command', args: () => [], exit: USAGE, message: /^usage: fim <command>/ },
  { name: 'backend --backend tpu', args: () => ['backend', '--backend', 'tpu'], exit: USAGE, message: /tpu/ },
  { name: 'eval with no sub-command', args: () => ['eval'], exit: USAGE, message: /fim eval/ },
  { name: 'eval nosuch', args: () => ['eval', 'nosuch'], exit: USAGE, message: /nosuch/ },

  // ---------------------------------------------------------------- datasets
  { name: 'idx: empty directory', args: (f) => trainData(f, 'idx', f.empty), exit: INPUT, message: /IDX|idx/ },
  {
    name: 'idx: wrong magic number',
    args: (f) => trainData(f, 'idx', f['idx-magic']!),
    exit: INPUT,
    message: /train-images-idx3-ubyte: not an IDX file/,
  },
  {
    name: 'idx: truncated images',
    args: (f) => trainData(f, 'idx', f['idx-truncated']!),
    exit: INPUT,
    message: /train-images-idx3-ubyte: .*header says/,
  },
  { name: 'idx: label count mismatch', args: (f) => trainData(f, 'idx', f['idx-count']!), exit: INPUT, message: /39|40/ },
  {
    name: 'idx: test label out of range',
    args: (f) => trainData(f, 'idx', f['idx-label']!),
    exit: INPUT,
    message: /t10k-labels-idx1-ubyte: .*200/,
  },
  {
    name: 'idx: corrupt gzip',
    args: (f) => trainData(f, 'idx', f['idx-gzip']!),
    exit: INPUT,
    message: /train-images-idx3-ubyte\.gz: looks gzipped but does not inflate/,
  },
  { name: 'idx: a file missing', args: (f) => trainData(f, 'idx', f['idx-missing']!), exit: INPUT, message: /t10k-images|lacks|missing/ },
  {
    name: 'idx: images with two dimensions',
    args: (f) => trainData(f, 'idx', f['idx-dims']!),
    exit: INPUT,
    message: /train-images-idx3-ubyte/,
  },
  {
    name: 'cifar10: batch not whole records',
    args: (f) => trainData(f, 'cifar10', f['cifar-size']!),
    exit: INPUT,
    message: /data_batch_1\.bin: .*3073/,
  },
  { name: 'cifar10: label 12', args: (f) => trainData(f, 'cifar10', f['cifar-label']!), exit: INPUT, message: /data_batch_2\.bin: .*12/ },
  {
    name: 'cifar10: test batch missing',
    args: (f) => trainData(f, 'cifar10', f['cifar-missing']!),
    exit: INPUT,
    message: /test_batch\.bin/,
  },
  {
    name: 'cifar10: an empty batch',
    args: (f) => trainData(f, 'cifar10', f['cifar-empty-batch']!),
    exit: INPUT,
    message: /data_batch_3\.bin/,
  },
  {
    name: 'cifar10: a directory of nothing',
    args: (f) => trainData(f, 'cifar10', f.empty),
    exit: INPUT,
    message: /data_batch_1\.bin|CIFAR/,
  },
  { name: 'gtsrb: missing folders', args: (f) => trainData(f, 'gtsrb', f.empty), exit: INPUT, message: /Final_Training|GTSRB/ },
  { name: 'gtsrb: CSV without columns', args: (f) => trainData(f, 'gtsrb', f['gtsrb-columns']!), exit: INPUT, message: /GT-00000\.csv/ },
  { name: 'gtsrb: ROI outside the image', args: (f) => trainData(f, 'gtsrb', f['gtsrb-roi']!), exit: INPUT, message: /ROI|outside/ },
  {
    name: 'gtsrb: truncated PPM',
    args: (f) => trainData(f, 'gtsrb', f['gtsrb-ppm']!),
    exit: INPUT,
    message: /00000_00000\.ppm: truncated/,
  },
  {
    name: 'gtsrb: PPM claiming 30000×30000',
    args: (f) => trainData(f, 'gtsrb', f['gtsrb-ppm-bomb']!),
    exit: INPUT,
    message: /00000_00000\.ppm: PPM header says 30000×30000 pixels/,
  },
  { name: 'gtsrb: no test images', args: (f) => trainData(f, 'gtsrb', f['gtsrb-notest']!), exit: INPUT, message: /Final_Test/ },
  { name: 'gtsrb: test class 77', args: (f) => trainData(f, 'gtsrb', f['gtsrb-label']!), exit: INPUT, message: /77/ },
  {
    name: 'mnist: --data-dir without IDX files',
    args: (f) => trainData(f, 'mnist', f.empty),
    exit: INPUT,
    message: /IDX|idx|train-images/,
  },
  { name: '--data-dir naming a file', args: (f) => trainData(f, 'idx', f.file), exit: INPUT, message: /a-file\.txt/ },
  {
    name: '--data-dir that does not exist',
    args: (f) => trainData(f, 'idx', path.join(f.root, 'nowhere')),
    exit: INPUT,
    message: /nowhere/,
  },

  // ---------------------------------------------------------------- images (image-folder datasets)
  { name: 'folder: an empty directory', args: (f) => trainData(f, 'folder', f.empty), exit: INPUT, message: /class|folder/ },
  { name: 'folder: one class only', args: (f) => folder(f, 'folder-one-class'), exit: INPUT, message: /class/ },
  {
    name: 'folder: an empty class folder',
    args: (f) => folder(f, 'folder-empty-class'),
    exit: INPUT,
    message: /\bc\b.*(empty|no image)|(empty|no image).*\bc\b/,
  },
  { name: 'folder: no images at all', args: (f) => folder(f, 'folder-no-images'), exit: INPUT, message: /image/ },
  { name: 'folder: train/ and test/ classes differ', args: (f) => folder(f, 'folder-split'), exit: INPUT, message: /class/ },
  {
    name: 'image: corrupt PNG',
    args: (f) => folder(f, 'folder-corrupt-png'),
    exit: INPUT,
    message: /broken\.png: PNG header says 16843009×16843009 pixels/,
  },
  {
    name: 'image: 70-byte PNG claiming 30000×30000',
    args: (f) => folder(f, 'folder-png-bomb'),
    exit: INPUT,
    message: /bomb\.png: PNG header says 30000×30000 pixels/,
  },
  {
    name: 'image: PNG with 7 of 20 rows of pixel data',
    args: (f) => folder(f, 'folder-png-short'),
    exit: INPUT,
    message: /short\.png: truncated PNG: 20×20 pixels need/,
  },
  { name: 'image: PNG cut before IEND', args: (f) => folder(f, 'folder-png-cut'), exit: INPUT, message: /cut\.png: truncated PNG/ },
  { name: 'image: JPEG cut in half', args: (f) => folder(f, 'folder-jpeg-cut'), exit: INPUT, message: /cut\.jpg: corrupt JPEG/ },
  {
    name: 'image: JPEG claiming 60000×60000',
    args: (f) => folder(f, 'folder-jpeg-bomb'),
    exit: INPUT,
    message: /bomb\.jpg: JPEG header says 60000×60000 pixels/,
  },
  {
    name: 'image: a GIF named .png',
    args: (f) => folder(f, 'folder-gif'),
    exit: INPUT,
    message: /anim\.png: not a PNG, JPEG or PPM image/,
  },
  { name: 'image: an empty file', args: (f) => folder(f, 'folder-zero'), exit: INPUT, message: /zero\.png: .*empty/ },

  // ---------------------------------------------------------------- model files
  {
    name: 'model: a missing file',
    args: (f) => [...train(f), '--model', path.join(f.root, 'nope.json')],
    exit: INPUT,
    message: /neither a built-in definition .* nor an existing file/,
  },
  {
    name: 'model: not JSON',
    args: (f) => [...train(f), '--model', f['model-not-json']!],
    exit: INPUT,
    message: /model\.json: not a readable JSON model definition/,
  },
  {
    name: 'model: no modelTopology',
    args: (f) => [...train(f), '--model', f['model-no-topology']!],
    exit: INPUT,
    message: /not a tfjs Layers model\.json \(no "modelTopology"\)/,
  },
  {
    name: 'model: weights path ../../../../etc/hostname',
    args: (f) => [...train(f), '--model', f['model-traversal']!],
    exit: INPUT,
    message: /weight file ".*etc\/hostname" is not inside the model's directory/,
  },
  {
    name: 'model: absolute weights path',
    args: (f) => [...train(f), '--model', f['model-absolute']!],
    exit: INPUT,
    message: /weight file "\/etc\/hostname" is not inside/,
  },
  {
    name: 'model: weights file missing',
    args: (f) => [...train(f), '--model', f['model-missing-weights']!],
    exit: INPUT,
    message: /weight file weights\.bin not found/,
  },
  {
    name: 'model: weights too short',
    args: (f) => [...train(f), '--model', f['model-short-weights']!],
    exit: INPUT,
    message: /weight files hold 3 bytes but the manifest describes 4/,
  },
  {
    name: 'model: weightsManifest not a list',
    args: (f) => [...train(f), '--model', f['model-manifest-type']!],
    exit: INPUT,
    message: /"weightsManifest" must be a list/,
  },
  {
    name: 'model: unknown weight dtype',
    args: (f) => [...train(f), '--model', f['model-dtype']!],
    exit: INPUT,
    message: /unsupported dtype/,
  },
  {
    name: 'model: unknown layer class',
    args: (f) => [...train(f), '--model', f['model-garbage-layers']!],
    exit: INPUT,
    message: /the model topology \(class Nope\) has no layer list/,
  },
  {
    name: 'model: 5 outputs for 10 classes',
    args: (f) => [...train(f), '--model', f['model-five-classes']!],
    exit: INPUT,
    message: /outputs shape \[\?, 5\] but the dataset has 10 classes/,
  },
  {
    name: 'model: built-in for other images',
    args: (f) => [...train(f), '--model', 'vgg11'],
    exit: INPUT,
    message: /expects input shape \[32, 32, 3\] but the dataset's images are \[28, 28, 1\]/,
  },
  {
    name: 'model: a directory without model.json',
    args: (f) => [...train(f), '--model', f['model-dir']!],
    exit: INPUT,
    message: /model\.json: file not found/,
  },
  {
    name: 'model: a .txt file',
    args: (f) => [...train(f), '--model', f['model-txt']!],
    exit: INPUT,
    message: /unsupported model definition/,
  },
  {
    name: 'module: throws a string',
    args: (f) => [...train(f), '--model', f['module-string']!],
    exit: INPUT,
    message: /failed while building the model: the module threw this string/,
  },
  {
    name: 'module: throws an Error',
    args: (f) => [...train(f), '--model', f['module-error']!],
    exit: INPUT,
    message: /failed while building the model: the module failed on purpose/,
  },
  {
    name: 'module: syntax error',
    args: (f) => [...train(f), '--model', f['module-syntax']!],
    exit: INPUT,
    message: /syntax\.ts: cannot be compiled/,
  },
  {
    name: 'module: returns a number',
    args: (f) => [...train(f), '--model', f['module-number']!],
    exit: INPUT,
    message: /must be a tf\.LayersModel .* \(got number\)/,
  },
  {
    name: 'module: imports a missing file',
    args: (f) => [...train(f), '--model', f['module-missing-import']!],
    exit: INPUT,
    message: /missing-import\.js: cannot be compiled: Could not resolve "\.\/nowhere"/,
  },

  // ---------------------------------------------------------------- run directories
  {
    name: 'resume: no such directory',
    args: (f) => ['train', '--resume', path.join(f.root, 'nowhere')],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  { name: 'resume: a file', args: (f) => ['train', '--resume', f.file], exit: INPUT, message: /not a readable run directory/ },
  {
    name: 'resume: a directory that is not a run',
    args: (f) => ['train', '--resume', f['not-a-run']!],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  {
    name: 'resume: a completed run (the sentinel)',
    args: (f) => ['train', '--resume', f.sentinel],
    exit: INPUT,
    message: /already completed all 1 epochs/,
  },
  {
    name: 'resume: corrupt config.json',
    args: (f) => ['train', '--resume', f['run-corrupt-config']!],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  {
    name: 'resume: a run another host has locked',
    args: (f) => ['train', '--resume', f['run-other-host']!],
    exit: INPUT,
    message:
      /run other-host is in use by pid 1 on host some-other-host\.example \(training, since .*\); .* or remove .*other-host\/\.lock if that process is gone/,
  },
  {
    name: 'resume: a run another process has locked',
    args: (f) => ['train', '--resume', f['run-live-owner']!],
    hold: (f) => acquireRunLock(f['run-live-owner']!, 'training'),
    exit: INPUT,
    message: new RegExp(`run live-owner is in use by pid ${process.pid} \\(training, since `),
  },
  {
    name: 'resume: the dataset changed size',
    args: (f) => ['train', '--resume', f['run-stopped-samples']!],
    exit: INPUT,
    message: /the dataset now has \d+ training samples but the run used 123456/,
  },
  { name: 'inspect: no --run', args: () => ['inspect'], exit: USAGE, message: /--run DIR is required/ },
  {
    name: 'inspect: no such run',
    args: (f) => ['inspect', '--run', path.join(f.root, 'nowhere')],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  { name: 'inspect: a file', args: (f) => ['inspect', '--run', f.file], exit: INPUT, message: /not a readable run directory/ },
  {
    name: 'inspect: a run without checkpoints',
    args: (f) => ['inspect', '--run', f['run-no-checkpoint']!],
    exit: INPUT,
    message: /has no checkpoint yet/,
  },
  {
    name: 'inspect: truncated weights',
    args: (f) => ['inspect', '--run', f['run-truncated-weights']!],
    exit: INPUT,
    message: /weight files hold 100 bytes but the manifest describes \d+ \(truncated or damaged\)/,
  },
  {
    name: 'inspect: checkpoint weights path ../../etc/hostname',
    args: (f) => ['inspect', '--run', f['run-checkpoint-traversal']!],
    exit: INPUT,
    message: /is not inside the checkpoint/,
  },
  {
    name: 'inspect: corrupt config.json',
    args: (f) => ['inspect', '--run', f['run-corrupt-config']!],
    exit: INPUT,
    message: /config\.json is not valid JSON/,
  },
  {
    name: 'inspect: no config.json',
    args: (f) => ['inspect', '--run', f['run-no-config']!],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  {
    name: 'inspect: a config naming an unknown dataset',
    args: (f) => ['inspect', '--run', f['run-bad-dataset']!],
    exit: INPUT,
    message: /nosuch/,
  },
  {
    name: 'transfer: --to missing',
    args: (f) => ['eval', 'transfer', '--from', f.target, '--to', path.join(f.root, 'nowhere'), '--attack', 'fgsm'],
    exit: INPUT,
    message: /not a readable run directory/,
  },
  {
    name: 'reproduce: directory locked by another process',
    args: (f) => ['reproduce', '--quick', '--out', path.join(f.root, 'repro')],
    hold: (f) => acquireReproduceLock(path.join(f.root, 'repro')),
    exit: INPUT,
    message: new RegExp(`another fim reproduce \\(pid ${process.pid}, since .*\\) is working in`),
  },

  // ---------------------------------------------------------------- evaluation names and flags
  {
    name: 'inspect --name ..',
    args: (f) => inspect(f, '--name', '..'),
    exit: USAGE,
    message: /--name: evaluation name "\.\." is not allowed/,
  },
  { name: 'inspect --name .', args: (f) => inspect(f, '--name', '.'), exit: USAGE, message: /--name: evaluation name "\." is not allowed/ },
  {
    name: 'attack --name .. --examples 0',
    args: (f) => attack(f, '--name', '..', '--examples', '0'),
    exit: USAGE,
    message: /evaluation name "\.\." is not allowed/,
  },
  { name: 'attack --name .', args: (f) => attack(f, '--name', '.'), exit: USAGE, message: /evaluation name "\." is not allowed/ },
  { name: 'inspect --name a/b', args: (f) => inspect(f, '--name', 'a/b'), exit: USAGE, message: /evaluation name "a\/b" is not allowed/ },
  { name: 'inspect --name ../../x', args: (f) => inspect(f, '--name', '../../x'), exit: USAGE, message: /is not allowed/ },
  { name: 'inspect --name .hidden', args: (f) => inspect(f, '--name', '.hidden'), exit: USAGE, message: /"\.hidden" is not allowed/ },
  { name: 'inspect --name ""', args: (f) => inspect(f, '--name', ''), exit: USAGE, message: /non-empty/ },
  {
    name: 'inspect --name of 300 characters',
    args: (f) => inspect(f, '--name', 'x'.repeat(300)),
    exit: USAGE,
    message: /is not allowed: use .* at most 120 characters/,
  },
  {
    name: 'eval distance --name ..',
    args: (f) => ['eval', 'distance', '--run', f.target, '--attacks', 'fgsm', '--name', '..'],
    exit: USAGE,
    message: /is not allowed/,
  },
  {
    name: 'eval worst-case --name .',
    args: (f) => ['eval', 'worst-case', '--run', f.target, '--attacks', 'fgsm', '--eps', '0.1', '--name', '.'],
    exit: USAGE,
    message: /is not allowed/,
  },
  {
    name: 'inspect: the name is being written by another process',
    args: (f) => inspect(f, '--name', 'busy'),
    hold: (f) => acquireEvalLock(f.target, 'busy', 'inspect'),
    exit: INPUT,
    message: new RegExp(`evaluation busy of run .* is in use by pid ${process.pid}`),
  },
  { name: 'inspect --samples 0', args: (f) => inspect(f, '--samples', '0'), exit: USAGE, message: /--samples expects an integer ≥ 1/ },
  { name: 'inspect --samples=-3', args: (f) => inspect(f, '--samples=-3'), exit: USAGE, message: /--samples expects an integer ≥ 1/ },
  {
    name: 'inspect --start past the end',
    args: (f) => inspect(f, '--start', '99999'),
    exit: INPUT,
    message: /--start 99999 is past the end/,
  },
  { name: 'inspect --split val', args: (f) => inspect(f, '--split', 'val'), exit: USAGE, message: /--split must be test or train/ },
  { name: 'inspect --seed x', args: (f) => inspect(f, '--seed', 'x'), exit: USAGE, message: /--seed expects a number/ },
  { name: 'inspect --tau 0', args: (f) => inspect(f, '--tau', '0'), exit: USAGE, message: /--tau/ },
  { name: 'attack --attack nosuch', args: (f) => [...attack(f), '--attack', 'nosuch'], exit: USAGE, message: /nosuch/ },
  { name: 'attack --eps x', args: (f) => [...attack(f), '--eps', 'x'], exit: USAGE, message: /--eps: "x" is not a number/ },
  { name: 'attack --eps=-1', args: (f) => [...attack(f), '--eps=-1'], exit: USAGE, message: /--eps: budgets must be ≥ 0/ },
  {
    name: 'attack --eps -1',
    args: (f) => [...attack(f), '--eps', '-1'],
    exit: USAGE,
    message: /--eps -1: a value that starts with "-" is read as an option/,
  },
  { name: 'attack --eps ""', args: (f) => [...attack(f), '--eps', ''], exit: USAGE, message: /--eps needs a comma-separated list/ },
  { name: 'attack --option foo=1', args: (f) => attack(f, '--option', 'foo=1'), exit: USAGE, message: /foo/ },
  {
    name: 'attack --option steps=abc',
    args: (f) => ['attack', '--run', f.target, '--attack', 'bim-linf', '--eps', '0.1', '--samples', '4', '--option', 'steps=abc'],
    exit: USAGE,
    message: /steps/,
  },
  { name: 'attack --option without =', args: (f) => attack(f, '--option', 'steps'), exit: USAGE, message: /--option expects key=value/ },
  { name: 'attack --batch 0', args: (f) => attack(f, '--batch', '0'), exit: USAGE, message: /--batch expects an integer ≥ 1/ },
  {
    name: 'eval distance --attacks nosuch',
    args: (f) => ['eval', 'distance', '--run', f.target, '--attacks', 'nosuch'],
    exit: USAGE,
    message: /nosuch/,
  },
  {
    name: 'eval worst-case mixing norms',
    args: (f) => ['eval', 'worst-case', '--run', f.target, '--attacks', 'fgsm,fgm', '--eps', '0.1', '--samples', '4'],
    exit: INPUT,
    message: /worst case needs attacks in one norm/,
  },
];

let f: Fixtures;
const digests = () => `${treeDigest(f.sentinel, isLock)}|${treeDigest(f.target, isLock)}`;
/** Lock files and the temp files they are made from: other cases' processes hold them for a moment. */
const isLock = (n: string) => n === '.lock' || n.startsWith('.lock-') || n.startsWith('.tmp-.lock');

before(async () => {
  await useEngineBackend();
  const root = tmpDir('fim-bad-');
  const store = path.join(root, 'store');
  const sentinel = await makeTinyRun(store, { name: 'sentinel', trainSamples: 300 });
  const target = await makeTinyRun(store, { name: 'target', trainSamples: 300, seed: 2 });
  // The sentinel has an evaluation with images, as a run a user has worked on would.
  await inspectRun(await loadEvalRun(sentinel), {
    selection: { split: 'test', start: 0, count: 4 },
    heldOut: 100,
    images: 2,
    name: 'kept',
  });
  f = writeBadInputs({ root, store, sentinel, target, definition: path.join(store, 'small-1.json') });
});

interface Outcome {
  c: Case;
  r: CliResult;
  problems: string[];
  destructive: boolean;
}

async function runCase(c: Case): Promise<Outcome> {
  const before = digests();
  const runsBefore = new Set(listRuns(f.store).map((r) => r.id));
  const held = c.hold?.(f);
  let r: CliResult;
  try {
    r = await runFim(c.args(f), { cwd: f.root, timeoutMs: 90_000 });
  } finally {
    held?.release();
  }
  const problems: string[] = [];
  let destructive = false;
  if (r.timedOut) problems.push('hung (killed after 90 s)');
  if (r.status !== c.exit) problems.push(`exit ${r.status ?? r.signal}, expected ${c.exit}`);
  const lines = r.stderr.split('\n');
  if (!lines.some((l) => c.message.test(l))) problems.push(`no stderr line matches ${c.message}`);
  if (hasStackTrace(r.stderr) || hasStackTrace(r.stdout)) problems.push('printed a stack trace');
  if (c.exit !== 0 && r.stdout.trim() !== '' && !r.stdout.startsWith('fim — ')) problems.push(`wrote to stdout: ${r.stdout.slice(0, 80)}`);
  if (digests() !== before) {
    problems.push('changed the sentinel or the target run');
    destructive = true;
  }
  const created = listRuns(f.store).filter((x) => !runsBefore.has(x.id));
  if (c.creates) {
    if (created.length !== 1 || created[0]!.effectiveState !== c.creates) {
      problems.push(`created ${created.map((x) => `${x.id} (${x.effectiveState})`).join(', ') || 'no run'}; expected one ${c.creates} run`);
      destructive = created.some((x) => x.effectiveState === 'completed' && c.creates !== 'completed');
    }
  } else if (created.length > 0) problems.push(`created a run: ${created.map((x) => x.id).join(', ')}`);
  if (r.status === 0 && c.exit !== 0) destructive = true; // silent success on bad input: garbage
  return { c, r, problems, destructive };
}

test('the bad-input corpus: every case a clear one-line error, nothing destroyed, no hang', { timeout: 900_000 }, async () => {
  const outcomes: Outcome[] = [];
  // Two at a time (the machine has two cores); the cases that hold a lock or create runs are
  // among them, which is why the sentinel digests leave lock files out.
  const queue = CASES.filter((c) => !c.creates);
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) outcomes.push(await runCase(c));
    }),
  );
  // The cases that create a run go one at a time, so each sees only its own new run.
  for (const c of CASES.filter((x) => x.creates)) outcomes.push(await runCase(c));
  const failed = outcomes.filter((o) => o.problems.length > 0);
  const hangs = outcomes.filter((o) => o.r.timedOut).length;
  const destructive = outcomes.filter((o) => o.destructive).length;
  const clear = outcomes.length - failed.length;
  const slowest = [...outcomes].sort((a, b) => b.r.ms - a.r.ms)[0]!;
  console.log(
    `bad-input corpus: ${outcomes.length} bad inputs tried, ${clear} clear errors, ${destructive} destructive or silent-garbage results, ${hangs} hangs (slowest ${slowest.c.name}: ${(slowest.r.ms / 1000).toFixed(1)} s)`,
  );
  const report = failed.map(
    (o) =>
      `- ${o.c.name}: ${o.problems.join('; ')}\n    stderr: ${o.r.stderr.split('\n').find((l) => l.startsWith('fim')) ?? o.r.stderr.trim().split('\n').slice(-2).join(' | ')}`,
  );
  assert.deepEqual(report, []);
  // Nothing a case left behind: no lock files, no temp files, in the sentinel and the target.
  for (const dir of [f.sentinel, f.target]) assert.equal(treeDigest(dir), treeDigest(dir, isLock), `${dir} holds a stale lock`);
});
