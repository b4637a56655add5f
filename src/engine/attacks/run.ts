import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors';
import {
  Cancelled,
  type Attack,
  type AttackInputs,
  type AttackResult,
  type BatchContext,
  type BudgetResult,
  type MinimalResult,
  type RunSettings,
} from './attack';
import { type AttackOptions } from '../../runs/evals';
import { isAdversarial, makeContext } from './context';
import { getAttack, resolveOptions } from './registry';
import { iterativeSearch, oneStepSearch } from './search';
import { clipToBounds, crossEntropyRows, distances, projectToBall } from './tensorOps';
import { argmaxRows, logitsOf } from '../models/predict';
import { tidyRead } from '../util/read';

/**
 * Runs attacks batch by batch: fixed budgets (runAttack, Foolbox 3's call shape) and the minimum
 * adversarial distance (minimalAdversarial, Foolbox 2's searches). Every success flag is re-checked
 * here by running the model on the very input that is reported.
 */

export function validateBudgets(attack: Attack, budgets: number[]): void {
  if (budgets.length === 0) throw new InputError(`attack ${attack.name}: give at least one budget`);
  for (const b of budgets) {
    if (Number.isNaN(b) || b < 0) throw new InputError(`attack ${attack.name}: budgets must be ≥ 0 (got ${b})`);
    if (b === Infinity && attack.kind !== 'minimization')
      throw new InputError(
        `attack ${attack.name}: an unbounded budget only makes sense for minimization attacks (deepfool, cw, jsma); give a finite ε`,
      );
  }
}

/** The options an attack runs with for these settings (its defaults, the overrides, seed, batch size, clip). */
export function runOptions(attack: Attack, s: RunSettings): AttackOptions {
  return resolveOptions(attack, s.options ?? {}, {
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.batchSize !== undefined ? { batchSize: s.batchSize } : {}),
    ...(s.clip !== undefined ? { clip: s.clip } : {}),
  });
}

function checkInputs(inputs: AttackInputs): number {
  const size = inputs.shape[0] * inputs.shape[1] * inputs.shape[2];
  const n = inputs.labels.length;
  if (inputs.x.length !== n * size)
    throw new InputError(`attack inputs: ${inputs.x.length} values for ${n} samples of ${inputs.shape.join('×')}`);
  for (let i = 0; i < inputs.x.length; i++) {
    if (!Number.isFinite(inputs.x[i]!)) throw new InputError('attack inputs contain NaN or infinite values');
  }
  return size;
}

function batches(n: number, batchSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += batchSize) out.push([s, Math.min(n, s + batchSize)]);
  return out;
}

function batchContext(inputs: AttackInputs, size: number, s0: number, s1: number, seed: string): BatchContext {
  return makeContext(
    inputs.model,
    inputs.x.slice(s0 * size, s1 * size),
    inputs.shape,
    inputs.labels.slice(s0, s1),
    inputs.targets?.slice(s0, s1),
    seed,
  );
}

/** Adversarials of a minimization attack restricted to a budget (Foolbox 3: project onto the ball). */
function restrict(attack: Attack, ctx: BatchContext, adv: Float32Array, radius: number): Float32Array {
  if (radius === Infinity) return adv;
  if (attack.norm === 'l0') {
    const d = distances(adv, ctx.xData, ctx.size, 'l0');
    const out = Float32Array.from(adv);
    for (let s = 0; s < d.length; s++) if (d[s]! > radius) out.set(ctx.xData.subarray(s * ctx.size, (s + 1) * ctx.size), s * ctx.size);
    return out;
  }
  const norm = attack.norm;
  return tidyRead(() => {
    const a = tf.tensor4d(adv, ctx.x.shape);
    const delta = projectToBall(tf.sub<tf.Tensor4D>(a, ctx.x), new Float32Array(ctx.labels.length).fill(radius), norm);
    return clipToBounds(tf.add<tf.Tensor4D>(ctx.x, delta), ctx.bounds);
  });
}

/** Raw and clipped adversarials of one batch for one budget. */
function adversarialsAt(
  attack: Attack,
  ctx: BatchContext,
  opts: AttackOptions,
  radius: number,
  state: { plan?: ReturnType<Extract<Attack, { kind: 'one-step' }>['prepare']>; minimal?: { adv: Float32Array } },
): { raw: Float32Array; clipped: Float32Array } {
  const n = ctx.labels.length;
  const r = new Float32Array(n).fill(radius);
  if (attack.kind === 'one-step') {
    state.plan ??= attack.prepare(ctx, opts);
    const raw = state.plan.at(r);
    const clipped = clipToBounds(raw, ctx.bounds);
    const out = { raw: raw.dataSync() as Float32Array, clipped: clipped.dataSync() as Float32Array };
    tf.dispose([raw, clipped]);
    return out;
  }
  if (attack.kind === 'iterative') {
    const adv = attack.iterate(ctx, attack.fixedRun(r, opts), opts).adv;
    return { raw: adv, clipped: adv };
  }
  state.minimal ??= attack.minimize(ctx, opts);
  return { raw: state.minimal.adv, clipped: restrict(attack, ctx, state.minimal.adv, radius) };
}

