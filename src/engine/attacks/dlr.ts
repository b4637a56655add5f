import * as tf from '@tensorflow/tfjs-core';

/**
 * The Difference of Logits Ratio loss (Croce & Hein 2020, "Reliable evaluation of adversarial
 * robustness with an ensemble of diverse parameter-free attacks", §4), which APGD ascends. With
 * the logits sorted z_π1 ≥ z_π2 ≥ …:
 *
 *   DLR(z, y)       = −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)
 *   DLR-T(z, y, t)  = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)
 *
 * Both are invariant to shifting and to scaling the logits, so a model whose outputs were merely
 * multiplied up (saturated softmax, zero cross-entropy gradient) or flattened (the trace
 * defence's p_true ≈ 0.3) gives the attack the same direction as an honest one.
 *
 * The sort only selects which logits enter the ratio; the gradient flows through the selected
 * logits, as through PyTorch's sort in the reference implementation. tfjs has no gradient for
 * TopK, so the gradient is written out: with L = −u/v, dL/dz = −(∂u/∂z)/v + u·(∂v/∂z)/v², where
 * ∂u/∂z and ∂v/∂z are differences of one-hot rows. 1e-12 keeps the ratio finite on ties, as in the
 * reference.
 */
export const DLR_TINY = 1e-12;

/** One-hot rows [n, K] of the classes at rank `rank` (0 = largest logit) per row. */
function rankMask(top: tf.Tensor2D, rank: number, k: number): tf.Tensor2D {
  const classes: tf.Tensor1D = tf.squeeze(tf.slice(top, [0, rank], [-1, 1]), [1]);
  return tf.cast(tf.oneHot(classes, k) as tf.Tensor2D, 'float32');
}

const rowDot = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.sum(tf.mul(a, b), 1);

/**
 * −u/v per row with its gradient to the logits, given the one-hot combinations du = ∂u/∂z and
 * dv = ∂v/∂z (so u = Σ z·du and v = Σ z·dv + 1e-12).
 */
function ratioLoss(logits: tf.Tensor2D, du: tf.Tensor2D, dv: tf.Tensor2D, save: tf.GradSaveFunc) {
  const u = rowDot(logits, du);
  const v = tf.add(rowDot(logits, dv), DLR_TINY);
  save([du, dv, u, v]);
  return {
    value: tf.neg(tf.div(u, v)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sdu, sdv, su, sv] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
      const col = (t: tf.Tensor1D) => tf.expandDims(t, 1);
      const dz = tf.add(tf.neg(tf.div(sdu, col(sv))), tf.mul(sdv, col(tf.div(su, tf.square(sv)))));
      return tf.mul(dz, col(dy as tf.Tensor1D));
    },
  };
}

const dlrOp = tf.customGrad(((logits: tf.Tensor2D, onehotY: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const k = logits.shape[1];
  const top = tf.topk(logits, 3, true).indices;
  const m1 = rankMask(top, 0, k);
  // The largest other logit: the runner-up when the label is on top, else the top.
  const labelOnTop = tf.expandDims(rowDot(m1, onehotY), 1);
  const other = tf.add(tf.mul(labelOnTop, rankMask(top, 1, k)), tf.mul(tf.sub(1, labelOnTop), m1));
  const r = ratioLoss(logits, tf.sub<tf.Tensor2D>(onehotY, other), tf.sub<tf.Tensor2D>(m1, rankMask(top, 2, k)), save);
  return { value: r.value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [r.gradFunc(dy, saved), tf.zerosLike(onehotY)] };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

const dlrTargetedOp = tf.customGrad(((logits: tf.Tensor2D, onehotY: tf.Tensor2D, onehotT: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const k = logits.shape[1];
  const top = tf.topk(logits, 4, true).indices;
  const spread = tf.sub<tf.Tensor2D>(rankMask(top, 0, k), tf.mul(tf.add(rankMask(top, 2, k), rankMask(top, 3, k)), 0.5));
  const r = ratioLoss(logits, tf.sub<tf.Tensor2D>(onehotY, onehotT), spread, save);
  return {
    value: r.value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [r.gradFunc(dy, saved), tf.zerosLike(onehotY), tf.zerosLike(onehotT)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

const oneHotOf = (classes: tf.Tensor1D, k: number) => tf.cast(tf.oneHot(classes, k), 'float32') as tf.Tensor2D;

/** The untargeted DLR loss per row, [n]; needs K ≥ 3. */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => dlrOp(logits, oneHotOf(labels, logits.shape[1])) as tf.Tensor1D);
}

/** The targeted DLR loss per row, [n]; needs K ≥ 4. */
export function dlrTargetedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    return dlrTargetedOp(logits, oneHotOf(labels, k), oneHotOf(targets, k)) as tf.Tensor1D;
  });
}
