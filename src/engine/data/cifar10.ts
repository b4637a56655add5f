import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, DatasetSplits } from './dataset';
import { DataFormatError } from './idx';
import { readFileOrFail } from './images';

/**
 * CIFAR-10's official "binary version" (cifar-10-binary.tar.gz → cifar-10-batches-bin/):
 * data_batch_1.bin … data_batch_5.bin (training) and test_batch.bin, each a sequence of 3073-byte
 * records — 1 label byte (0..9) then 1024 red, 1024 green and 1024 blue bytes of a 32×32 image in
 * row-major order — and batches.meta.txt with the class names, one a line.
 * The planes are converted to the engine's HWC layout.
 */
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
export const CIFAR10_META_FILE = 'batches.meta.txt';
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;

/** The directory holding the batches: DIR itself or DIR/cifar-10-batches-bin (the archive's folder). */
export function findCifar10Dir(dir: string): string {
  for (const d of [dir, path.join(dir, 'cifar-10-batches-bin')]) {
    if (fs.existsSync(path.join(d, CIFAR10_TEST_FILE)) || fs.existsSync(path.join(d, CIFAR10_TRAIN_FILES[0]!))) return d;
  }
  return dir;
}

/** Parses one batch file into HWC pixels and labels. */
export function parseCifar10Batch(buf: Uint8Array, file: string): { pixels: Uint8Array; labels: Int32Array; count: number } {
  if (buf.length === 0) throw new DataFormatError(file, 'is empty');
  if (buf.length % RECORD !== 0) {
    throw new DataFormatError(
      file,
      `size ${buf.length} bytes is not a whole number of ${RECORD}-byte CIFAR-10 records (1 label + 3×32×32 pixels); the file is truncated or not a CIFAR-10 binary batch`,
    );
  }
  const count = buf.length / RECORD;
  const pixels = new Uint8Array(count * 3 * PLANE);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const base = r * RECORD;
    const label = buf[base]!;
    if (label >= CIFAR10_CLASSES.length) {
      throw new DataFormatError(file, `record ${r} has label ${label}, outside 0..9 (is this CIFAR-100? its records have 2 label bytes)`);
    }
    labels[r] = label;
    const out = r * 3 * PLANE;
    for (let p = 0; p < PLANE; p++) {
      pixels[out + p * 3] = buf[base + 1 + p]!;
      pixels[out + p * 3 + 1] = buf[base + 1 + PLANE + p]!;
      pixels[out + p * 3 + 2] = buf[base + 1 + 2 * PLANE + p]!;
    }
  }
  return { pixels, labels, count };
}

function readBatches(dir: string, files: string[], name: string, classNames: string[]): Dataset {
  const parts = files.map((f) => parseCifar10Batch(readFileOrFail(path.join(dir, f)), path.join(dir, f)));
  const count = parts.reduce((a, p) => a + p.count, 0);
  const pixels = new Uint8Array(count * 3 * PLANE);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3 * PLANE);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { name, pixels, labels, count, imageShape: [SIDE, SIDE, 3], numClasses: CIFAR10_CLASSES.length, classNames };
}

/** Class names from batches.meta.txt (the standard names when the file is absent). */
export function readCifar10Meta(dir: string): string[] {
  const file = path.join(dir, CIFAR10_META_FILE);
  if (!fs.existsSync(file)) return CIFAR10_CLASSES.slice();
  const names = readFileOrFail(file)
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (names.length !== CIFAR10_CLASSES.length) {
    throw new DataFormatError(
      file,
      `lists ${names.length} class names; CIFAR-10 has ${CIFAR10_CLASSES.length} (is this CIFAR-100's meta file?)`,
    );
  }
  return names;
}

export function loadCifar10(dataDir: string): DatasetSplits {
  const dir = findCifar10Dir(dataDir);
  const missing = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) {
    throw new DataFormatError(
      path.join(dir, missing[0]!),
      `file not found; a CIFAR-10 directory holds ${CIFAR10_TRAIN_FILES.join(', ')}, ${CIFAR10_TEST_FILE} and ${CIFAR10_META_FILE} (the binary version, cifar-10-binary.tar.gz); missing: ${missing.join(', ')}`,
    );
  }
  const classNames = readCifar10Meta(dir);
  return {
    train: readBatches(dir, CIFAR10_TRAIN_FILES, 'cifar10/train', classNames),
    test: readBatches(dir, [CIFAR10_TEST_FILE], 'cifar10/test', classNames),
    source: dir,
  };
}
