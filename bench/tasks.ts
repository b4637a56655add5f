import type { BackendReport } from '../src/protocol/backend';

/** The benchmark's tasks, shared by the engine side (ours.ts), the peer and the report (run.ts). */
export const TASKS = [
  'train-32',
  'train-128',
  'infer',
  'fim',
  'ossa',
  'pgd10',
  'train-128-onnx',
  'fim-onnx',
  'apgd-ce100',
  'autoattack',
] as const;
export type Task = (typeof TASKS)[number];
/** The l∞ budget of the AutoAttack rows, and how many MNIST test images they evaluate. */
export const AUTOATTACK_BENCH = { epsilon: 0.1, testSamples: 1000 } as const;

/**
 * The ONNX rows run the same ConvNet exported from PyTorch (test/fixtures/onnx/convnet_op13.onnx)
 * through `fim import`'s path; PyTorch's side of them is its run of the same model (issue 13: the
 * import must train and inspect at ≥ 0.8× the built-in's speed).
 */
export const ONNX_CONVNET = 'test/fixtures/onnx/convnet_op13.onnx';
export const PEER_TASK: Partial<Record<Task, Task>> = { 'train-128-onnx': 'train-128', 'fim-onnx': 'fim' };

export interface OursResult {
  peer: 'ours';
  backend: BackendReport;
  samplesPerSecond: Partial<Record<Task, number>>;
  /** Mean training loss (CE + μ·tr G_s) of the measured steps, per batch size. */
  trainLoss: Partial<Record<Task, number>>;
  peakRssMb: number;
}
