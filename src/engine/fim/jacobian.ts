import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { inputVjp } from '../layers/inputVjp';

/**
 * Input gradients of selected logits, for a whole batch in one backward pass: the batch is tiled
 * C times (row c·B + b is sample b) and the gradient of Σ_rows z[row, class(row)] with respect to
 * the tiled input gives every requested ∂z_class/∂x at once. Samples do not interact in inference
 * mode (batch norm uses its moving statistics), so the rows are exactly the per-sample gradients.
 */
export interface LogitGradients {
  /** [B, K] logits of the untiled batch. */
  logits: Float32Array;
  /** [B, C, N]: gradient of logit classes[b·C + c] of sample b, N = H·W·C_in. */
  gradients: Float32Array;
  batch: number;
  numClasses: number;
  /** Gradients per sample (C). */
  perSample: number;
  inputSize: number;
}

/** Rows of the tiled batch per backward pass; bounds activation memory (ConvNet: ~0.4 MB/row). */
export const DEFAULT_MAX_ROWS = 320;

function numClassesOf(model: tfl.LayersModel): number {
  const k = model.outputs[0]!.shape[1];
  if (typeof k !== 'number') throw new Error('the model output has no fixed number of classes');
  return k;
}

/**
 * Gradients of the logits `classes[b·C + c]` (c < C) of each sample b of `x` w.r.t. its input.
 * `classes` has B·C entries; pass every class (C = K) for the full logit Jacobian.
 */
export function logitGradients(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  classes: Int32Array,
  perSample: number,
  maxRows = DEFAULT_MAX_ROWS,
): LogitGradients {
  const [b, h, w, c] = x.shape;
  const k = numClassesOf(model);
  const n = h * w * c;
  if (classes.length !== b * perSample)
    throw new RangeError(`logitGradients: expected ${b * perSample} class indices, got ${classes.length}`);
  for (const cls of classes) if (cls < 0 || cls >= k) throw new RangeError(`logitGradients: class ${cls} outside 0..${k - 1}`);
  const logits = new Float32Array(b * k);
  const gradients = new Float32Array(b * perSample * n);
  // Samples per chunk so that chunk·C tiled rows stay under maxRows.
  const chunk = Math.max(1, Math.floor(maxRows / perSample));
  for (let s0 = 0; s0 < b; s0 += chunk) {
    const nb = Math.min(chunk, b - s0);
    const rows = nb * perSample;
    // mask[c·nb + i, class] = 1 selects logit classes[(s0+i)·C + c] in tiled row c·nb + i.
    const mask = new Float32Array(rows * k);
    for (let i = 0; i < nb; i++) for (let cc = 0; cc < perSample; cc++) mask[(cc * nb + i) * k + classes[(s0 + i) * perSample + cc]!] = 1;
    const [lg, gr] = tf.tidy(() => {
      const xs = nb === b ? x : tf.slice(x, [s0, 0, 0, 0], [nb, h, w, c]);
      const m = tf.tensor2d(mask, [rows, k]);
      // One forward pass and the backward pass of the C masks at once where the model allows it
      // (layers/inputVjp.ts); otherwise the gradient of the batch tiled C times.
      const vjp = inputVjp(model, xs);
      let z: tf.Tensor2D;
      let g: tf.Tensor;
      if (vjp) {
        z = vjp.output;
        g = vjp.backward(m);
      } else {
        const tiled = perSample === 1 ? xs : tf.tile(xs, [perSample, 1, 1, 1]);
        let out: tf.Tensor2D | undefined;
        g = tf.grad((t: tf.Tensor) => {
          out = tf.keep(model.apply(t, { training: false }) as tf.Tensor2D);
          return tf.sum<tf.Scalar>(tf.mul(out, m));
        })(tiled);
        z = tf.slice(out!, [0, 0], [nb, k]);
        tf.dispose(out!);
      }
      // [C·nb, N] → [nb, C, N]
      const perS = tf.transpose(tf.reshape(g, [perSample, nb, n]), [1, 0, 2]);
      return [z, perS];
    });
    logits.set(lg.dataSync(), s0 * k);
    gradients.set(gr.dataSync(), s0 * perSample * n);
    tf.dispose([lg, gr]);
  }
  return { logits, gradients, batch: b, numClasses: k, perSample, inputSize: n };
}

/** The full logit Jacobian ∂z/∂x per sample: gradients [B, K, N]. */
export function logitJacobian(model: tfl.LayersModel, x: tf.Tensor4D, maxRows = DEFAULT_MAX_ROWS): LogitGradients {
  const k = numClassesOf(model);
  const b = x.shape[0];
  const classes = new Int32Array(b * k);
  for (let i = 0; i < b; i++) for (let c = 0; c < k; c++) classes[i * k + c] = c;
  return logitGradients(model, x, classes, k, maxRows);
}