export function runAttack(
  attackOrName: Attack | string,
  inputs: AttackInputs,
  budgets: number[],
  settings: RunSettings = {},
): AttackResult {
  const steps = attackSteps(attackOrName, inputs, budgets, settings);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * runAttack that yields to the event loop between batches, so that a process serving requests
 * (the engine process: a cancel arrives as a message) sees the cancellation between batches.
 */
export async function runAttackAsync(
  attackOrName: Attack | string,
  inputs: AttackInputs,
  budgets: number[],
  settings: RunSettings = {},
): Promise<AttackResult> {
  const steps = attackSteps(attackOrName, inputs, budgets, settings);
  let r = steps.next();
  while (!r.done) {
    await new Promise((resolve) => setImmediate(resolve));
    r = steps.next();
  }
  return r.value;
}

/** The work of runAttack, one batch per step. */
function* attackSteps(
  attackOrName: Attack | string,
  inputs: AttackInputs,
  budgets: number[],
  settings: RunSettings,
): Generator<void, AttackResult, void> {
  const attack = typeof attackOrName === 'string' ? getAttack(attackOrName) : attackOrName;
  validateBudgets(attack, budgets);
  const opts = runOptions(attack, settings);
  const size = checkInputs(inputs);
  const n = inputs.labels.length;
  const k = inputs.model.outputs[0]!.shape[1] as number;
  const per = budgets.map((budget): BudgetResult => ({
    budget,
    radius: attack.radius(budget, opts),
    raw: new Float32Array(n * size),
    clipped: new Float32Array(n * size),
    evaluated: opts.clip ? 'clipped' : 'raw',
    success: new Uint8Array(n),
    predicted: new Int32Array(n),
    distance: new Float64Array(n),
    loss: new Float64Array(n),
    logits: new Float32Array(n * k),
  }));
  const cleanPredicted = new Int32Array(n);
  const cleanLogits = new Float32Array(n * k);
  const parts = batches(n, Number(opts.batchSize) || 100);
  let done = 0;
  for (const [s0, s1] of parts) {
    if (settings.signal?.aborted) throw new Cancelled();
    const ctx = batchContext(inputs, size, s0, s1, `${attack.name}:${opts.seed}:${(settings.firstSample ?? 0) + s0}`);
    ctx.note = (detail) => settings.onProgress?.(done, parts.length * per.length, detail);
    const state: Parameters<typeof adversarialsAt>[4] = {};
    try {
      const clean = logitsOf(ctx.model, ctx.x);
      cleanLogits.set(clean, s0 * k);
      cleanPredicted.set(argmaxRows(clean, k), s0);
      for (const b of per) {
        const { raw, clipped } = adversarialsAt(attack, ctx, opts, b.radius, state);
        const evaluated = b.evaluated === 'clipped' ? clipped : raw;
        const logits = tf.tidy(() => logitsOf(ctx.model, tf.tensor4d(evaluated, ctx.x.shape)));
        const pred = argmaxRows(logits, k);
        const dist = distances(evaluated, ctx.xData, size, attack.norm);
        const ce = crossEntropyRows(logits, ctx.labels, k);
        b.raw.set(raw, s0 * size);
        b.clipped.set(clipped, s0 * size);
        b.logits.set(logits, s0 * k);
        b.predicted.set(pred, s0);
        b.distance.set(dist, s0);
        b.loss.set(ce, s0);
        for (let i = 0; i < s1 - s0; i++) b.success[s0 + i] = isAdversarial(pred[i]!, ctx.labels[i]!, ctx.targets?.[i]) ? 1 : 0;
        done++;
        settings.onProgress?.(done, parts.length * per.length);
      }
    } finally {
      state.plan?.dispose();
      ctx.x.dispose();
    }
    yield;
  }
  return {
    attack: attack.name,
    norm: attack.norm,
    budgetUnit: attack.budgetUnit(opts),
    options: opts,
    cleanPredicted,
    cleanLogits,
    budgets: per,
  };
}

/** The closest adversarial per sample by the attack's own search (paper Table 1). */
export function minimalAdversarial(attackOrName: Attack | string, inputs: AttackInputs, settings: RunSettings = {}): MinimalResult {
  const attack = typeof attackOrName === 'string' ? getAttack(attackOrName) : attackOrName;
  const opts = runOptions(attack, settings);
  const size = checkInputs(inputs);
  const n = inputs.labels.length;
  const k = inputs.model.outputs[0]!.shape[1] as number;
  const adv = new Float32Array(n * size);
  const found = new Uint8Array(n);
  const distance = new Float64Array(n).fill(NaN);
  const cleanPredicted = new Int32Array(n);
  const parts = batches(n, Number(opts.batchSize) || 100);
  parts.forEach(([s0, s1], bi) => {
    if (settings.signal?.aborted) throw new Cancelled();
    const ctx = batchContext(inputs, size, s0, s1, `${attack.name}:min:${opts.seed}:${(settings.firstSample ?? 0) + s0}`);
    ctx.note = (detail) => settings.onProgress?.(bi, parts.length, detail);
    try {
      cleanPredicted.set(argmaxRows(logitsOf(ctx.model, ctx.x), k), s0);
      const r =
        attack.kind === 'one-step'
          ? oneStepSearch(attack, ctx, opts)
          : attack.kind === 'iterative'
            ? iterativeSearch(attack, ctx, opts)
            : attack.minimize(ctx, opts);
      // Re-check by running the model on exactly what is reported.
      const pred = tf.tidy(() => argmaxRows(logitsOf(ctx.model, tf.tensor4d(r.adv, ctx.x.shape)), k));
      const d = distances(r.adv, ctx.xData, size, attack.norm);
      for (let i = 0; i < s1 - s0; i++) {
        const ok = r.found[i] === 1 && isAdversarial(pred[i]!, ctx.labels[i]!, ctx.targets?.[i]);
        found[s0 + i] = ok ? 1 : 0;
        distance[s0 + i] = ok ? d[i]! : NaN;
      }
      adv.set(r.adv, s0 * size);
    } finally {
      ctx.x.dispose();
    }
    settings.onProgress?.(bi + 1, parts.length);
  });
  return { attack: attack.name, norm: attack.norm, options: opts, adv, found, distance, cleanPredicted };
}
