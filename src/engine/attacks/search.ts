import * as tf from '@tensorflow/tfjs-core';
import type { BatchContext, IterativeAttack, OneStepAttack } from './attack';
import type { AttackOptions } from '../../runs/evals';
import { foolbox2Unit } from './iterative';
import { isAdversarial, subContext } from './context';
import { clipToBounds, distances } from './tensorOps';
import { argmaxRows, logitsOf } from '../models/predict';

/**
 * Foolbox 2.4's minimum-distance searches (what the paper's Table 1 measured), batched per sample.
 * Each sample keeps the closest adversarial found, in the attack's natural norm.
 */
export interface SearchResult {
  adv: Float32Array;
  found: Uint8Array;
}

/**
 * One-step attacks (GradientSignAttack, GradientAttack): try ε = max·i/1000, i = 1..1000, stop at
 * the first adversarial; if that came within the first 20 values, repeat with 20 values in
 * (0, ε]. `max` is 1 in Foolbox 2's units: the l∞ radius 1, or an RMS of 1 (l2 radius √N).
 */
export function oneStepSearch(attack: OneStepAttack, ctx: BatchContext, opts: AttackOptions): SearchResult {
  const n = ctx.labels.length;
  const size = ctx.size;
  const count = Number(opts.searchSteps ?? 1000);
  if (!(count >= 1)) throw new RangeError(`${attack.name}: searchSteps must be ≥ 1`);
  const refine = 20;
  const max =
    Number(opts.searchMax) > 0
      ? Number(opts.searchMax)
      : attack.norm === 'linf'
        ? 1
        : foolbox2Unit(attack.norm === 'l1' ? 'l1' : 'l2', size);
  const clip = opts.clip !== false;
  const adv = Float32Array.from(ctx.xData);
  const found = new Uint8Array(n);
  const plan = attack.prepare(ctx, opts);
  try {
    // Returns, for rows, the grid index of their first adversarial (−1 if none).
    const scan = (rows: number[], grid: (row: number, i: number) => number, steps: number) => {
      const first = new Map<number, number>();
      let active = rows;
      for (let i = 0; i < steps && active.length > 0; i++) {
        const radius = Float32Array.from(active, (s) => grid(s, i));
        const idx = Int32Array.from(active);
        const raw = plan.at(radius, idx);
        const x = clip ? clipToBounds(raw, ctx.bounds) : raw;
        const data = x.dataSync() as Float32Array;
        const pred = argmaxRows(logitsOf(ctx.model, x), ctx.numClasses);
        tf.dispose([raw, x]);
        const still: number[] = [];
        active.forEach((s, j) => {
          if (isAdversarial(pred[j]!, ctx.labels[s]!, ctx.targets?.[s])) {
            first.set(s, i);
            found[s] = 1;
            adv.set(data.subarray(j * size, (j + 1) * size), s * size);
          } else still.push(s);
        });
        active = still;
        if (i % 50 === 0) ctx.note?.(`ε search: value ${i + 1}/${steps}, ${active.length} samples left`);
      }
      return first;
    };
    const all = Array.from({ length: n }, (_, s) => s);
    const first = scan(all, (_, i) => (max * (i + 1)) / count, count);
    const again = all.filter((s) => (first.get(s) ?? refine) < refine);
    if (again.length > 0) {
      const top = new Map(again.map((s) => [s, (max * (first.get(s)! + 1)) / count]));
      scan(again, (s, i) => (top.get(s)! * (i + 1)) / refine, refine);
    }
  } finally {
    plan.dispose();
  }
  return { adv, found };
}

/**
 * Iterative attacks (BIM, PGD): Foolbox 2.4's binary search on ε with stepsize/ε fixed — start at
 * ε₀, multiply by 1.5 until a run (stopping at its first adversarial iterate) succeeds, at most 20
 * times, then bisect 20 times between the last failure (or 0) and the smallest success.
 */
export function iterativeSearch(attack: IterativeAttack, ctx: BatchContext, opts: AttackOptions): SearchResult {
  const n = ctx.labels.length;
  const size = ctx.size;
  const rounds = Number(opts.searchRounds ?? 20);
  const p = attack.searchRun(opts, size);
  const adv = Float32Array.from(ctx.xData);
  const found = new Uint8Array(n);
  const best = new Float64Array(n).fill(Infinity);
  const good = new Float64Array(n).fill(Infinity);
  const bad = new Float64Array(n);
  const eps = new Float64Array(n).fill(p.radius);
  const tryRows = (rows: number[], radius: (s: number) => number): Uint8Array => {
    const sub = subContext(ctx, rows);
    try {
      const r = Float32Array.from(rows, radius);
      const out = attack.iterate(
        sub,
        { radius: r, stepsize: r.map((v) => v * p.stepRatio), steps: p.steps, randomStart: p.randomStart, returnEarly: true },
        opts,
      );
      const d = distances(out.adv, sub.xData, size, attack.norm);
      rows.forEach((s, i) => {
        if (out.success[i] && d[i]! < best[s]!) {
          best[s] = d[i]!;
          found[s] = 1;
          adv.set(out.adv.subarray(i * size, (i + 1) * size), s * size);
        }
      });
      return out.success;
    } finally {
      sub.x.dispose();
    }
  };
  let searching = Array.from({ length: n }, (_, s) => s);
  for (let i = 0; i < rounds && searching.length > 0; i++) {
    const ok = tryRows(searching, (s) => eps[s]!);
    const still: number[] = [];
    searching.forEach((s, j) => {
      if (ok[j]) good[s] = eps[s]!;
      else {
        bad[s] = eps[s]!;
        eps[s] = eps[s]! * 1.5;
        still.push(s);
      }
    });
    searching = still;
    ctx.note?.(`ε search: growth round ${i + 1}/${rounds}, ${searching.length} samples without an adversarial`);
  }
  // Foolbox bisects between 0 and the first success (not the last failure).
  const bisect = Array.from({ length: n }, (_, s) => s).filter((s) => good[s]! < Infinity);
  bisect.forEach((s) => (bad[s] = 0));
  for (let i = 0; i < rounds && bisect.length > 0; i++) {
    const mid = new Float64Array(n);
    bisect.forEach((s) => (mid[s] = (good[s]! + bad[s]!) / 2));
    const ok = tryRows(bisect, (s) => mid[s]!);
    bisect.forEach((s, j) => {
      if (ok[j]) good[s] = mid[s]!;
      else bad[s] = mid[s]!;
    });
    ctx.note?.(`ε search: bisection ${i + 1}/${rounds}`);
  }
  return { adv, found };
}
