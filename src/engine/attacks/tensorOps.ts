import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { NormName } from '../../runs/evals';
import { inputVjp } from '../layers/inputVjp';

/**
 * Per-sample tensor helpers shared by the attacks: losses to ascend, direction normalisation,
 * projection onto norm balls and distances. Tensors are [n, H, W, C]; per-sample scalars are [n].
 */

/** Loss an attack ascends: cross-entropy, or Carlini–Wagner's logit margin. */
export type AttackLoss = 'ce' | 'margin';

/** Large enough to mask a logit out of a max, small enough to stay finite in float32. */
const MASK = 1e9;

/**
 * Cross-entropy −log p_c per row with a gradient that stays right when p_c rounds to 1 in float32.
 * The textbook gradient p − e_c then loses its c-th entry (1 − p_c = 0) while the other entries
 * p_j ≈ 1e-9 survive, so the input gradient points along Σ p_j ∇z_j instead of Σ p_j (∇z_j − ∇z_c),
 * a different direction, on exactly the samples a baseline is surest of. Here the c-th entry is
 * −Σ_{j≠c} p_j.
 */
const stableCrossEntropy = tf.customGrad(((logits: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
  const lse = tf.logSumExp(logits, 1);
  const value = tf.sub(lse, tf.sum(tf.mul(logits, onehot), 1));
  const p = tf.exp(tf.sub(logits, tf.expandDims(lse, 1)));
  save([p, onehot]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [prob, oh] = saved as [tf.Tensor, tf.Tensor];
      const others = tf.mul(prob, tf.sub(1, oh));
      const dz = tf.sub(others, tf.mul(oh, tf.sum(others, 1, true)));
      return [tf.mul(dz, tf.expandDims(dy, 1)), tf.zerosLike(oh)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Per-sample objective to maximise. Untargeted (class = true label): CE(z, y) or
 * max_{j≠y} z_j − z_y. Targeted (class = target): −CE(z, t) or z_t − max_{j≠t} z_j.
 */
export function attackObjective(logits: tf.Tensor2D, classes: tf.Tensor1D, loss: AttackLoss, targeted: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const oh = tf.cast(tf.oneHot(classes, k), 'float32');
    if (loss === 'ce') {
      const ce = stableCrossEntropy(logits, oh) as tf.Tensor1D;
      return targeted ? tf.neg(ce) : ce;
    }
    const zc = tf.sum(tf.mul(logits, oh), 1);
    const other = tf.max(tf.sub(logits, tf.mul(oh, MASK)), 1);
    return targeted ? tf.sub(zc, other) : tf.sub(other, zc);
  });
}

export interface ObjectiveGradient {
  grad: tf.Tensor4D;
  objective: tf.Tensor1D;
  logits: tf.Tensor2D;
}

/**
 * The objective and its gradient with respect to the logits, per row, in float64 from the
 * float32 logits: the same values and gradients as attackObjective and tfjs's gradients of it
 * (stableCrossEntropy's gradient; tf.max's, which gives every tied maximum the full gradient).
 */
export function objectiveAndLogitGradient(
  z: Float32Array,
  classes: Int32Array,
  k: number,
  loss: AttackLoss,
  targeted: boolean,
): { objective: Float32Array; dz: Float32Array } {
  const n = classes.length;
  const objective = new Float32Array(n);
  const dz = new Float32Array(n * k);
  const sign = targeted ? -1 : 1;
  for (let s = 0; s < n; s++) {
    const o = s * k;
    const c = classes[s]!;
    if (loss === 'ce') {
      let max = -Infinity;
      for (let i = 0; i < k; i++) max = Math.max(max, z[o + i]!);
      let sum = 0;
      for (let i = 0; i < k; i++) sum += Math.exp(z[o + i]! - max);
      const lse = max + Math.log(sum);
      objective[s] = sign * (lse - z[o + c]!);
      let others = 0;
      for (let i = 0; i < k; i++) {
        if (i === c) continue;
        const p = Math.exp(z[o + i]! - lse);
        dz[o + i] = sign * p;
        others += p;
      }
      dz[o + c] = -sign * others;
    } else {
      let max = -Infinity;
      for (let i = 0; i < k; i++) max = Math.max(max, i === c ? Math.fround(z[o + i]! - MASK) : z[o + i]!);
      // margin = max_{j≠c} z_j − z_c (untargeted), z_c − max_{j≠c} z_j (targeted)
      objective[s] = sign * (max - z[o + c]!);
      for (let i = 0; i < k; i++) {
        const v = i === c ? Math.fround(z[o + i]! - MASK) : z[o + i]!;
        dz[o + i] = v === max ? sign : 0;
      }
      dz[o + c]! -= sign;
    }
  }
  return { objective, dz };
}

/** Gradient of the per-sample objective w.r.t. the input (samples are independent in inference mode). */
export function objectiveGradient(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  classes: tf.Tensor1D,
  loss: AttackLoss,
  targeted: boolean,
): ObjectiveGradient {
  // One forward pass and one backward pass without the gradient tape where the model allows it
  // (layers/inputVjp.ts), the objective's gradient in closed form from the logits.
  let qualifies = true;
  const fast = tf.tidy(() => {
    const v = inputVjp(model, x);
    if (!v) {
      qualifies = false;
      return {};
    }
    const k = v.output.shape[1];
    const { objective, dz } = objectiveAndLogitGradient(
      v.output.dataSync() as Float32Array,
      classes.dataSync() as Int32Array,
      k,
      loss,
      targeted,
    );
    return { grad: v.backward(tf.tensor2d(dz, [x.shape[0], k])), objective: tf.tensor1d(objective), logits: v.output };
  });
  if (qualifies) return fast as unknown as ObjectiveGradient;
  let objective: tf.Tensor1D | undefined;
  let logits: tf.Tensor2D | undefined;
  const grad = tf.grad((t: tf.Tensor) => {
    const z = model.apply(t, { training: false }) as tf.Tensor2D;
    const o = attackObjective(z, classes, loss, targeted);
    logits = tf.keep(z);
    objective = tf.keep(o);
    return tf.sum<tf.Scalar>(o);
  })(x) as tf.Tensor4D;
  return { grad, objective: objective!, logits: logits! };
}

/** Per-sample l1 / l2 / l∞ norms of a [n, ...] tensor, shape [n]. */
export function perSampleNorm(t: tf.Tensor, norm: Exclude<NormName, 'l0'>): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(t, [t.shape[0], -1]);
    if (norm === 'linf') return tf.max<tf.Tensor1D>(tf.abs(flat), 1);
    if (norm === 'l1') return tf.sum<tf.Tensor1D>(tf.abs(flat), 1);
    return tf.sqrt(tf.sum(tf.square(flat), 1)) as tf.Tensor1D;
  });
}

