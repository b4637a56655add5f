/**
 * Statistics of the output FIM G_s = diag(1/p_1, …, 1/p_K), computed per sample in float64 from
 * logits (a baseline's 1/p_min overflows float32):
 *   tr G_s = Σ_i 1/p_i = Σ_i exp(lse − z_i),  λmax(G_s) = 1/min_i p_i = exp(lse − min_i z_i).
 */
export interface OutputStats {
  traceGs: Float64Array;
  lambdaMaxGs: Float64Array;
  predicted: Int32Array;
  /** Row-major [n, K] probabilities. */
  probs: Float64Array;
  /** Per-sample −log p_label, when labels are given. */
  ce?: Float64Array;
}

export function outputStats(logits: ArrayLike<number>, numClasses: number, labels?: ArrayLike<number>): OutputStats {
  const n = logits.length / numClasses;
  const traceGs = new Float64Array(n);
  const lambdaMaxGs = new Float64Array(n);
  const predicted = new Int32Array(n);
  const probs = new Float64Array(n * numClasses);
  const ce = labels ? new Float64Array(n) : undefined;
  for (let s = 0; s < n; s++) {
    const o = s * numClasses;
    let max = -Infinity;
    let min = Infinity;
    let arg = 0;
    for (let i = 0; i < numClasses; i++) {
      const z = logits[o + i]!;
      if (z > max) {
        max = z;
        arg = i;
      }
      if (z < min) min = z;
    }
    let sum = 0;
    for (let i = 0; i < numClasses; i++) sum += Math.exp(logits[o + i]! - max);
    const lse = max + Math.log(sum);
    let tr = 0;
    for (let i = 0; i < numClasses; i++) {
      const z = logits[o + i]!;
      tr += Math.exp(lse - z);
      probs[o + i] = Math.exp(z - lse);
    }
    traceGs[s] = tr;
    lambdaMaxGs[s] = Math.exp(lse - min);
    predicted[s] = arg;
    if (ce && labels) ce[s] = lse - logits[o + labels[s]!]!;
  }
  return { traceGs, lambdaMaxGs, predicted, probs, ...(ce ? { ce } : {}) };
}
