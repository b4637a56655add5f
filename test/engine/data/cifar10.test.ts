import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CIFAR10_CLASSES, loadCifar10, parseCifar10Batch } from '../../../src/engine/data/cifar10';
import { DataFormatError } from '../../../src/engine/data/idx';
import { loadDataset } from '../../../src/engine/data/registry';
import { writeCifar10Sample } from '../../fixtures/datasets';
import { tmpDir } from '../../helpers';

/** One record written by hand: label, then the R, G and B planes (value = plane·100 + y·3 + x mod 100). */
function record(label: number): Buffer {
  const rec = Buffer.alloc(3073);
  rec[0] = label;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = c * 100 + ((y * 3 + x) % 100);
  return rec;
}

test('a binary batch: label byte + CHW planes become labels + HWC pixels', () => {
  const { pixels, labels, count } = parseCifar10Batch(Buffer.concat([record(3), record(9)]), 'b.bin');
  assert.equal(count, 2);
  assert.deepEqual(Array.from(labels), [3, 9]);
  for (const [y, x] of [
    [0, 0],
    [5, 7],
    [31, 31],
  ] as const) {
    for (let c = 0; c < 3; c++)
      assert.equal(pixels[3072 + (y * 32 + x) * 3 + c], c * 100 + ((y * 3 + x) % 100), `pixel (${y},${x}) channel ${c}`);
  }
});

test('loads the five training batches and the test batch, with the class names from batches.meta.txt', async () => {
  const dir = tmpDir();
  writeCifar10Sample(dir, { perBatch: 6, test: 4 });
  const d = await loadDataset('cifar10', dir);
  assert.equal(d.train.count, 30);
  assert.equal(d.test.count, 4);
  assert.deepEqual(d.train.imageShape, [32, 32, 3]);
  assert.equal(d.train.numClasses, 10);
  assert.deepEqual(d.train.classNames, CIFAR10_CLASSES);
  // Training samples keep the batches' order: batch 2's first record is sample 6.
  const b2 = parseCifar10Batch(fs.readFileSync(path.join(dir, 'data_batch_2.bin')), 'b2');
  assert.deepEqual(Array.from(d.train.pixels.subarray(6 * 3072, 7 * 3072)), Array.from(b2.pixels.subarray(0, 3072)));
  assert.equal(d.train.labels[6], b2.labels[0]);
});

test('finds the batches in cifar-10-batches-bin/, the folder the archive unpacks to', async () => {
  const dir = tmpDir();
  writeCifar10Sample(path.join(dir, 'cifar-10-batches-bin'), { perBatch: 2, test: 2 });
  assert.equal(loadCifar10(dir).train.count, 10);
});

test('missing, truncated and foreign files are errors that name the file', () => {
  const dir = tmpDir();
  writeCifar10Sample(dir, { perBatch: 2, test: 2 });
  fs.rmSync(path.join(dir, 'data_batch_4.bin'));
  assert.throws(
    () => loadCifar10(dir),
    (e: Error) => e instanceof DataFormatError && e.message.includes('data_batch_4.bin') && /missing: data_batch_4\.bin/.test(e.message),
  );
  writeCifar10Sample(dir, { perBatch: 2, test: 2 });

  const test1 = path.join(dir, 'test_batch.bin');
  fs.writeFileSync(test1, fs.readFileSync(test1).subarray(0, 3073 + 100));
  assert.throws(
    () => loadCifar10(dir),
    (e: Error) => e.message.startsWith(test1) && /size 3173 bytes is not a whole number of 3073-byte CIFAR-10 records/.test(e.message),
  );
  fs.writeFileSync(test1, Buffer.concat([record(1), record(10)]));
  assert.throws(() => loadCifar10(dir), /test_batch\.bin: record 1 has label 10, outside 0\.\.9/);
  fs.writeFileSync(test1, Buffer.alloc(0));
  assert.throws(() => loadCifar10(dir), /test_batch\.bin: is empty/);
  fs.writeFileSync(test1, record(0));

  fs.writeFileSync(path.join(dir, 'batches.meta.txt'), 'apple\nfish\n');
  assert.throws(() => loadCifar10(dir), /batches\.meta\.txt: lists 2 class names; CIFAR-10 has 10/);
  fs.rmSync(path.join(dir, 'batches.meta.txt'));
  assert.deepEqual(loadCifar10(dir).train.classNames, CIFAR10_CLASSES, 'without the meta file the standard names are used');
});

test('the registry needs --data-dir for cifar10 and rejects options it does not take', async () => {
  await assert.rejects(loadDataset('cifar10'), /dataset cifar10 needs --data-dir DIR/);
  await assert.rejects(loadDataset('cifar10:size=64', tmpDir()), /dataset cifar10 has no option size \(it takes none\)/);
});
