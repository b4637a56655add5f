import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DataFormatError } from '../../../src/engine/data/idx';
import { loadImageFolder, DEFAULT_FOLDER_OPTIONS } from '../../../src/engine/data/folder';
import { loadDataset } from '../../../src/engine/data/registry';
import { encodeJpeg, encodePng, syntheticImage, writeFolderSample } from '../../fixtures/datasets';
import { formatDatasetSpec, parseDatasetSpec } from '../../../src/engine/data/spec';
import { tmpDir } from '../../helpers';

function counts(labels: Int32Array, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  labels.forEach((l) => c[l]!++);
  return c;
}

test('one sub-folder per class: sorted class names, a seeded per-class held-out split, resized RGB', async () => {
  const dir = tmpDir();
  writeFolderSample(dir, { classes: ['zebra', 'cat', 'dog'], perClass: 10 });
  fs.writeFileSync(path.join(dir, 'cat', 'notes.txt'), 'not an image');
  const d = await loadDataset('folder', dir);
  assert.deepEqual(d.train.classNames, ['cat', 'dog', 'zebra']);
  assert.deepEqual(counts(d.test.labels, 3), [2, 2, 2], '20% of each class held out');
  assert.deepEqual(counts(d.train.labels, 3), [8, 8, 8]);
  assert.deepEqual(d.train.imageShape, [32, 32, 3]);
  const again = await loadDataset('folder', dir);
  assert.deepEqual(Array.from(again.test.pixels), Array.from(d.test.pixels), 'the split is the same on every load');
  const other = await loadDataset('folder:seed=5,val=0.3,size=20x24', dir);
  assert.deepEqual(other.test.imageShape, [20, 24, 3]);
  assert.deepEqual(counts(other.test.labels, 3), [3, 3, 3]);
});

test('grey images give one channel (channels=auto), unless three are asked for', async () => {
  const dir = tmpDir();
  for (const [k, name] of ['a', 'b'].entries()) {
    fs.mkdirSync(path.join(dir, name));
    for (let i = 0; i < 3; i++)
      fs.writeFileSync(path.join(dir, name, `${i}.png`), encodePng(syntheticImage(k, 2, 20, 20, Math.random, true)));
  }
  assert.deepEqual((await loadDataset('folder:size=28', dir)).train.imageShape, [28, 28, 1]);
  assert.deepEqual((await loadDataset('folder:size=28,channels=3', dir)).train.imageShape, [28, 28, 3]);
  fs.writeFileSync(path.join(dir, 'a', 'colour.jpg'), encodeJpeg(syntheticImage(0, 2, 20, 20, Math.random)));
  assert.deepEqual((await loadDataset('folder:size=28', dir)).train.imageShape, [28, 28, 3]);
});

test('train/ and test/ folders are used as given; their class folders must match', () => {
  const dir = tmpDir();
  writeFolderSample(path.join(dir, 'train'), { classes: ['a', 'b', 'c'], perClass: 3 });
  writeFolderSample(path.join(dir, 'test'), { classes: ['a', 'b', 'c'], perClass: 2 });
  const d = loadImageFolder(dir);
  assert.equal(d.train.count, 9);
  assert.equal(d.test.count, 6);
  fs.rmSync(path.join(dir, 'test', 'c'), { recursive: true });
  writeFolderSample(path.join(dir, 'test'), { classes: ['d'], perClass: 1 });
  assert.throws(
    () => loadImageFolder(dir),
    (e: Error) =>
      e instanceof DataFormatError &&
      /test: has 3 class folders but .*train has 3; the class folders must be the same; only in train: c; only in test: d/.test(e.message),
  );
  fs.rmSync(path.join(dir, 'test', 'd'), { recursive: true });
  assert.throws(() => loadImageFolder(dir), /test: has 2 class folders but .*train has 3.*only in train: c/);
});

test('corrupt images, empty class folders and too few classes are errors naming the path', () => {
  const dir = tmpDir();
  writeFolderSample(dir, { classes: ['a', 'b'], perClass: 4 });
  const bad = path.join(dir, 'b', 'img0001.jpg');
  fs.writeFileSync(bad, fs.readFileSync(bad).subarray(0, 150));
  assert.throws(
    () => loadImageFolder(dir),
    (e: Error) => e.message.startsWith(bad) && /corrupt JPEG/.test(e.message),
  );
  fs.writeFileSync(bad, 'hello');
  assert.throws(() => loadImageFolder(dir), new RegExp(`${path.basename(bad)}: not a PNG, JPEG or PPM image`));
  fs.rmSync(path.join(dir, 'b'), { recursive: true });
  assert.throws(
    () => loadImageFolder(dir),
    /has one class sub-folder \(a\); an image-folder dataset needs one sub-folder per class, at least two/,
  );
  fs.mkdirSync(path.join(dir, 'b'));
  fs.writeFileSync(path.join(dir, 'b', 'readme.txt'), '');
  assert.throws(() => loadImageFolder(dir), /[/\\]b: class folder has no PNG or JPEG images/);
  assert.throws(() => loadImageFolder(path.join(dir, 'missing')), /missing: directory not found/);
  const tiny = tmpDir();
  writeFolderSample(tiny, { classes: ['a', 'b'], perClass: 1 });
  assert.throws(() => loadImageFolder(tiny, DEFAULT_FOLDER_OPTIONS), /too few images for a 0\.2 held-out split/);
});

test('dataset specs: options travel in the name; bad options are rejected', async () => {
  assert.deepEqual(parseDatasetSpec('folder:size=64, val=0.1'), { name: 'folder', options: { size: '64', val: '0.1' } });
  assert.deepEqual(parseDatasetSpec('mnist'), { name: 'mnist', options: {} });
  assert.equal(formatDatasetSpec('folder', { size: '64', val: undefined }), 'folder:size=64');
  assert.throws(() => parseDatasetSpec('folder:size'), /"size" is not a key=value option/);
  assert.throws(() => parseDatasetSpec('folder:size=1,size=2'), /option size is given twice/);
  const dir = tmpDir();
  await assert.rejects(
    loadDataset('folder:colour=red', dir),
    /dataset folder has no option colour; its options: size, val, seed, channels/,
  );
  await assert.rejects(loadDataset('folder:size=2', dir), /image size must be N or HxW with sides in 4\.\.1024, got "2"/);
  await assert.rejects(loadDataset('folder:val=1', dir), /option val \(the held-out fraction\) must be in \(0, 1\)/);
  await assert.rejects(loadDataset('folder:channels=2', dir), /option channels must be 1, 3 or auto/);
  await assert.rejects(loadDataset('imagenet', dir), /unknown dataset "imagenet"; available: mnist, cifar10, gtsrb, idx, folder/);
});
