import * as path from 'node:path';
import { backendFlag, defineCommand, UsageError } from '../args';
import { printJson, Progress } from '../output';
import { exportRun } from '../../engine';

const usage = `fim export --run DIR --format onnx --out FILE [--input-layout nchw|nhwc] [--json]
  Write a run's newest checkpoint as an ONNX model.
  For an imported model (fim import, or fim train --model m.onnx) it is the same graph — the same
  input and output names, layout and opset — with the run's weights, so the loading code written
  for the original keeps working. Other runs (convnet, vgg11, resnet14, tfjs Layers models) are
  converted to an NCHW graph (opset 13) that outputs logits; --input-layout nhwc gives it an NHWC input.
  The file is read back and its logits compared with the run's before the command succeeds.

  --run DIR              the run
  --format onnx          the only format so far
  --out FILE             the .onnx file to write
  --input-layout L       converted models: nchw | nhwc [nchw]
  --backend B            auto | tfjs-node-gpu | tfjs-node | wasm | cpu [auto, or $FIM_BACKEND]
  --json                 print {file, kind, inputName, outputName, opset, …} as one JSON object`;

export const exportCommand = defineCommand({
  name: 'export',
  summary: "write a run's model as ONNX (imported models keep their own graph)",
  usage,
  flags: {
    run: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    'input-layout': { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    if (!v.run) throw new UsageError('--run DIR is required');
    if (!v.out) throw new UsageError('--out FILE is required');
    const format = v.format ?? 'onnx';
    if (format !== 'onnx') throw new UsageError(`--format must be onnx, got "${format}"`);
    const layout = v['input-layout'];
    if (layout !== undefined && layout !== 'nchw' && layout !== 'nhwc')
      throw new UsageError(`--input-layout must be nchw or nhwc, got "${layout}"`);
    const progress = new Progress(Boolean(v.json));
    progress.update('exporting …');
    let r;
    try {
      r = await exportRun({
        runDir: path.resolve(v.run),
        out: path.resolve(v.out),
        format,
        ...(layout ? { inputLayout: layout } : {}),
        backend: backendFlag(v.backend),
      });
    } finally {
      progress.clear();
    }
    if (v.json) {
      printJson(r);
      return 0;
    }
    const lines = [
      `file             ${r.file} (${r.bytes} bytes)`,
      `graph            ${r.kind === 'imported' ? 'the imported graph with the run’s weights' : 'converted from the run’s layers'}, opset ${r.opset}`,
      `input            ${r.inputName} [${r.inputShape.map((d) => d ?? '?').join(', ')}]`,
      `output           ${r.outputName}`,
      `checked          read back: logits within ${r.maxRelativeDifference.toExponential(1)} (relative) on ${r.checkedSamples} test samples`,
      ...r.notes.map((n) => `note             ${n}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
});
