import * as fs from 'node:fs';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import type { Dataset, DatasetSplits } from './dataset';
import { DataFormatError } from './idx';
import { isGrey, readImage, resizeImage, toGrey, type RgbImage } from './images';
import { shuffled } from './shuffle';

/**
 * A directory of images, one sub-folder per class (torchvision's ImageFolder layout):
 *   DIR/<class>/*.png|jpg|jpeg          split into train/test by a seeded, per-class fraction
 *   DIR/train/<class>/…, DIR/test/<class>/… (or val/)   used as given; class folders must match
 * Classes are the sub-folder names in sorted order. Images are resized to the requested size
 * (area averaging when shrinking, bilinear when enlarging) and kept as RGB, or as one grey
 * channel when every image is grey (channels=auto) or when asked.
 */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export interface FolderOptions {
  height: number;
  width: number;
  /** Fraction of each class held out as the test split when DIR has no train/test folders. */
  valFraction: number;
  /** Seed of the held-out split (independent of the training seed). */
  splitSeed: number;
  channels: 'auto' | 1 | 3;
}

export const DEFAULT_FOLDER_OPTIONS: FolderOptions = { height: 32, width: 32, valFraction: 0.2, splitSeed: 0, channels: 'auto' };

interface ClassFiles {
  name: string;
  files: string[];
}

function listDirs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** The class folders under `dir` and their image files (sorted; non-image files are ignored). */
export function scanClassFolders(dir: string): ClassFiles[] {
  const classes = listDirs(dir).map((name) => {
    const files = fs
      .readdirSync(path.join(dir, name), { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase()))
      .map((e) => path.join(dir, name, e.name))
      .sort();
    return { name, files };
  });
  if (classes.length < 2) {
    throw new DataFormatError(
      dir,
      `has ${classes.length === 0 ? 'no class sub-folders' : `one class sub-folder (${classes[0]!.name})`}; an image-folder dataset needs one sub-folder per class, at least two, each with PNG or JPEG images`,
    );
  }
  const empty = classes.find((c) => c.files.length === 0);
  if (empty) throw new DataFormatError(path.join(dir, empty.name), 'class folder has no PNG or JPEG images (.png, .jpg, .jpeg)');
  return classes;
}

/** DIR/train + DIR/test (or val, validation) when both exist, else null. */
function explicitSplit(dir: string): { train: string; test: string } | null {
  const sub = new Set(listDirs(dir));
  const test = ['test', 'val', 'validation'].find((n) => sub.has(n));
  return sub.has('train') && test ? { train: path.join(dir, 'train'), test: path.join(dir, test) } : null;
}

interface Decoded {
  images: RgbImage[];
  labels: number[];
}

function decodeAll(classes: ClassFiles[], opts: FolderOptions): Decoded {
  const images: RgbImage[] = [];
  const labels: number[] = [];
  classes.forEach((c, label) => {
    for (const f of c.files) {
      images.push(resizeImage(readImage(f), opts.width, opts.height));
      labels.push(label);
    }
  });
  return { images, labels };
}

function toDataset(name: string, d: Decoded, channels: 1 | 3, opts: FolderOptions, classNames: string[]): Dataset {
  const size = opts.height * opts.width * channels;
  const pixels = new Uint8Array(d.images.length * size);
  d.images.forEach((im, i) => pixels.set(channels === 3 ? im.data : toGrey(im), i * size));
  return {
    name,
    pixels,
    labels: Int32Array.from(d.labels),
    count: d.images.length,
    imageShape: [opts.height, opts.width, channels],
    numClasses: classNames.length,
    classNames,
  };
}

/** Per class: which of its images go to the test split (a seeded fraction, at least one left to train on). */
function heldOut(classes: ClassFiles[], opts: FolderOptions): Set<string> {
  const test = new Set<string>();
  for (const c of classes) {
    const rng = seedrandom(`fim-split:${opts.splitSeed}:${c.name}`);
    const files = c.files.slice();
    for (let i = files.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [files[i], files[j]] = [files[j]!, files[i]!];
    }
    const n = Math.min(Math.round(files.length * opts.valFraction), files.length - 1);
    files.slice(0, n).forEach((f) => test.add(f));
  }
  return test;
}

export function loadImageFolder(dataDir: string, opts: FolderOptions = DEFAULT_FOLDER_OPTIONS): DatasetSplits {
  if (!fs.existsSync(dataDir) || !fs.statSync(dataDir).isDirectory()) throw new DataFormatError(dataDir, 'directory not found');
  const split = explicitSplit(dataDir);
  let trainClasses: ClassFiles[];
  let testClasses: ClassFiles[];
  if (split) {
    trainClasses = scanClassFolders(split.train);
    testClasses = scanClassFolders(split.test);
    const a = trainClasses.map((c) => c.name);
    const b = testClasses.map((c) => c.name);
    if (a.join('\0') !== b.join('\0')) {
      const onlyTrain = a.filter((n) => !b.includes(n));
      const onlyTest = b.filter((n) => !a.includes(n));
      throw new DataFormatError(
        split.test,
        `has ${b.length} class folders but ${split.train} has ${a.length}; the class folders must be the same${onlyTrain.length ? `; only in train: ${onlyTrain.join(', ')}` : ''}${onlyTest.length ? `; only in ${path.basename(split.test)}: ${onlyTest.join(', ')}` : ''}`,
      );
    }
  } else {
    if (!(opts.valFraction > 0 && opts.valFraction < 1))
      throw new DataFormatError(dataDir, `the held-out fraction must be in (0, 1), got ${opts.valFraction}`);
    const all = scanClassFolders(dataDir);
    const test = heldOut(all, opts);
    trainClasses = all.map((c) => ({ name: c.name, files: c.files.filter((f) => !test.has(f)) }));
    testClasses = all.map((c) => ({ name: c.name, files: c.files.filter((f) => test.has(f)) }));
    if (test.size === 0) {
      throw new DataFormatError(
        dataDir,
        `too few images for a ${opts.valFraction} held-out split (no class has enough images to hold one out); add images or use train/ and test/ folders`,
      );
    }
  }
  const classNames = trainClasses.map((c) => c.name);
  const train = decodeAll(trainClasses, opts);
  const test = decodeAll(testClasses, opts);
  const channels = opts.channels === 'auto' ? ([...train.images, ...test.images].every(isGrey) ? 1 : 3) : opts.channels;
  const name = path.basename(path.resolve(dataDir));
  return {
    train: shuffled(toDataset(`${name}/train`, train, channels, opts, classNames), `fim-folder:${opts.splitSeed}:train`),
    test: shuffled(toDataset(`${name}/test`, test, channels, opts, classNames), `fim-folder:${opts.splitSeed}:test`),
    source: path.resolve(dataDir),
  };
}
