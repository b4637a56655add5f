import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import seedrandom from 'seedrandom';
import { CIFAR10_CLASSES, CIFAR10_META_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from './cifar10';
import { GTSRB_TEST_CSV, type GtsrbRow } from './gtsrb';
import type { RgbImage } from './images';

/**
 * Writers for every dataset format the engine reads, and small synthetic data sets in each of
 * them: for trying the formats (scripts/make-sample-datasets.mjs) and for the loaders' tests.
 * The synthetic classes are learnable (a class-specific colour and a bright patch whose place
 * depends on the class, plus noise), so a short training run shows progress.
 */

export function encodeIdx(dims: number[], data: Uint8Array, gzip = false): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const buf = Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  return gzip ? zlib.gzipSync(buf) : buf;
}

/** CIFAR-10 binary records (label byte + R, G, B planes) from HWC 32×32×3 images. */
export function encodeCifar10Batch(images: Uint8Array[], labels: number[]): Buffer {
  const plane = 32 * 32;
  const out = Buffer.alloc(images.length * (1 + 3 * plane));
  images.forEach((img, r) => {
    if (img.length !== 3 * plane) throw new Error(`CIFAR-10 images are 32×32×3 (3072 bytes), got ${img.length}`);
    const base = r * (1 + 3 * plane);
    out[base] = labels[r]!;
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[base + 1 + c * plane + p] = img[p * 3 + c]!;
  });
  return out;
}

export function encodePpm(img: RgbImage): Buffer {
  return Buffer.concat([Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'ascii'), Buffer.from(img.data)]);
}

export function encodePng(img: RgbImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.width * img.height; i++) {
    png.data[i * 4] = img.data[i * 3]!;
    png.data[i * 4 + 1] = img.data[i * 3 + 1]!;
    png.data[i * 4 + 2] = img.data[i * 3 + 2]!;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

export function encodeJpeg(img: RgbImage, quality = 90): Buffer {
  const rgba = Buffer.alloc(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    rgba[i * 4] = img.data[i * 3]!;
    rgba[i * 4 + 1] = img.data[i * 3 + 1]!;
    rgba[i * 4 + 2] = img.data[i * 3 + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  return jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data;
}

/** One row of a GTSRB annotation CSV. */
export type GtsrbAnnotation = Omit<GtsrbRow, 'line'>;

export function gtsrbCsv(rows: GtsrbAnnotation[]): string {
  const lines = ['Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId'];
  for (const r of rows) lines.push([r.filename, r.width, r.height, r.x1, r.y1, r.x2, r.y2, r.classId].join(';'));
  return lines.join('\r\n') + '\r\n';
}

type Rng = () => number;

/** A width×height image of class `k` of `numClasses` (grey when `grey`). */
export function syntheticImage(k: number, numClasses: number, width: number, height: number, rng: Rng, grey = false): RgbImage {
  const hue = (k / numClasses) * 2 * Math.PI;
  const base = grey ? [0.5, 0.5, 0.5] : [0.5 + 0.4 * Math.cos(hue), 0.5 + 0.4 * Math.cos(hue + 2.09), 0.5 + 0.4 * Math.cos(hue + 4.19)];
  // The patch: a quarter of the image, placed on a 3×3 grid by class.
  const cell = k % 9;
  const px = ((cell % 3) * width) / 3;
  const py = (Math.floor(cell / 3) * height) / 3;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inPatch = x >= px && x < px + width / 3 && y >= py && y < py + height / 3;
      const noise = (rng() - 0.5) * 0.3;
      for (let c = 0; c < 3; c++) {
        const v = (grey ? 0.25 : base[c]! * 0.6) + (inPatch ? 0.5 : 0) + noise;
        data[(y * width + x) * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, grey ? (c === 0 ? v : 0) : v)));
      }
      if (grey) data[(y * width + x) * 3 + 1] = data[(y * width + x) * 3 + 2] = data[(y * width + x) * 3]!;
    }
  }
  return { width, height, data };
}

function balancedLabels(n: number, numClasses: number, rng: Rng): number[] {
  const labels = Array.from({ length: n }, (_, i) => i % numClasses);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  return labels;
}

