import * as tf from '@tensorflow/tfjs-core';

/**
 * The paper's defended loss (eq. 4), averaged over the batch:
 *
 *   L̃ = CE(z, y) + μ · Σ_i 1/p_i,   with 1/p_i = exp(logsumexp(z) − z_i)
 *
 * computed from logits, never as 1/softmax, so it stays finite in float32 (docs/design.md §1).
 * μ = 0 skips the term entirely: the baseline is plain cross-entropy, bit for bit.
 */
export interface LossOptions {
  mu: number;
  /** Label-smoothing α: targets y(1−α) + α/K (the paper's LSR comparison). */
  labelSmoothing?: number;
}

/**
 * log(1/p_i) is capped here before exp: 1/p ≤ e^60 ≈ 1e26 keeps the sum and μ·sum finite in
 * float32. Capped entries get no gradient from the trace term; `capped` counts them so the
 * trainer can warn. They only occur for near-one-hot outputs the trace term itself prevents.
 */
export const LOG_INV_P_CAP = 60;

export interface LossParts {
  /** Batch mean of the full loss (what is minimised). */
  loss: tf.Scalar;
  /** Batch mean cross-entropy (with label smoothing when on). */
  ce: tf.Scalar;
}

export function oneHotTargets(labels: tf.Tensor1D, numClasses: number, labelSmoothing = 0): tf.Tensor2D {
  return tf.tidy(() => {
    const oh = tf.cast(tf.oneHot(labels, numClasses), 'float32') as tf.Tensor2D;
    if (!labelSmoothing) return oh;
    return tf.add<tf.Tensor2D>(tf.mul(oh, 1 - labelSmoothing), labelSmoothing / numClasses);
  });
}

/** Per-sample Σ_i 1/p_i from logits, with the cap above. */
export function traceGsFromLogits(logits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const lse = tf.logSumExp(logits, 1, true);
    return tf.sum<tf.Tensor1D>(tf.exp(tf.minimum(tf.sub(lse, logits), LOG_INV_P_CAP)), 1);
  });
}

/** Per-sample cross-entropy against (possibly smoothed) one-hot targets. */
export function crossEntropyFromLogits(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)) as tf.Tensor1D);
}

export function defendedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, opts: LossOptions): LossParts {
  return tf.tidy(() => {
    const targets = oneHotTargets(labels, logits.shape[1], opts.labelSmoothing ?? 0);
    const ce = tf.mean<tf.Scalar>(crossEntropyFromLogits(logits, targets));
    const loss = opts.mu > 0 ? tf.add<tf.Scalar>(ce, tf.mul(tf.mean(traceGsFromLogits(logits)), opts.mu)) : ce;
    return { loss, ce };
  });
}
