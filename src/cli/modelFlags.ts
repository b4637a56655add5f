import type { ModelImportOptions } from '../runs/types';
import { parseNormalizeSpec } from '../shared/normalize';
import { UsageError } from './args';

/**
 * The flags that say how an ONNX model's input is read, shared by `fim import` and `fim train`:
 * `--input-layout nchw|nhwc`, `--normalize mean=…,std=…` and `--freeze-bn`.
 */
export const MODEL_FLAGS = {
  'input-layout': { type: 'string' },
  normalize: { type: 'string' },
  'freeze-bn': { type: 'boolean' },
} as const;

export const MODEL_FLAGS_USAGE = `  --input-layout L       ONNX models: nchw | nhwc, the layout of the graph's input [detected from its shape]
  --normalize mean=M,std=S  ONNX models that expect normalised input: (x − M) / S is put in front of the graph;
                         M and S are one value or one per channel separated by ':' (mean=0.485:0.456:0.406,std=…)
  --freeze-bn            ONNX models: BatchNormalization keeps its running statistics while fine-tuning`;

export function parseNormalize(v: string): { mean: number[]; std: number[] } {
  const r = parseNormalizeSpec(v);
  if (typeof r === 'string') throw new UsageError(`--normalize: ${r}`);
  return r;
}

export function modelOptionsFromFlags(v: {
  'input-layout'?: string | undefined;
  normalize?: string | undefined;
  'freeze-bn'?: boolean | undefined;
}): ModelImportOptions | undefined {
  const o: ModelImportOptions = {};
  const layout = v['input-layout'];
  if (layout !== undefined) {
    if (layout !== 'nchw' && layout !== 'nhwc') throw new UsageError(`--input-layout must be nchw or nhwc, got "${layout}"`);
    o.inputLayout = layout;
  }
  if (v.normalize !== undefined) o.normalize = parseNormalize(v.normalize);
  if (v['freeze-bn']) o.freezeBatchNorm = true;
  return Object.keys(o).length ? o : undefined;
}
