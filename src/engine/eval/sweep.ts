import * as tf from '@tensorflow/tfjs-core';
import type { AdversarialExample, SweepEval, SweepPoint } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { runAttack, validateBudgets } from '../attacks/run';
import { argmaxRows, logitsOf } from '../models/predict';
import { InputError } from '../errors';
import { mean, median, wilsonInterval } from '../../shared/stats';
import { cleanSet, imageSizeOf, rowsOf } from './common';
import { imagePng, signedPng } from './images';
import { makeProvenance, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { assertEvalName, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Fooling ratio vs budget for one attack (the paper's Fig. 3–5): among the samples the model
 * classifies correctly, the fraction whose prediction changes, with a 95% Wilson interval; plus
 * accuracy under attack over all evaluated samples and a few example images.
 */
export interface SweepRequest extends EvalRequestBase {
  attack: string;
  budgets: number[];
  options?: AttackOptions;
  clip?: boolean;
  /** Correctly classified samples to keep images of (per budget). */
  examples?: number;
}

export async function sweepRun(run: EvalRun, req: SweepRequest): Promise<{ file: string; result: SweepEval }> {
  assertEvalName(req.name);
  const started = Date.now();
  const attack = getAttack(req.attack);
  validateBudgets(attack, req.budgets);
  const d = splitOf(run, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const clean = cleanSet(run.model, d, indices);
  if (clean.correct.length === 0)
    throw new InputError(`the model classifies none of the ${indices.length} samples correctly; there is nothing to attack`);
  const seed = req.seed ?? 0;
  req.onProgress?.(`${attack.name}: attacking ${clean.correct.length} correctly classified of ${indices.length} samples`, 0);
  const res = runAttack(
    attack,
    {
      model: run.model,
      x: rowsOf(clean.x, clean.correct, size),
      shape: d.imageShape,
      labels: Int32Array.from(clean.correct, (i) => clean.labels[i]!),
    },
    req.budgets,
    {
      ...(req.options ? { options: req.options } : {}),
      seed,
      ...(req.batchSize ? { batchSize: req.batchSize } : {}),
      ...(req.clip !== undefined ? { clip: req.clip } : {}),
      onProgress: (done, total, detail) =>
        req.onProgress?.(`${attack.name}: ${done}/${total} batch×budget steps${detail ? `, ${detail}` : ''}`, done / total),
      ...(req.signal ? { signal: req.signal } : {}),
    },
  );
  const n = indices.length;
  const c = clean.correct.length;
  const name = req.name ?? evalNameFrom('sweep', attack.name);
  const images = new Map<string, Uint8Array>();
  const examples: AdversarialExample[] = [];
  const nEx = Math.min(req.examples ?? 4, c);
  const results: SweepPoint[] = res.budgets.map((b) => {
    const fooled = b.success.reduce((a, v) => a + v, 0);
    const point: SweepPoint = {
      budget: b.budget,
      foolingRatio: fooled / c,
      foolingRatioCi: wilsonInterval(fooled, c),
      fooled,
      accuracy: (c - fooled) / n,
      meanLoss: mean(b.loss),
      meanDistance: mean(b.distance),
      medianDistance: median(b.distance),
    };
    if (b.evaluated === 'raw') {
      // Report the clipped inputs too: values outside [0, 1] are not valid images.
      const pred = tf.tidy(() => argmaxRows(logitsOf(run.model, tf.tensor4d(b.clipped, [c, ...d.imageShape])), d.numClasses));
      let f = 0;
      clean.correct.forEach((i, j) => (f += pred[j] !== clean.labels[i] ? 1 : 0));
      point.clipped = { foolingRatio: f / c, foolingRatioCi: wilsonInterval(f, c), fooled: f, accuracy: (c - f) / n };
    }
    const evaluated = b.evaluated === 'clipped' ? b.clipped : b.raw;
    for (let j = 0; j < nEx; j++) {
      const i = clean.correct[j]!;
      const idx = indices[i]!;
      const orig = clean.x.subarray(i * size, (i + 1) * size);
      const adv = evaluated.subarray(j * size, (j + 1) * size);
      const delta = adv.map((v, t) => v - orig[t]!);
      const tag = `${name}/sample-${idx}`;
      const original = `${tag}.png`;
      if (!images.has(original)) images.set(original, imagePng(orig, d.imageShape));
      const perturbation = `${tag}-budget-${b.budget}-perturbation.png`;
      const adversarial = `${tag}-budget-${b.budget}-adversarial.png`;
      images.set(perturbation, signedPng(delta, d.imageShape));
      images.set(adversarial, imagePng(adv, d.imageShape));
      const k = d.numClasses;
      const softmax = (z: Float32Array) => {
        const m = Math.max(...z);
        const e = Array.from(z, (v) => Math.exp(v - m));
        const s = e.reduce((a, v) => a + v, 0);
        return e.map((v) => v / s);
      };
      examples.push({
        index: idx,
        label: clean.labels[i]!,
        budget: b.budget,
        original,
        perturbation,
        adversarial,
        predictedOriginal: res.cleanPredicted[j]!,
        predictedAdversarial: b.predicted[j]!,
        probsOriginal: softmax(res.cleanLogits.subarray(j * k, (j + 1) * k)),
        probsAdversarial: softmax(b.logits.subarray(j * k, (j + 1) * k)),
        distance: b.distance[j]!,
      });
    }
    return point;
  });
  const result: SweepEval = {
    kind: 'sweep',
    provenance: makeProvenance('sweep', run, req.selection.split, indices, seed, started, req.command),
    attack: attack.name,
    norm: attack.norm,
    budgetUnit: res.budgetUnit,
    clip: res.options.clip === true,
    samples: n,
    correct: c,
    cleanAccuracy: c / n,
    options: res.options,
    results,
    examples,
    classNames: d.classNames,
  };
  const file = writeEval(run.runDir, name, result, images);
  return { file, result };
}
