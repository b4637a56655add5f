import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { FimAggregate, SampleFimStats } from '../../runs/evals';
import { mean, median } from '../../shared/stats';
import { klBudget, logitGram, topEigenFromJacobian } from './inputFim';
import { DEFAULT_MAX_ROWS, logitJacobian, type LogitGradients } from './jacobian';
import { outputStats } from './outputStats';

/** Per-sample statistics of a batch plus the unit top eigenvectors of G_x ([B, N]). */
export interface SampleFimBatch {
  stats: SampleFimStats[];
  eigenvectors: Float32Array;
}

export interface SampleFimOptions {
  /** KL threshold τ of the KL budget. */
  tau: number;
  /** Fitted temperature; when given, `scaled` holds the statistics of softmax(z/T). */
  temperature?: number;
  maxRows?: number;
}

/**
 * Logit margin m = z_y − max_{j≠y} z_j and m / ‖∇_x m‖₂ (the first-order l2 distance to the
 * decision boundary between y and its strongest rival; invariant to temperature).
 */
export function marginStats(jac: LogitGradients, s: number, label: number): { margin: number; normalizedMargin: number } {
  const { numClasses: k, inputSize: n, logits, gradients } = jac;
  let rival = -1;
  for (let j = 0; j < k; j++) if (j !== label && (rival < 0 || logits[s * k + j]! > logits[s * k + rival]!)) rival = j;
  const margin = logits[s * k + label]! - logits[s * k + rival]!;
  let g2 = 0;
  const oy = (s * k + label) * n;
  const or = (s * k + rival) * n;
  for (let t = 0; t < n; t++) {
    const d = gradients[oy + t]! - gradients[or + t]!;
    g2 += d * d;
  }
  return { margin, normalizedMargin: g2 > 0 ? margin / Math.sqrt(g2) : Math.sign(margin) * Infinity };
}

/** FIM statistics of samples `x` (with their dataset `indices` and `labels`). */
export function sampleFimStats(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  labels: ArrayLike<number>,
  indices: ArrayLike<number>,
  opts: SampleFimOptions,
): SampleFimBatch {
  const jac = logitJacobian(model, x, opts.maxRows ?? DEFAULT_MAX_ROWS);
  const { batch: b, numClasses: k, inputSize: n } = jac;
  const base = outputStats(jac.logits, k);
  const scaledLogits = opts.temperature === undefined ? null : Float64Array.from(jac.logits, (z) => z / opts.temperature!);
  const scaledOut = scaledLogits ? outputStats(scaledLogits, k) : null;
  const eigenvectors = new Float32Array(b * n);
  const stats: SampleFimStats[] = [];
  for (let s = 0; s < b; s++) {
    const gram = logitGram(jac, s);
    const { lambda } = topEigenFromJacobian(jac, s, 1, eigenvectors.subarray(s * n, (s + 1) * n), gram);
    const label = labels[s]!;
    const row: SampleFimStats = {
      index: indices[s]!,
      label,
      predicted: base.predicted[s]!,
      probs: Array.from(base.probs.subarray(s * k, (s + 1) * k)),
      traceGs: base.traceGs[s]!,
      lambdaMaxGs: base.lambdaMaxGs[s]!,
      lambdaMaxGx: lambda,
      klBudget: klBudget(lambda, opts.tau),
      ...marginStats(jac, s, label),
    };
    if (scaledOut) {
      const t = topEigenFromJacobian(jac, s, opts.temperature, undefined, gram).lambda;
      row.scaled = {
        traceGs: scaledOut.traceGs[s]!,
        lambdaMaxGs: scaledOut.lambdaMaxGs[s]!,
        lambdaMaxGx: t,
        klBudget: klBudget(t, opts.tau),
      };
    }
    stats.push(row);
  }
  return { stats, eigenvectors };
}

type Agg = (xs: ArrayLike<number>) => number;

/** Means and medians of the per-sample statistics (a baseline's means are dominated by a few extreme samples). */
export function aggregateFim(rows: SampleFimStats[], scaled = false): { mean: FimAggregate; median: FimAggregate } {
  const pick = (f: (r: SampleFimStats) => number) => rows.map(f);
  const src = (r: SampleFimStats) => (scaled ? r.scaled! : r);
  const cols = {
    traceGs: pick((r) => src(r).traceGs),
    lambdaMaxGs: pick((r) => src(r).lambdaMaxGs),
    lambdaMaxGx: pick((r) => src(r).lambdaMaxGx),
    klBudget: pick((r) => src(r).klBudget),
    normalizedMargin: pick((r) => r.normalizedMargin),
  };
  const agg = (f: Agg): FimAggregate => ({
    traceGs: f(cols.traceGs),
    lambdaMaxGs: f(cols.lambdaMaxGs),
    lambdaMaxGx: f(cols.lambdaMaxGx),
    klBudget: f(cols.klBudget),
    normalizedMargin: f(cols.normalizedMargin),
  });
  return { mean: agg(mean), median: agg(median) };
}