function perSample(v: tf.Tensor1D | Float32Array, n: number): tf.Tensor4D {
  return tf.tidy(() => tf.reshape<tf.Rank.R4>(v instanceof Float32Array ? tf.tensor1d(v) : v, [n, 1, 1, 1]));
}

/**
 * sign(t) by comparisons: the wasm backend's Sign kernel returns 0 for |t| < ~1.2e-7 (FLT_EPSILON),
 * and a confident model's input gradients are often that small, so tf.sign would silently stop
 * FGSM/BIM/PGD on exactly the samples a baseline is most sure of.
 */
export function exactSign(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(t, 0), 'float32'), tf.cast(tf.less(t, 0), 'float32')));
}

/** Unit step direction: sign(g) for l∞, g/‖g‖ for l1 and l2 (Foolbox 3's normalisation). */
export function normalizeDirection(g: tf.Tensor4D, norm: Exclude<NormName, 'l0'>): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return exactSign(g) as tf.Tensor4D;
    const n = perSampleNorm(g, norm);
    return tf.div<tf.Tensor4D>(g, perSample(tf.maximum<tf.Tensor1D>(n, 1e-12), g.shape[0]));
  });
}

/** Projects perturbations onto per-sample norm balls of radius eps (l1 and l2 by rescaling, as Foolbox does). */
export function projectToBall(delta: tf.Tensor4D, eps: Float32Array, norm: Exclude<NormName, 'l0'>): tf.Tensor4D {
  return tf.tidy(() => {
    const n = delta.shape[0];
    const e = perSample(eps, n);
    if (norm === 'linf') return tf.minimum<tf.Tensor4D>(tf.maximum(delta, tf.neg(e)), e);
    const size = perSample(tf.maximum<tf.Tensor1D>(perSampleNorm(delta, norm), 1e-12), n);
    return tf.mul<tf.Tensor4D>(delta, tf.minimum(tf.div(e, size), 1));
  });
}

/** x + ε·d per sample. */
export function addScaled(x: tf.Tensor4D, d: tf.Tensor4D, eps: Float32Array): tf.Tensor4D {
  return tf.tidy(() => tf.add<tf.Tensor4D>(x, tf.mul(d, perSample(eps, x.shape[0]))));
}

export function clipToBounds(x: tf.Tensor4D, bounds: [number, number]): tf.Tensor4D {
  return tf.clipByValue<tf.Tensor4D>(x, bounds[0], bounds[1]);
}

/** Per-sample distance of two flat batches in a norm, in float64 (l0 counts changed elements). */
export function distances(a: Float32Array, b: Float32Array, size: number, norm: NormName): Float64Array {
  const n = a.length / size;
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let acc = 0;
    for (let t = s * size; t < (s + 1) * size; t++) {
      const d = Math.abs(a[t]! - b[t]!);
      if (norm === 'l0') acc += d > 0 ? 1 : 0;
      else if (norm === 'l1') acc += d;
      else if (norm === 'l2') acc += d * d;
      else acc = Math.max(acc, d);
    }
    out[s] = norm === 'l2' ? Math.sqrt(acc) : acc;
  }
  return out;
}

/** Per-sample cross-entropy −log p_y of flat logits, in float64. */
export function crossEntropyRows(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let max = -Infinity;
    for (let i = 0; i < k; i++) max = Math.max(max, logits[s * k + i]!);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += Math.exp(logits[s * k + i]! - max);
    out[s] = max + Math.log(sum) - logits[s * k + labels[s]!]!;
  }
  return out;
}
