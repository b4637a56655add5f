import type { ModelImportOptions } from '../runs/types';
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

function numbers(flag: string, s: string): number[] {
  const v = s.split(':').map((x) => Number(x));
  if (v.length === 0 || v.some((x, i) => !Number.isFinite(x) || s.split(':')[i]!.trim() === ''))
    throw new UsageError(`--normalize: ${flag}=${s} is not a list of numbers`);
  return v;
}

export function parseNormalize(v: string): { mean: number[]; std: number[] } {
  const parts = new Map(
    v.split(',').map((p) => {
      const i = p.indexOf('=');
      if (i < 0) throw new UsageError(`--normalize expects mean=…,std=… (got "${v}")`);
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const mean = parts.get('mean');
  const std = parts.get('std');
  if (mean === undefined || std === undefined || parts.size !== 2) throw new UsageError(`--normalize expects mean=…,std=… (got "${v}")`);
  const out = { mean: numbers('mean', mean), std: numbers('std', std) };
  if (out.std.some((s) => !(s > 0))) throw new UsageError('--normalize: std values must be > 0');
  return out;
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
