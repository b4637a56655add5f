import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DataFormatError } from '../../../src/engine/data/idx';
import { findIdxSets, loadIdxDir } from '../../../src/engine/data/idxDir';
import { loadDataset } from '../../../src/engine/data/registry';
import { encodeIdx, writeIdxSample } from '../../fixtures/datasets';
import { tmpDir } from '../../helpers';

test('MNIST file names, gzipped (Fashion-MNIST, KMNIST)', async () => {
  const dir = tmpDir();
  writeIdxSample(dir, { classes: 10, train: 30, test: 10 });
  assert.ok(fs.existsSync(path.join(dir, 'train-images-idx3-ubyte.gz')));
  const d = await loadDataset('idx', dir);
  assert.equal(d.train.count, 30);
  assert.equal(d.test.count, 10);
  assert.deepEqual(d.train.imageShape, [28, 28, 1]);
  assert.equal(d.train.numClasses, 10);
  assert.equal(d.train.name, 'idx/train');
});

test('plain and dotted names (train-images.idx3-ubyte), and torchvision raw/ folders', () => {
  const dir = tmpDir();
  const img = encodeIdx([2, 2, 2], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
  const lab = encodeIdx([2], Uint8Array.from([0, 1]));
  for (const [f, b] of [
    ['train-images.idx3-ubyte', img],
    ['train-labels.idx1-ubyte', lab],
    ['t10k-images.idx3-ubyte', img],
    ['t10k-labels.idx1-ubyte', lab],
  ] as const) {
    fs.mkdirSync(path.join(dir, 'raw'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'raw', f), b);
  }
  const d = loadIdxDir(dir);
  assert.deepEqual(Array.from(d.test.pixels), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(d.source, path.join(dir, 'raw'));
});

test('EMNIST: prefixed sets, --idx-set to choose, mapping file for class names, images transposed back', async () => {
  const dir = tmpDir();
  writeIdxSample(dir, { classes: 4, train: 8, test: 4, prefix: 'emnist-letters-', gzip: false });
  writeIdxSample(dir, { classes: 3, train: 6, test: 3, prefix: 'emnist-digits-', gzip: true });
  fs.writeFileSync(path.join(dir, 'emnist-letters-mapping.txt'), '0 65 97\n1 66 98\n2 67 99\n3 68 100\n');
  assert.deepEqual(
    findIdxSets(dir)
      .sets.map((s) => s.name)
      .sort(),
    ['emnist-digits', 'emnist-letters'],
  );
  await assert.rejects(
    loadDataset('idx', dir),
    (e: Error) =>
      e instanceof DataFormatError &&
      /several complete IDX sets \(emnist-digits, emnist-letters\); choose one with --idx-set NAME/.test(e.message),
  );
  const letters = await loadDataset('idx:set=emnist-letters', dir);
  assert.equal(letters.train.numClasses, 4);
  assert.deepEqual(letters.train.classNames, ['A', 'B', 'C', 'D']);
  const raw = await loadDataset('idx:set=emnist-letters,transpose=no', dir);
  // Pixel (y, x) of the default load is pixel (x, y) of the file.
  for (const [y, x] of [
    [0, 5],
    [3, 20],
    [27, 1],
  ] as const)
    assert.equal(letters.train.pixels[y * 28 + x], raw.train.pixels[x * 28 + y]);
  assert.notDeepEqual(Array.from(letters.train.pixels.subarray(0, 784)), Array.from(raw.train.pixels.subarray(0, 784)));
  await assert.rejects(loadDataset('idx:set=emnist-byclass', dir), /no IDX set "emnist-byclass"; sets here: emnist-digits, emnist-letters/);
  await assert.rejects(loadDataset('idx:transpose=maybe', dir), /option transpose must be yes, no or auto/);
});

test('classes.txt names the classes, and may name classes the labels never use', () => {
  const dir = tmpDir();
  writeIdxSample(dir, { classes: 3, train: 6, test: 3 });
  fs.writeFileSync(path.join(dir, 'classes.txt'), 'T-shirt\nTrouser\nPullover\nDress\n');
  const d = loadIdxDir(dir);
  assert.equal(d.train.numClasses, 4);
  assert.deepEqual(d.test.classNames, ['T-shirt', 'Trouser', 'Pullover', 'Dress']);
  fs.writeFileSync(path.join(dir, 'classes.txt'), 'T-shirt\n');
  assert.throws(() => loadIdxDir(dir), /classes\.txt: lists 1 class names but the labels go up to 2/);
});

test('an incomplete or empty directory says what it found and what is expected', () => {
  const dir = tmpDir();
  writeIdxSample(dir, { classes: 2, train: 4, test: 2 });
  fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'));
  fs.writeFileSync(path.join(dir, 'README.txt'), 'hi');
  assert.throws(
    () => loadIdxDir(dir),
    (e: Error) =>
      e instanceof DataFormatError &&
      e.message.startsWith(dir) &&
      /\(MNIST file names\) is missing t10k-labels-idx1-ubyte/.test(e.message) &&
      /found README\.txt, t10k-images-idx3-ubyte\.gz/.test(e.message),
  );
  const empty = tmpDir();
  fs.writeFileSync(path.join(empty, 'notes.md'), '');
  assert.throws(() => loadIdxDir(empty), /no IDX image\/label files; expected train-images-idx3-ubyte.*found notes\.md/);
  assert.throws(() => loadIdxDir(path.join(empty, 'nope')), /nope: directory not found/);
});

test('corrupt files and mismatched pairs are errors naming the file', () => {
  const dir = tmpDir();
  writeIdxSample(dir, { classes: 3, train: 6, test: 3, gzip: false });
  const testLabels = path.join(dir, 't10k-labels-idx1-ubyte');
  fs.writeFileSync(testLabels, encodeIdx([3], Uint8Array.from([0, 1, 7])));
  assert.throws(
    () => loadIdxDir(dir),
    (e: Error) => e.message.startsWith(testLabels) && /label 7 at index 2 does not occur in the training labels/.test(e.message),
  );
  fs.writeFileSync(testLabels, encodeIdx([2], Uint8Array.from([0, 1])));
  assert.throws(() => loadIdxDir(dir), /t10k-labels-idx1-ubyte: has 2 labels but .*t10k-images-idx3-ubyte has 3 images/);
  const trainImages = path.join(dir, 'train-images-idx3-ubyte');
  fs.writeFileSync(trainImages, fs.readFileSync(trainImages).subarray(0, 100));
  assert.throws(() => loadIdxDir(dir), /train-images-idx3-ubyte: truncated/);
  fs.writeFileSync(trainImages, encodeIdx([6, 14, 14], new Uint8Array(6 * 196)));
  fs.writeFileSync(testLabels, encodeIdx([3], Uint8Array.from([0, 1, 2])));
  assert.throws(() => loadIdxDir(dir), /t10k-images-idx3-ubyte: image shape 28×28×1 differs from the training images' 14×14×1/);
});
