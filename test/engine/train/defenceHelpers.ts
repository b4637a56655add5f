/**
 * Helpers for the defences' gradient checks: the tiny model's trainable weights as named
 * coordinates, read and nudged one at a time, so a penalty's weight gradient can be compared
 * with central differences of an independent float64 computation (test/engine/fim/reference.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface Coordinate {
  /** Layer index, weight index within the layer's getWeights(), flat element index. */
  layer: number;
  weight: number;
  index: number;
  label: string;
}

/** A spread of coordinates over the tiny conv net: conv kernel and bias, BN γ and β, dense kernel and bias. */
export function sampleCoordinates(model: tfl.LayersModel): Coordinate[] {
  const out: Coordinate[] = [];
  model.layers.forEach((layer, li) => {
    const trainable = new Set(layer.trainableWeights.map((w) => w.name));
    layer.weights.forEach((w, wi) => {
      if (!trainable.has(w.name)) return;
      const size = w.shape.reduce((a, b) => a! * b!, 1)!;
      for (const index of [0, Math.floor(size / 2), size - 1])
        out.push({ layer: li, weight: wi, index, label: `${layer.getClassName()}[${wi}][${index}]` });
    });
  });
  return out;
}

/** Adds `delta` to one coordinate (in place; pass −delta to undo). */
export function nudge(model: tfl.LayersModel, c: Coordinate, delta: number): void {
  const layer = model.layers[c.layer]!;
  const ws = layer.getWeights();
  const values = ws.map((t) => Float32Array.from(t.dataSync()));
  values[c.weight]![c.index]! += delta;
  const fresh = values.map((v, i) => tf.tensor(v, ws[i]!.shape));
  layer.setWeights(fresh);
  tf.dispose(fresh);
}

/** Gradient of a scalar of the model's trainable weights at the given coordinates. */
export function weightGradient(model: tfl.LayersModel, f: () => tf.Scalar, coords: Coordinate[]): number[] {
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const { grads, value } = tf.variableGrads(f, vars);
  const out = coords.map((c) => {
    const w = model.layers[c.layer]!.weights[c.weight]!;
    const g = grads[(w as unknown as { val: tf.Variable }).val.name];
    return g ? g.dataSync()[c.index]! : 0;
  });
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** Central difference of a float64 function of the weights at each coordinate. */
export function centralDifferences(model: tfl.LayersModel, f: () => number, coords: Coordinate[], delta: number): number[] {
  return coords.map((c) => {
    nudge(model, c, delta);
    const plus = f();
    nudge(model, c, -2 * delta);
    const minus = f();
    nudge(model, c, delta);
    return (plus - minus) / (2 * delta);
  });
}

/** Asserts two gradients agree to `rel` of the larger gradient's scale, naming the worst coordinate. */
export function assertGradientsClose(got: number[], want: number[], coords: Coordinate[], rel: number): void {
  const scale = Math.max(...want.map(Math.abs));
  if (!(scale > 0)) throw new Error('the reference gradient is zero: the check could not fail');
  let worst = 0;
  let at = 0;
  got.forEach((g, i) => {
    const e = Math.abs(g - want[i]!);
    if (e > worst) {
      worst = e;
      at = i;
    }
  });
  if (process.env.FIM_TEST_VERBOSE) console.log(`worst gradient error ${(worst / scale).toExponential(2)} of scale ${scale}`);
  if (worst > rel * scale)
    throw new Error(`gradient at ${coords[at]!.label}: ${got[at]} vs finite differences ${want[at]} (scale ${scale})`);
}
