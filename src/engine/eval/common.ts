import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { argmaxRows, logitsOf } from '../models/predict';
import type { Dataset } from '../data/dataset';
import { samplesOf } from './runModel';

/** Evaluated samples and the subset the model classifies correctly (the paper's denominator). */
export interface CleanSet {
  indices: number[];
  x: Float32Array;
  labels: Int32Array;
  predicted: Int32Array;
  /** Positions (into `indices`) of correctly classified samples. */
  correct: number[];
}

export function cleanSet(model: tfl.LayersModel, d: Dataset, indices: number[]): CleanSet {
  const { x, labels } = samplesOf(d, indices);
  const predicted = tf.tidy(() => argmaxRows(logitsOf(model, tf.tensor4d(x, [indices.length, ...d.imageShape])), d.numClasses));
  const correct = indices.map((_, i) => i).filter((i) => predicted[i] === labels[i]);
  return { indices, x, labels, predicted, correct };
}

/** Rows `rows` of a flat [n, size] array. */
export function rowsOf(x: Float32Array, rows: number[], size: number): Float32Array {
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => out.set(x.subarray(r * size, (r + 1) * size), i * size));
  return out;
}

export function imageSizeOf(d: Dataset): number {
  return d.imageShape[0] * d.imageShape[1] * d.imageShape[2];
}
