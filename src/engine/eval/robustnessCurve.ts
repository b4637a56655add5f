import type * as tfl from '@tensorflow/tfjs-layers';
import type { RobustnessCurve } from '../../runs/evals';
import { wilsonInterval } from '../../shared/stats';
import { Cancelled } from '../attacks/attack';
import { makeContext } from '../attacks/context';
import { getAttack, resolveOptions } from '../attacks/registry';
import { minimalAdversarial } from '../attacks/run';
import { distances } from '../attacks/tensorOps';
import { argmaxRows, logitsOf } from '../models/predict';
import * as tf from '@tensorflow/tfjs-core';
import { rowsOf } from './common';

/**
 * Robust accuracy against ε from per-sample minimum adversarial norms (Croce & Hein 2020 plot
 * such curves from FAB). Per correctly classified sample, the smallest adversarial found by:
 *  - FAB-T's minimum-norm search over its 9 target classes (all of them: no early stop);
 *  - the AutoAttack cascade's own adversarial at ε, where it broke the sample;
 *  - an APGD-CE bisection on ε: from the smallest norm known so far (or 2ε when none is), halve
 *    the interval `bisections` times, running APGD-CE (100 iterations) at the midpoint and keeping
 *    the norm of any adversarial it finds.
 * The curve is then the fraction of samples that are correct and whose minimum norm exceeds ε,
 * on a grid from 0 to the largest norm of interest. Each norm is an upper bound on the true
 * minimum, so the curve is an upper bound on the robust accuracy at every ε.
 */
export const CURVE_DEFAULTS = { bisections: 5, gridPoints: 40 } as const;

