import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { SpectralDefence } from '../../runs/types';
import { directionalFisher } from '../fim/directionalFisher';
import { inputFimTopEigen } from '../fim/inputFim';
import type { BatchDefence } from './defence';

/**
 * The spectral defence: CE + w · mean λmax(G_x), the loss the paper writes as its eq. (2) and
 * replaces by the trace bound because it looked intractable (docs/defences.md).
 *
 * Value: λmax(G_x) and its unit eigenvector v, exactly, from the K×K Gram reduction of
 * inputFim.ts (one batched logit Jacobian in inference mode, outside the gradient tape).
 *
 * Gradient: for a simple top eigenvalue, ∂λmax/∂θ = vᵀ (∂G_x/∂θ) v with v held fixed (first-order
 * eigenvalue perturbation, the Hellmann–Feynman theorem), because the Rayleigh quotient is
 * stationary at its maximiser. So inside the tape the penalty is vᵀ G_x(θ) v for the constant v,
 * computed by directionalFisher (two forward passes); its value equals λmax(G_x) up to the central
 * difference, and its weight gradient is the gradient of λmax(G_x).
 */
export function spectralDefence(model: tfl.LayersModel, d: SpectralDefence): BatchDefence {
  return {
    prepare(x) {
      const n = x.shape[0];
      const xs = d.rows > 0 && d.rows < n ? tf.slice(x, [0, 0, 0, 0], [d.rows, -1, -1, -1]) : x;
      const eig = inputFimTopEigen(model, xs);
      const v = tf.tensor4d(eig.eigenvectors, xs.shape);
      return {
        penalty: () => tf.tidy(() => tf.mul<tf.Scalar>(tf.mean(directionalFisher(model, xs, v, d.fdStep)), d.weight)),
        dispose: () => {
          v.dispose();
          if (xs !== x) xs.dispose();
        },
      };
    },
  };
}
