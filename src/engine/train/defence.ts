import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { defenceProblem } from '../../runs/defence';
import type { DefenceConfig } from '../../runs/types';
import { spectralDefence } from './spectral';
import { traceScaledDefence } from './traceScaled';
import { tradesDefence } from './trades';

/**
 * A defence's extra loss term, in two parts per batch: `prepare` does the work that needs no
 * weight gradient (λmax eigenvectors, TRADES' inner PGD, probe directions) before the gradient
 * tape opens, and its `penalty` is evaluated inside the tape, from the batch's training-mode
 * logits, and added to the loss (docs/defences.md).
 */
export interface BatchDefence {
  prepare(x: tf.Tensor4D, y: tf.Tensor1D, ctx: { seed: number; step: number }): PreparedPenalty;
}

export interface PreparedPenalty {
  /** The weighted penalty, a scalar. */
  penalty(logits: tf.Tensor2D): tf.Scalar;
  /** Frees what `prepare` made. */
  dispose(): void;
}

export function validateDefence(d: DefenceConfig): void {
  const p = defenceProblem(d);
  if (p) throw new RangeError(p);
}

/** The defence a run's config asks for (validated), or null for the trace term / baseline. */
export function makeDefence(model: tfl.LayersModel, d: DefenceConfig | undefined): BatchDefence | null {
  if (!d) return null;
  validateDefence(d);
  switch (d.kind) {
    case 'spectral':
      return spectralDefence(model, d);
    case 'trades':
      return tradesDefence(model, d);
    case 'trace-scaled':
      return traceScaledDefence(model, d);
  }
}
