/**
 * How an ONNX model's input is read, as VS Code's Import Model asks for it: the same three
 * options as the CLI's `--normalize`, `--input-layout` and `--freeze-bn` (src/cli/modelFlags.ts),
 * turned into the run's `modelOptions`.
 */
import type { ModelImportOptions } from '../runs/types';

/** `detect`: from the graph's input shape, as the CLI without --input-layout. */
export type LayoutChoice = 'detect' | 'nchw' | 'nhwc';

export const LAYOUT_CHOICES: { choice: LayoutChoice; label: string; detail: string }[] = [
  {
    choice: 'detect',
    label: 'Detect from the input shape',
    detail: 'a channel count of 1 or 3 in the second place is NCHW, in the last place NHWC',
  },
  { choice: 'nchw', label: 'NCHW', detail: 'batch, channels, height, width (PyTorch; --input-layout nchw)' },
  { choice: 'nhwc', label: 'NHWC', detail: 'batch, height, width, channels (TensorFlow/Keras through tf2onnx; --input-layout nhwc)' },
];

export const BATCHNORM_CHOICES: { freeze: boolean; label: string; detail: string }[] = [
  {
    freeze: false,
    label: 'Update BatchNorm statistics when fine-tuning',
    detail: "PyTorch's train mode: batch statistics, running averages updated",
  },
  {
    freeze: true,
    label: 'Freeze BatchNorm statistics',
    detail: 'BatchNormalization keeps its running statistics while fine-tuning (--freeze-bn)',
  },
];

export interface OnnxChoices {
  normalize?: { mean: number[]; std: number[] } | undefined;
  layout: LayoutChoice;
  freezeBatchNorm: boolean;
}

export function modelOptionsOf(c: OnnxChoices): ModelImportOptions | undefined {
  const o: ModelImportOptions = {};
  if (c.layout !== 'detect') o.inputLayout = c.layout;
  if (c.normalize) o.normalize = c.normalize;
  if (c.freezeBatchNorm) o.freezeBatchNorm = true;
  return Object.keys(o).length ? o : undefined;
}
