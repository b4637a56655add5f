import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * The input Fisher information along a direction, vᵀ G_x v, as a differentiable function of the
 * model's weights (docs/defences.md). With δz = Z v the directional derivative of the logits
 * (Z = ∂z/∂x) and g_i = ∇_x log p_i = Z_i − Σ_j p_j Z_j (design §1):
 *
 *   vᵀ G_x v = Σ_i p_i (g_iᵀ v)² = Σ_i p_i (δz_i − Σ_j p_j δz_j)² = Var_{i∼p}(δz_i).
 *
 * δz comes from a central difference, (z(x + h v) − z(x − h v)) / 2h, and p from the midpoint
 * logits (z(x + h v) + z(x − h v)) / 2: both are plain forward passes, so the weight gradient is
 * ordinary backpropagation through two forward passes, with no second-order autodiff (tfjs has
 * no gradient for several gradient kernels, e.g. MaxPoolGrad). For a ReLU network z is piecewise
 * linear in x, and both are exact while no unit changes sign within h of x along v; otherwise they
 * are the average slope over [x − hv, x + hv]. The passes run in inference mode (batch norm with
 * its moving statistics), so the quantity is the one `fim inspect` reports, per sample.
 *
 * `transform` maps the logits before the softmax (the trace-scaled defence normalises them).
 */
export function directionalFisher(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  directions: tf.Tensor4D,
  h: number,
  transform?: (z: tf.Tensor2D) => tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const step = tf.mul(directions, h);
    const both = tf.concat([tf.add(x, step), tf.sub(x, step)], 0);
    let z = model.apply(both, { training: false }) as tf.Tensor2D;
    if (transform) z = transform(z);
    const k = z.shape[1];
    const zp = tf.slice(z, [0, 0], [n, k]);
    const zm = tf.slice(z, [n, 0], [n, k]);
    const dz = tf.div(tf.sub(zp, zm), 2 * h);
    const p = tf.softmax(tf.mul(tf.add(zp, zm), 0.5));
    const centred = tf.sub(dz, tf.sum(tf.mul(p, dz), 1, true));
    return tf.sum<tf.Tensor1D>(tf.mul(p, tf.square(centred)), 1);
  });
}