export interface CurveInput {
  model: tfl.LayersModel;
  shape: [number, number, number];
  norm: 'linf' | 'l2';
  epsilon: number;
  /** Flat inputs and labels of the evaluated samples. */
  x: Float32Array;
  labels: Int32Array;
  /** Positions (into x) of the correctly classified samples among the first `samples`. */
  positions: number[];
  samples: number;
  /** Per curve sample (position < samples): the cascade's adversarial norm, or null. */
  known: (number | null)[];
  seed: number;
  bisections: number;
  batchSize?: number;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Runs an iterative attack with a radius per sample; returns which broke and the norms of their adversarials. */
async function attackAtRadii(
  input: CurveInput,
  attackName: string,
  rows: number[],
  radius: number[],
  tag: string,
  signal?: AbortSignal,
): Promise<{ broken: boolean[]; norm: number[] }> {
  const attack = getAttack(attackName);
  if (attack.kind !== 'iterative') throw new Error(`${attackName} is not an iterative attack`);
  const opts = resolveOptions(attack, {}, { seed: input.seed, ...(input.batchSize ? { batchSize: input.batchSize } : {}) });
  const size = input.shape[0] * input.shape[1] * input.shape[2];
  const bs = Number(opts.batchSize) || 100;
  const broken: boolean[] = [];
  const norm: number[] = [];
  for (let s0 = 0; s0 < rows.length; s0 += bs) {
    // A turn of the event loop between batches lets the engine process receive a cancel.
    await nextTurn();
    if (signal?.aborted) throw new Cancelled();
    const part = rows.slice(s0, s0 + bs);
    const ctx = makeContext(
      input.model,
      rowsOf(input.x, part, size),
      input.shape,
      Int32Array.from(part, (i) => input.labels[i]!),
      undefined,
      `${attackName}:curve:${tag}:${input.seed}:${s0}`,
    );
    try {
      const r = Float32Array.from(radius.slice(s0, s0 + bs));
      const out = attack.iterate(ctx, attack.fixedRun(r, opts), opts);
      // Re-checked on the reported inputs by the plain inference pass, as runAttack does.
      const pred = tf.tidy(() => argmaxRows(logitsOf(input.model, tf.tensor4d(out.adv, [part.length, ...input.shape])), ctx.numClasses));
      const d = distances(out.adv, ctx.xData, size, input.norm);
      part.forEach((_, j) => {
        const ok = pred[j] !== ctx.labels[j] && d[j]! <= r[j]! * (1 + 1e-5);
        broken.push(ok);
        norm.push(ok ? d[j]! : Infinity);
      });
    } finally {
      ctx.x.dispose();
    }
  }
  return { broken, norm };
}

export async function robustnessCurve(
  input: CurveInput,
  onProgress?: (message: string, fraction: number) => void,
  signal?: AbortSignal,
): Promise<{ curve: RobustnessCurve; minNorm: (number | null)[] }> {
  const started = Date.now();
  const { norm, epsilon, positions } = input;
  const size = input.shape[0] * input.shape[1] * input.shape[2];
  const fab = norm === 'l2' ? 'fab-t-l2' : 'fab-t';
  const apgd = norm === 'l2' ? 'apgd-ce-l2' : 'apgd-ce';
  const best = new Map<number, number>();
  const keep = (i: number, v: number) => {
    if (Number.isFinite(v) && v < (best.get(i) ?? Infinity)) best.set(i, v);
  };
  positions.forEach((i) => {
    const k = input.known[i];
    if (k !== null && k !== undefined) keep(i, k);
  });
  const rounds = input.bisections + 1;
  if (positions.length > 0) {
    // FAB-T has no randomness, so running it a batch at a time (with a turn of the event loop in
    // between, for a cancel to arrive) gives the same norms as one call.
    const bs = input.batchSize ?? 100;
    for (let s0 = 0; s0 < positions.length; s0 += bs) {
      await nextTurn();
      if (signal?.aborted) throw new Cancelled();
      const part = positions.slice(s0, s0 + bs);
      const m = minimalAdversarial(
        fab,
        { model: input.model, x: rowsOf(input.x, part, size), shape: input.shape, labels: Int32Array.from(part, (i) => input.labels[i]!) },
        {
          seed: input.seed,
          options: { stopAtNorm: 0 },
          batchSize: bs,
          onProgress: (done, total, detail) =>
            onProgress?.(
              `${fab} minimum norms: samples ${s0 + 1}–${s0 + part.length} of ${positions.length}${detail ? `, ${detail}` : ''}`,
              (0.5 * (s0 + (part.length * done) / total)) / positions.length,
            ),
          ...(signal ? { signal } : {}),
        },
      );
      part.forEach((i, j) => {
        if (m.found[j]) keep(i, m.distance[j]!);
      });
    }
    // The APGD bisection: samples with no adversarial yet are tried at the top of the range first.
    const top = Math.max(2 * epsilon, ...[...best.values()].map((v) => v * 1.05));
    const lo = new Map<number, number>(positions.map((i) => [i, 0]));
    for (let round = 0; round < rounds; round++) {
      const rows = round === 0 ? positions.filter((i) => !best.has(i)) : positions.filter((i) => best.has(i));
      if (rows.length === 0) continue;
      const radius = rows.map((i) => (round === 0 ? top : (lo.get(i)! + best.get(i)!) / 2));
      onProgress?.(`${apgd} bisection ${round + 1}/${rounds} on ${rows.length} samples`, 0.5 + (0.5 * round) / rounds);
      const r = await attackAtRadii(input, apgd, rows, radius, `r${round}`, signal);
      rows.forEach((i, j) => {
        if (r.broken[j]) keep(i, r.norm[j]!);
        else lo.set(i, radius[j]!);
      });
    }
  }
  const minNorm: (number | null)[] = Array.from({ length: input.samples }, (_, i) => (positions.includes(i) ? (best.get(i) ?? null) : 0));
  const finite = [...best.values()];
  const top = Math.max(2 * epsilon, ...finite);
  const grid = [
    ...new Set([...Array.from({ length: CURVE_DEFAULTS.gridPoints + 1 }, (_, j) => (top * j) / CURVE_DEFAULTS.gridPoints), epsilon]),
  ].sort((a, b) => a - b);
  const n = input.samples;
  const points = grid.map((e) => {
    const robust = positions.filter((i) => {
      const v = best.get(i);
      return v === undefined || v > e;
    }).length;
    return { epsilon: e, robustAccuracy: n > 0 ? robust / n : 0, robustAccuracyCi: wilsonInterval(robust, n) };
  });
  return {
    curve: {
      norm,
      samples: n,
      correct: positions.length,
      sources: [
        `${fab} minimum norms (9 target classes)`,
        'the cascade’s adversarials at ε',
        `${apgd} bisection on ε (${input.bisections} rounds)`,
      ],
      points,
      wallSeconds: (Date.now() - started) / 1000,
    },
    minNorm,
  };
}
