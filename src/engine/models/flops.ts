import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Floating-point operations per sample of a model, from its layers' shapes, for the benchmark's
 * achieved fraction of the machine's peak (bench/README.md). Only the multiply-adds of
 * convolutions and dense layers are counted (a multiply-add is 2 operations): they are the
 * arithmetic an FMA unit can do, and all but a few percent of this project's models' work.
 * Batch norm, activations, pooling and the loss are memory-bound and left out.
 *
 * A training step is the forward pass plus, per layer, the weight gradient (as many
 * multiply-adds as the forward pass) and the gradient with respect to the layer's input (as
 * many again), except for the first layer, whose input gradient no trainer computes.
 */
export interface ModelFlops {
  /** Operations of one forward pass, per sample. */
  forward: number;
  /** Operations of one training step (forward and backward), per sample. */
  train: number;
  /** Per counted layer: its name and forward multiply-adds per sample. */
  layers: { name: string; macs: number }[];
}

interface LayerLike {
  name: string;
  getClassName(): string;
  outputShape: unknown;
  getWeights(): { shape: number[] }[];
  getConfig(): Record<string, unknown>;
}

const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** Forward multiply-adds per sample of one layer, or 0 for layers that are not counted. */
function layerMacs(layer: LayerLike): number {
  const cls = layer.getClassName();
  const out = layer.outputShape as (number | null)[];
  const kernel = layer.getWeights()[0]?.shape;
  if (!kernel || !Array.isArray(out)) return 0;
  const spatial = out.slice(1, -1).map((d) => d ?? 0);
  switch (cls) {
    case 'Conv2D':
    case 'Conv1D':
    case 'Conv3D':
      // kernel [...window, CI, CO]: every output element is window·CI multiply-adds.
      return product(spatial) * product(kernel);
    case 'DepthwiseConv2D':
      // kernel [FH, FW, CI, multiplier]: one window per output channel.
      return product(spatial) * product(kernel);
    case 'Dense':
      // kernel [in, units], applied to every position of the leading axes.
      return product(spatial) * product(kernel);
    default:
      return 0;
  }
}

export function modelFlops(model: tfl.LayersModel): ModelFlops {
  const layers = (model.layers as unknown as LayerLike[]).map((l) => ({ name: l.name, macs: layerMacs(l) })).filter((l) => l.macs > 0);
  const macs = layers.reduce((a, l) => a + l.macs, 0);
  const firstInputGradient = layers[0]?.macs ?? 0;
  return { forward: 2 * macs, train: 2 * (3 * macs - firstInputGradient), layers };
}
