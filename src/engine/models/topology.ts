import type { LayerJson, TopologyJson } from './builtin';
import { ModelDefinitionError } from './errors';

/**
 * Edits on a Keras/tfjs topology JSON, done before the model is built so that one code path
 * serves built-in definitions, user model.json files and models built by user modules.
 */

const SEEDED_INITIALIZERS = new Set([
  'VarianceScaling',
  'GlorotUniform',
  'GlorotNormal',
  'HeUniform',
  'HeNormal',
  'LecunUniform',
  'LecunNormal',
  'RandomUniform',
  'RandomNormal',
  'TruncatedNormal',
  'Orthogonal',
]);

function layersOf(topology: TopologyJson): LayerJson[] {
  const layers = topology.config.layers;
  if (!Array.isArray(layers)) throw new ModelDefinitionError(`the model topology (class ${String(topology.class_name)}) has no layer list`);
  return layers;
}

/**
 * Gives every random initializer a seed derived from `seed`, so that `--seed` fixes the initial
 * weights (tfjs's initializers draw from Math.random when their seed is null).
 */
export function seedInitializers(topology: TopologyJson, seed: number): TopologyJson {
  const copy = structuredClone(topology);
  let k = 0;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      const o = v as { class_name?: unknown; config?: Record<string, unknown> };
      if (typeof o.class_name === 'string' && SEEDED_INITIALIZERS.has(o.class_name) && o.config && 'seed' in o.config) {
        o.config.seed = (seed * 1000 + ++k) >>> 0;
      }
      Object.values(o).forEach(visit);
    }
  };
  visit(copy.config);
  return copy;
}

export interface SoftmaxStrip {
  topology: TopologyJson;
  /** What was changed, for the user; null when the model already outputs logits. */
  note: string | null;
}

/**
 * The engine needs logits: the trace term Σ 1/p_i and every FIM statistic are computed stably from
 * them (docs/design.md §1). A definition that ends in softmax is trained on the values before it.
 */
export function stripFinalSoftmax(topology: TopologyJson): SoftmaxStrip {
  const copy = structuredClone(topology);
  const layers = layersOf(copy);
  const isSoftmaxLayer = (l: LayerJson) =>
    l.class_name === 'Softmax' || (l.class_name === 'Activation' && l.config.activation === 'softmax');
  const layerName = (l: LayerJson) => (l.config.name as string | undefined) ?? l.name;

  let out: LayerJson | undefined;
  let outputRefs: unknown[][] | undefined;
  if (copy.class_name === 'Sequential') {
    out = layers[layers.length - 1];
  } else {
    outputRefs = copy.config.output_layers as unknown[][] | undefined;
    if (!outputRefs || outputRefs.length !== 1) return { topology: copy, note: null };
    out = layers.find((l) => layerName(l) === outputRefs![0]![0]);
  }
  if (!out) return { topology: copy, note: null };
  if (out.config.activation === 'softmax' && !isSoftmaxLayer(out)) {
    out.config.activation = 'linear';
    return { topology: copy, note: `final layer "${layerName(out)}" had a softmax activation; the engine uses its logits` };
  }
  if (!isSoftmaxLayer(out)) return { topology: copy, note: null };
  if (copy.class_name === 'Sequential') {
    layers.pop();
  } else {
    // Functional model: point the output at the softmax layer's input.
    const inbound = (out.inbound_nodes as unknown[][][] | undefined)?.[0]?.[0];
    if (!inbound) return { topology: copy, note: null };
    copy.config.output_layers = [[inbound[0], inbound[1] ?? 0, inbound[2] ?? 0]];
    copy.config.layers = layers.filter((l) => l !== out);
  }
  return { topology: copy, note: `final softmax layer "${layerName(out)}" removed; the engine uses the logits before it` };
}
