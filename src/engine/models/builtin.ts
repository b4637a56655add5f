import convnet from './definitions/convnet.json';
import resnet14 from './definitions/resnet14.json';
import vgg11 from './definitions/vgg11.json';

/**
 * Built-in model definitions, shipped as tfjs Layers `model.json` files (topology only): the same
 * format a user's Keras model converts to, so built-in and user definitions take one path.
 */
export interface BuiltinDefinition {
  name: string;
  description: string;
  /** The dataset the paper pairs it with. */
  defaultDataset: string;
  modelJson: LayersModelJson;
}

/** The parts of a tfjs Layers model.json the engine reads. */
export interface LayersModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: TopologyJson;
  weightsManifest?: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

export interface TopologyJson {
  class_name: string;
  config: Record<string, unknown> & { layers?: LayerJson[]; name?: string };
  keras_version?: string;
  backend?: string;
}

export interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

const BUILTINS: BuiltinDefinition[] = [
  {
    name: 'convnet',
    description:
      "The paper's MNIST ConvNet: 2 × (conv 3×3 + BN + ReLU + 2×2 max-pool), 32 and 64 filters, one dense layer to 10 logits; initialised with PyTorch's defaults, as the paper's model was",
    defaultDataset: 'mnist',
    modelJson: convnet,
  },
  {
    name: 'vgg11',
    description:
      'Simplified VGG-11 for CIFAR-10 (32×32×3 → 10): 8 conv 3×3 + BN + ReLU (64-M-128-M-256-256-M-512-512-M-512-512-M), dense 512 → 512 → 10; 9,761,930 parameters',
    defaultDataset: 'cifar10',
    modelJson: vgg11,
  },
  {
    name: 'resnet14',
    description:
      'ResNet-14 for GTSRB (32×32×3 → 43): conv 16, three stages of two basic residual blocks (16, 32, 64 filters), global average pooling, dense to 43; 178,523 parameters',
    defaultDataset: 'gtsrb',
    modelJson: resnet14,
  },
];

export function builtinDefinitions(): readonly BuiltinDefinition[] {
  return BUILTINS;
}

export function findBuiltin(name: string): BuiltinDefinition | undefined {
  return BUILTINS.find((b) => b.name === name.toLowerCase());
}

/** Lets other modules (more architectures) add definitions without editing this list's users. */
export function registerBuiltin(def: BuiltinDefinition): void {
  const i = BUILTINS.findIndex((b) => b.name === def.name);
  if (i >= 0) BUILTINS[i] = def;
  else BUILTINS.push(def);
}
