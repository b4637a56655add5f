import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset, DatasetSplits } from './dataset';
import { DataFormatError, readIdxPair } from './idx';
import { readFileOrFail } from './images';

/**
 * Any MNIST-format IDX image/label pairs in a directory: MNIST, Fashion-MNIST and KMNIST ship as
 * train-images-idx3-ubyte / train-labels-idx1-ubyte / t10k-images-idx3-ubyte /
 * t10k-labels-idx1-ubyte (often .gz), EMNIST as emnist-<set>-{train,test}-{images,labels}-idx?-ubyte,
 * some mirrors as train-images.idx3-ubyte. Files are grouped into sets by the prefix before
 * train/t10k/test; a set is complete with all four files.
 */
export interface IdxFileSet {
  /** The prefix without its trailing separator (`` for MNIST's names, `emnist-balanced`, …). */
  name: string;
  dir: string;
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
}

const IDX_NAME = /^(.*?)(train|t10k|test)[-_.](images|labels)[-_.]idx([13])[-_.]ubyte(\.gz)?$/i;

function setName(prefix: string): string {
  return prefix.replace(/[-_.]+$/, '').toLowerCase();
}

/** IDX files of DIR (or DIR/raw, torchvision's layout) grouped into sets. */
export function findIdxSets(dataDir: string): { dir: string; sets: IdxFileSet[]; files: string[] } {
  let fallback: { dir: string; sets: IdxFileSet[]; files: string[] } | undefined;
  for (const dir of [dataDir, path.join(dataDir, 'raw')]) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
    const files = fs.readdirSync(dir).sort();
    const byName = new Map<string, IdxFileSet>();
    for (const f of files) {
      const m = IDX_NAME.exec(f);
      if (!m) continue;
      const [, prefix, split, kind, nd, gz] = m;
      if ((kind!.toLowerCase() === 'images') !== (nd === '3')) continue;
      const name = setName(prefix!);
      const set = byName.get(name) ?? { name, dir };
      byName.set(name, set);
      const key =
        `${split!.toLowerCase() === 'train' ? 'train' : 'test'}${kind!.toLowerCase() === 'images' ? 'Images' : 'Labels'}` as const;
      // An uncompressed copy beside the .gz (a half-done gunzip leaves both) wins.
      if (!set[key] || (set[key].endsWith('.gz') && !gz)) set[key] = path.join(dir, f);
    }
    const found = { dir, sets: [...byName.values()], files };
    if (found.sets.length) return found;
    fallback ??= found;
  }
  if (!fallback) throw new DataFormatError(dataDir, 'directory not found');
  return fallback;
}

function complete(s: IdxFileSet): s is Required<IdxFileSet> {
  return Boolean(s.trainImages && s.trainLabels && s.testImages && s.testLabels);
}

function describeSet(s: IdxFileSet): string {
  return s.name === '' ? '(MNIST file names)' : s.name;
}

/** Picks the one complete set (or the one named `wanted`); otherwise says what was found. */
export function chooseIdxSet(dataDir: string, wanted?: string): Required<IdxFileSet> {
  const { dir, sets, files } = findIdxSets(dataDir);
  const listing = `found ${files.length ? files.join(', ') : 'no files'}`;
  const usual =
    'expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally .gz, optionally with a prefix such as emnist-balanced-)';
  if (sets.length === 0) throw new DataFormatError(dir, `no IDX image/label files; ${usual}; ${listing}`);
  const done = sets.filter(complete);
  if (wanted !== undefined) {
    const s = sets.find((x) => x.name === wanted.toLowerCase());
    if (!s) throw new DataFormatError(dir, `no IDX set "${wanted}"; sets here: ${sets.map(describeSet).join(', ')}`);
    if (!complete(s))
      throw new DataFormatError(dir, `IDX set ${describeSet(s)} is incomplete: missing ${missingOf(s).join(', ')}; ${listing}`);
    return s;
  }
  if (done.length === 1) return done[0]!;
  if (done.length > 1) {
    throw new DataFormatError(dir, `holds several complete IDX sets (${done.map(describeSet).join(', ')}); choose one with --idx-set NAME`);
  }
  const s = sets[0]!;
  throw new DataFormatError(
    dir,
    `no complete IDX train/test set: ${describeSet(s)} is missing ${missingOf(s).join(', ')}; ${usual}; ${listing}`,
  );
}

