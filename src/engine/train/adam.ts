import * as tf from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, adamUpdate } from '../backend/kernels/AdamUpdate';
import { OPTIMIZER_SCOPE } from '../backend/profile';

/**
 * Adam (Kingma & Ba) with PyTorch's update rule and fully checkpointable state:
 *
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
 *   θ ← θ − (lr / (1−β1^t)) · m / (sqrt(v) / sqrt(1−β2^t) + ε)
 *
 * tfjs's own Adam keeps β^t in float32 variables that it does not save and recomputes on
 * restore, so a resumed run drifts from an uninterrupted one. Here the bias corrections are
 * computed from the step count in float64 each step, so `--resume` replays training exactly.
 */
export interface AdamState {
  step: number;
  /** First and second moments, in the order of the variables passed to `applyGradients`. */
  m: tf.Tensor[];
  v: tf.Tensor[];
}

export class Adam {
  private step = 0;
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];

  constructor(
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-8,
  ) {}

  /** Applies one update; `vars[i]` receives `grads[i]`. */
  applyGradients(vars: tf.Variable[], grads: tf.Tensor[]): void {
    if (this.m.length === 0) {
      this.m = vars.map((x) => tf.variable(tf.zerosLike(x), false));
      this.v = vars.map((x) => tf.variable(tf.zerosLike(x), false));
    }
    if (this.m.length !== vars.length) throw new Error(`Adam state has ${this.m.length} moments but ${vars.length} variables were given`);
    this.step++;
    const bc1 = 1 - Math.pow(this.beta1, this.step);
    const bc2 = 1 - Math.pow(this.beta2, this.step);
    const stepSize = this.learningRate / bc1;
    const invSqrtBc2 = 1 / Math.sqrt(bc2);
    // One kernel per variable where the backend has it (the same float32 arithmetic as the ops
    // below, bit for bit); a named scope, so that a kernel profile tells the update's kernels apart.
    const fused = tf.getKernel(ADAM_UPDATE, tf.getBackend()) !== undefined;
    tf.tidy(OPTIMIZER_SCOPE, () => {
      for (let i = 0; i < vars.length; i++) {
        if (fused && vars[i]!.dtype === 'float32') {
          const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, stepSize, invSqrtBc2 };
          const [p, m, v] = adamUpdate(vars[i]!, grads[i]!, this.m[i]!, this.v[i]!, attrs);
          this.m[i]!.assign(m);
          this.v[i]!.assign(v);
          vars[i]!.assign(p);
          continue;
        }
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.m[i]!, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i]!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        const denom = tf.add(tf.mul(tf.sqrt(v), invSqrtBc2), this.epsilon);
        vars[i]!.assign(tf.sub(vars[i]!, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  getState(): AdamState {
    return { step: this.step, m: [...this.m], v: [...this.v] };
  }

  /** Restores a saved state; the tensors are copied into the optimiser's own variables. */
  setState(s: AdamState): void {
    this.dispose();
    this.step = s.step;
    this.m = s.m.map((t) => tf.variable(t, false));
    this.v = s.v.map((t) => tf.variable(t, false));
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
    this.m = [];
    this.v = [];
  }
}
