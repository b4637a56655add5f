import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { TransferEval, TransferRow } from '../../runs/evals';
import type { AttackOptions } from '../../runs/evals';
import { getAttack } from '../attacks/registry';
import { minimalAdversarial, runAttack, validateBudgets } from '../attacks/run';
import { argmaxRows, logitsOf } from '../models/predict';
import { InputError } from '../errors';
import { wilsonInterval } from '../../shared/stats';
import { imageSizeOf, rowsOf } from './common';
import { makeProvenance, samplesOf, selectIndices, splitOf, type EvalRun, type EvalRequestBase } from './runModel';
import { assertEvalName, withEvalLock, writeEval } from './store';
import { evalNameFrom } from '../../protocol/names';

/**
 * Transfer (black-box) evaluation, the paper's Table 2: adversarial examples crafted on one model,
 * classified by the other, in both directions. On the samples both models classify correctly, the
 * attack runs on the source (its minimum-distance search as in the paper, or a fixed budget);
 * the target's accuracy is measured on the examples that fooled the source.
 */
export interface TransferRequest extends EvalRequestBase {
  attack: string;
  /** Fixed budget; absent = the attack's minimum-distance search. */
  budget?: number;
  options?: AttackOptions;
}

function sameData(a: EvalRun, b: EvalRun): void {
  const da = a.data.test;
  const db = b.data.test;
  if (a.config.dataset !== b.config.dataset || da.imageShape.join() !== db.imageShape.join() || da.numClasses !== db.numClasses) {
    throw new InputError(
      `transfer needs two runs on the same dataset: ${a.runDir} uses ${a.config.dataset} [${da.imageShape}], ${b.runDir} uses ${b.config.dataset} [${db.imageShape}]`,
    );
  }
}

export async function transferRun(from: EvalRun, to: EvalRun, req: TransferRequest): Promise<{ files: string[]; result: TransferEval }> {
  assertEvalName(req.name);
  const attackName = getAttack(req.attack).name;
  const nameFor = (other: EvalRun) => req.name ?? evalNameFrom('transfer', attackName, path.basename(other.runDir));
  // Both runs get a result: hold both names from the start.
  return withEvalLock(from.runDir, nameFor(to), `transfer ${attackName}`, () =>
    withEvalLock(to.runDir, nameFor(from), `transfer ${attackName}`, () => transferLocked(from, to, req, nameFor)),
  );
}

async function transferLocked(
  from: EvalRun,
  to: EvalRun,
  req: TransferRequest,
  nameFor: (other: EvalRun) => string,
): Promise<{ files: string[]; result: TransferEval }> {
  const started = Date.now();
  sameData(from, to);
  const attack = getAttack(req.attack);
  if (req.budget !== undefined) validateBudgets(attack, [req.budget]);
  const d = splitOf(from, req.selection.split);
  const size = imageSizeOf(d);
  const indices = selectIndices(d, req.selection);
  const { x, labels } = samplesOf(d, indices);
  const predict = (run: EvalRun, data: Float32Array, n: number) =>
    tf.tidy(() => argmaxRows(logitsOf(run.model, tf.tensor4d(data, [n, ...d.imageShape])), d.numClasses));
  const pf = predict(from, x, indices.length);
  const pt = predict(to, x, indices.length);
  const both = indices.map((_, i) => i).filter((i) => pf[i] === labels[i] && pt[i] === labels[i]);
  if (both.length === 0) throw new InputError('the two models classify none of the samples both correctly');
  const seed = req.seed ?? 0;
  const xs = rowsOf(x, both, size);
  const ys = Int32Array.from(both, (i) => labels[i]!);
  let options: AttackOptions = {};
  const direction = (source: EvalRun, target: EvalRun, step: number): TransferRow => {
    req.onProgress?.(`${attack.name}: crafting on ${path.basename(source.runDir)}`, step / 2);
    const inputs = { model: source.model, x: xs, shape: d.imageShape, labels: ys };
    const settings = {
      ...(req.options ? { options: req.options } : {}),
      seed,
      ...(req.batchSize ? { batchSize: req.batchSize } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      onProgress: (done: number, total: number, detail?: string) =>
        req.onProgress?.(
          `${attack.name}: crafting on ${path.basename(source.runDir)}, batch ${Math.min(done + 1, total)}/${total}${detail ? `, ${detail}` : ''}`,
          (step + done / total) / 2,
        ),
    };
    let adv: Float32Array;
    let ok: Uint8Array;
    if (req.budget === undefined) {
      const r = minimalAdversarial(attack, inputs, settings);
      adv = r.adv;
      ok = r.found;
      options = r.options;
    } else {
      const r = runAttack(attack, inputs, [req.budget], settings);
      const b = r.budgets[0]!;
      adv = b.evaluated === 'clipped' ? b.clipped : b.raw;
      ok = b.success;
      options = r.options;
    }
    const fooled = both.map((_, j) => j).filter((j) => ok[j]);
    const pred = fooled.length ? predict(target, rowsOf(adv, fooled, size), fooled.length) : new Int32Array(0);
    let right = 0;
    fooled.forEach((j, m) => (right += pred[m] === ys[j] ? 1 : 0));
    return {
      attack: attack.name,
      source: path.basename(source.runDir),
      target: path.basename(target.runDir),
      samples: fooled.length,
      sourceAccuracy: (both.length - fooled.length) / both.length,
      targetAccuracy: fooled.length ? right / fooled.length : NaN,
      targetAccuracyCi: wilsonInterval(right, fooled.length),
      crafted: both.length,
      ...(req.budget !== undefined ? { budget: req.budget } : {}),
      sourceRunDir: source.runDir,
      targetRunDir: target.runDir,
    };
  };
  const results = [direction(from, to, 0), direction(to, from, 1)];
  const files: string[] = [];
  let result: TransferEval | undefined;
  for (const [self, other] of [
    [from, to],
    [to, from],
  ] as const) {
    const r: TransferEval = {
      kind: 'transfer',
      provenance: makeProvenance('transfer', self, req.selection.split, indices, seed, started, req.command),
      otherRunDir: other.runDir,
      results,
      otherCheckpoint: other.checkpoint,
      otherCheckpointSha256: other.checkpointSha256,
      options,
    };
    result ??= r;
    files.push(writeEval(self.runDir, nameFor(other), r));
  }
  return { files, result: result! };
}
