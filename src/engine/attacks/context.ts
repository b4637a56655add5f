import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type { BatchContext } from './attack';
import { argmaxRows, logitsOf } from '../models/predict';

/** Builds the context of one batch; the caller disposes `ctx.x`. */
export function makeContext(
  model: tfl.LayersModel,
  xData: Float32Array,
  shape: [number, number, number],
  labels: Int32Array,
  targets: Int32Array | undefined,
  seed: string,
): BatchContext {
  const size = shape[0] * shape[1] * shape[2];
  const n = labels.length;
  if (xData.length !== n * size) throw new RangeError(`inputs hold ${xData.length} values, expected ${n}×${size}`);
  const k = model.outputs[0]!.shape[1] as number;
  for (const y of labels) if (!(y >= 0 && y < k)) throw new RangeError(`label ${y} is outside 0..${k - 1}`);
  if (targets) {
    if (targets.length !== n) throw new RangeError(`${targets.length} targets for ${n} samples`);
    for (const t of targets) if (!(t >= 0 && t < k)) throw new RangeError(`target ${t} is outside 0..${k - 1}`);
  }
  return {
    model,
    x: tf.tensor4d(xData, [n, ...shape]),
    xData,
    labels,
    ...(targets ? { targets } : {}),
    shape,
    size,
    numClasses: k,
    bounds: [0, 1],
    rng: seedrandom(seed),
  };
}

/** The same context restricted to `rows` (sharing the random generator); dispose its `x`. */
export function subContext(ctx: BatchContext, rows: ArrayLike<number>): BatchContext {
  const size = ctx.size;
  const xData = new Float32Array(rows.length * size);
  const labels = new Int32Array(rows.length);
  const targets = ctx.targets ? new Int32Array(rows.length) : undefined;
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i]!;
    xData.set(ctx.xData.subarray(s * size, (s + 1) * size), i * size);
    labels[i] = ctx.labels[s]!;
    if (targets) targets[i] = ctx.targets![s]!;
  }
  return { ...ctx, x: tf.tensor4d(xData, [rows.length, ...ctx.shape]), xData, labels, ...(targets ? { targets } : {}) };
}

export function isAdversarial(pred: number, label: number, target: number | undefined): boolean {
  return target === undefined ? pred !== label : pred === target;
}

/** Rows `rows` of a flat [n, size] batch, packed. */
export function gatherRows(src: Float32Array, rows: ArrayLike<number>, size: number): Float32Array {
  const out = new Float32Array(rows.length * size);
  for (let i = 0; i < rows.length; i++) out.set(src.subarray(rows[i]! * size, (rows[i]! + 1) * size), i * size);
  return out;
}

/** Predictions (plain inference pass, see logitsOf) for rows `rows` of the flat batch `data`. */
export function predictRows(ctx: BatchContext, data: Float32Array, rows: number[]): Int32Array {
  return tf.tidy(() =>
    argmaxRows(logitsOf(ctx.model, tf.tensor4d(gatherRows(data, rows, ctx.size), [rows.length, ...ctx.shape])), ctx.numClasses),
  );
}

/**
 * Ends a minimization attack: one last check of the samples still running (Foolbox checks the
 * final step's input too), and samples without an adversarial get their input back.
 */
export function finishMinimization(
  ctx: BatchContext,
  cur: Float32Array,
  active: number[],
  found: Uint8Array,
): { adv: Float32Array; found: Uint8Array } {
  if (active.length > 0) {
    const pred = predictRows(ctx, cur, active);
    active.forEach((s, i) => {
      if (isAdversarial(pred[i]!, ctx.labels[s]!, ctx.targets?.[s])) found[s] = 1;
    });
  }
  for (let s = 0; s < found.length; s++) if (!found[s]) cur.set(ctx.xData.subarray(s * ctx.size, (s + 1) * ctx.size), s * ctx.size);
  return { adv: cur, found };
}
