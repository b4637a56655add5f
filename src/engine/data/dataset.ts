/**
 * An in-memory image classification dataset. Pixels stay 8-bit (every supported format is) and
 * are scaled to [0, 1] floats one batch at a time, which keeps CIFAR-10 at 150 MB instead of 600.
 */
export interface Dataset {
  /** e.g. `mnist/train`. */
  name: string;
  /** Row-major NHWC bytes, `count·H·W·C` long. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
  /** [H, W, C] of one image. */
  imageShape: [number, number, number];
  numClasses: number;
  classNames: string[];
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
  /** Where the data came from, for config.json and error messages. */
  source: string;
}

export function imageSize(d: Pick<Dataset, 'imageShape'>): number {
  return d.imageShape[0] * d.imageShape[1] * d.imageShape[2];
}

/** The first `n` samples (or all when n is undefined or larger). */
export function limitDataset(d: Dataset, n: number | undefined): Dataset {
  if (n === undefined || n >= d.count) return d;
  const size = imageSize(d);
  return { ...d, count: n, pixels: d.pixels.subarray(0, n * size), labels: d.labels.subarray(0, n) };
}

/** Selected samples, copied, in the given order. */
export function selectSamples(d: Dataset, indices: ArrayLike<number>): Dataset {
  const size = imageSize(d);
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    if (j < 0 || j >= d.count) throw new Error(`sample index ${j} is outside ${d.name} (0..${d.count - 1})`);
    pixels.set(d.pixels.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = d.labels[j]!;
  }
  return { ...d, count: indices.length, pixels, labels };
}

/** Scales bytes of samples [start, start+n) of `order` (or identity) to floats in [0, 1]. */
export function batchPixels(d: Dataset, indices: ArrayLike<number>, out?: Float32Array): Float32Array {
  const size = imageSize(d);
  const x = out ?? new Float32Array(indices.length * size);
  const inv = 1 / 255;
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]! * size;
    const dst = i * size;
    for (let k = 0; k < size; k++) x[dst + k] = d.pixels[src + k]! * inv;
  }
  return x;
}

export function batchLabels(d: Dataset, indices: ArrayLike<number>): Int32Array {
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) y[i] = d.labels[indices[i]!]!;
  return y;
}

export function range(start: number, end: number): Int32Array {
  const r = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < r.length; i++) r[i] = start + i;
  return r;
}