function writeFile(file: string, data: Buffer | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

/** CIFAR-10 binary version: `perBatch` records in each of the 5 training batches, `test` in test_batch.bin. */
export function writeCifar10Sample(dir: string, opts: { perBatch: number; test: number; seed?: number }): void {
  const rng = seedrandom(`cifar10-sample:${opts.seed ?? 0}`);
  const batch = (n: number) => {
    const labels = balancedLabels(n, 10, rng);
    return encodeCifar10Batch(labels.map((k) => syntheticImage(k, 10, 32, 32, rng).data), labels);
  };
  for (const f of CIFAR10_TRAIN_FILES) writeFile(path.join(dir, f), batch(opts.perBatch));
  writeFile(path.join(dir, CIFAR10_TEST_FILE), batch(opts.test));
  writeFile(path.join(dir, CIFAR10_META_FILE), CIFAR10_CLASSES.join('\n') + '\n\n');
}

/**
 * GTSRB's official layout for `classes` (class ids 0..classes-1): PPM images of random size with a
 * 10% margin around the sign (the ROI), GT-000NN.csv per class folder, and Final_Test with
 * GT-final_test.csv.
 */
export function writeGtsrbSample(dir: string, opts: { classes: number; perClass: number; test: number; seed?: number }): void {
  const rng = seedrandom(`gtsrb-sample:${opts.seed ?? 0}`);
  const sign = (k: number): { img: RgbImage; roi: Omit<GtsrbAnnotation, 'filename' | 'classId'> } => {
    const w = 25 + Math.floor(rng() * 40);
    const h = 25 + Math.floor(rng() * 40);
    const mx = Math.max(1, Math.round(w * 0.1));
    const my = Math.max(1, Math.round(h * 0.1));
    const inner = syntheticImage(k, 43, w - 2 * mx, h - 2 * my, rng);
    const img: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
    for (let i = 0; i < img.data.length; i++) img.data[i] = Math.floor(rng() * 80);
    for (let y = 0; y < inner.height; y++) img.data.set(inner.data.subarray(y * inner.width * 3, (y + 1) * inner.width * 3), ((y + my) * w + mx) * 3);
    return { img, roi: { width: w, height: h, x1: mx, y1: my, x2: w - mx - 1, y2: h - my - 1 } };
  };
  for (let k = 0; k < opts.classes; k++) {
    const name = String(k).padStart(5, '0');
    const classDir = path.join(dir, 'Final_Training', 'Images', name);
    const rows: GtsrbAnnotation[] = [];
    for (let i = 0; i < opts.perClass; i++) {
      // Official names: <track>_<image in track>.ppm, 30 images per track.
      const filename = `${String(Math.floor(i / 30)).padStart(5, '0')}_${String(i % 30).padStart(5, '0')}.ppm`;
      const { img, roi } = sign(k);
      writeFile(path.join(classDir, filename), encodePpm(img));
      rows.push({ filename, ...roi, classId: k });
    }
    writeFile(path.join(classDir, `GT-${name}.csv`), gtsrbCsv(rows));
  }
  const testDir = path.join(dir, 'Final_Test', 'Images');
  const rows: GtsrbAnnotation[] = [];
  const labels = balancedLabels(opts.test, opts.classes, rng);
  labels.forEach((k, i) => {
    const filename = `${String(i).padStart(5, '0')}.ppm`;
    const { img, roi } = sign(k);
    writeFile(path.join(testDir, filename), encodePpm(img));
    rows.push({ filename, ...roi, classId: k });
  });
  writeFile(path.join(testDir, GTSRB_TEST_CSV), gtsrbCsv(rows));
}

/** An IDX set with MNIST's file names (gzipped, as Fashion-MNIST and KMNIST ship), 28×28 grey. */
export function writeIdxSample(dir: string, opts: { classes: number; train: number; test: number; gzip?: boolean; prefix?: string; seed?: number }): void {
  const rng = seedrandom(`idx-sample:${opts.seed ?? 0}`);
  const gz = opts.gzip ?? true;
  const p = opts.prefix ?? '';
  const split = (n: number, name: string) => {
    const labels = balancedLabels(n, opts.classes, rng);
    const pixels = new Uint8Array(n * 28 * 28);
    labels.forEach((k, i) => {
      const img = syntheticImage(k, opts.classes, 28, 28, rng, true);
      for (let j = 0; j < 28 * 28; j++) pixels[i * 784 + j] = img.data[j * 3]!;
    });
    const ext = gz ? '.gz' : '';
    writeFile(path.join(dir, `${p}${name}-images-idx3-ubyte${ext}`), encodeIdx([n, 28, 28], pixels, gz));
    writeFile(path.join(dir, `${p}${name}-labels-idx1-ubyte${ext}`), encodeIdx([n], Uint8Array.from(labels), gz));
  };
  split(opts.train, 'train');
  split(opts.test, p ? 'test' : 't10k');
}

/** An image folder: one sub-folder per class, PNG and JPEG files of varied sizes. */
export function writeFolderSample(dir: string, opts: { classes: string[]; perClass: number; seed?: number }): void {
  const rng = seedrandom(`folder-sample:${opts.seed ?? 0}`);
  opts.classes.forEach((name, k) => {
    for (let i = 0; i < opts.perClass; i++) {
      const img = syntheticImage(k, opts.classes.length, 24 + Math.floor(rng() * 40), 24 + Math.floor(rng() * 40), rng);
      const jpg = i % 2 === 1;
      writeFile(path.join(dir, name, `img${String(i).padStart(4, '0')}.${jpg ? 'jpg' : 'png'}`), jpg ? encodeJpeg(img) : encodePng(img));
    }
  });
}

/** Ten classes, so the sample folder fits the 10-class built-in definitions. */
export const FOLDER_SAMPLE_CLASSES = ['red', 'orange', 'yellow', 'lime', 'green', 'cyan', 'blue', 'violet', 'purple', 'pink'];

export interface SampleSizes {
  /** Training images per class (CIFAR-10: per class over all five batches). */
  perClass: number;
  /** Test images per class. */
  testPerClass: number;
}

/** All four formats under `outDir` (cifar10/, gtsrb/, idx/, folder/). */
export function writeSampleDatasets(outDir: string, sizes: SampleSizes, seed = 0): Record<string, string> {
  const dirs = { cifar10: path.join(outDir, 'cifar10'), gtsrb: path.join(outDir, 'gtsrb'), idx: path.join(outDir, 'idx'), folder: path.join(outDir, 'folder') };
  writeCifar10Sample(dirs.cifar10, { perBatch: Math.max(1, Math.round((sizes.perClass * 10) / 5)), test: sizes.testPerClass * 10, seed });
  writeGtsrbSample(dirs.gtsrb, { classes: 43, perClass: sizes.perClass, test: sizes.testPerClass * 43, seed });
  writeIdxSample(dirs.idx, { classes: 10, train: sizes.perClass * 10, test: sizes.testPerClass * 10, seed });
  writeFolderSample(dirs.folder, { classes: FOLDER_SAMPLE_CLASSES, perClass: sizes.perClass + sizes.testPerClass, seed });
  return dirs;
}