function missingOf(s: IdxFileSet): string[] {
  const p = s.name ? `${s.name}-` : '';
  const names = {
    trainImages: `${p}train-images-idx3-ubyte`,
    trainLabels: `${p}train-labels-idx1-ubyte`,
    testImages: `${p}t10k-images-idx3-ubyte (or ${p}test-…)`,
    testLabels: `${p}t10k-labels-idx1-ubyte (or ${p}test-…)`,
  };
  return (Object.keys(names) as (keyof typeof names)[]).filter((k) => !s[k]).map((k) => names[k]);
}

/** EMNIST stores each image transposed (column-major); flip it back so images look upright. */
function transposeAll(pixels: Uint8Array, count: number, h: number, w: number, c: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const size = h * w * c;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[n * size + (x * h + y) * c + k] = pixels[n * size + (y * w + x) * c + k]!;
  }
  return out;
}

/**
 * Class names: `classes.txt` (one a line; it may name classes the labels never use) when present,
 * EMNIST's `<set>-mapping.txt` ("label ascii-code…" lines) when present, otherwise label numbers.
 */
function classNamesFor(set: Required<IdxFileSet>, numLabels: number): string[] {
  const classesTxt = path.join(set.dir, 'classes.txt');
  if (fs.existsSync(classesTxt)) {
    const lines = readFileOrFail(classesTxt)
      .toString('utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length < numLabels)
      throw new DataFormatError(classesTxt, `lists ${lines.length} class names but the labels go up to ${numLabels - 1}`);
    return lines;
  }
  const names = Array.from({ length: numLabels }, (_, i) => String(i));
  const mapping = path.join(set.dir, `${set.name}-mapping.txt`);
  if (set.name && fs.existsSync(mapping)) {
    for (const line of readFileOrFail(mapping).toString('utf8').split(/\r?\n/)) {
      // "label code" (balanced, digits) or "label upper lower" (letters): the first code names it.
      const m = /^\s*(\d+)\s+(\d+)(?:\s+\d+)*\s*$/.exec(line);
      if (m && Number(m[1]) < numLabels) names[Number(m[1])] = String.fromCodePoint(Number(m[2]));
    }
  }
  return names;
}

export interface IdxDirOptions {
  /** Which set when the directory holds several (e.g. `emnist-balanced`). */
  set?: string;
  /** Transpose images: EMNIST's are stored transposed. Default: on for sets named emnist-*. */
  transpose?: boolean;
}

export function loadIdxDir(dataDir: string, opts: IdxDirOptions = {}): DatasetSplits {
  const set = chooseIdxSet(dataDir, opts.set);
  const train = readIdxPair(set.trainImages, set.trainLabels);
  const test = readIdxPair(set.testImages, set.testLabels);
  if (train.imageShape.join() !== test.imageShape.join()) {
    throw new DataFormatError(
      set.testImages,
      `image shape ${test.imageShape.join('×')} differs from the training images' ${train.imageShape.join('×')} (${set.trainImages})`,
    );
  }
  let maxLabel = 0;
  for (const l of train.labels) maxLabel = Math.max(maxLabel, l);
  for (let i = 0; i < test.count; i++) {
    if (test.labels[i]! > maxLabel) {
      throw new DataFormatError(
        set.testLabels,
        `label ${test.labels[i]} at index ${i} does not occur in the training labels (${set.trainLabels}, labels 0..${maxLabel}): the files are not from one dataset`,
      );
    }
  }
  const classNames = classNamesFor(set, maxLabel + 1);
  const numClasses = classNames.length;
  if (numClasses < 2) throw new DataFormatError(set.trainLabels, 'has only one class (label 0)');
  const transpose = opts.transpose ?? set.name.startsWith('emnist');
  const [h, w, c] = train.imageShape;
  if (transpose && h !== w) throw new DataFormatError(set.trainImages, `images are ${h}×${w}; only square images can be transposed`);
  const name = set.name || 'idx';
  const make = (d: typeof train, split: string): Dataset => ({
    name: `${name}/${split}`,
    pixels: transpose ? transposeAll(d.pixels, d.count, h, w, c) : d.pixels,
    labels: d.labels,
    count: d.count,
    imageShape: d.imageShape,
    numClasses,
    classNames,
  });
  return { train: make(train, 'train'), test: make(test, 'test'), source: set.dir };
}
