import type { Profile } from '../src/engine/backend/profile';
import type { BackendReport } from '../src/protocol/backend';
import type { CpuSample } from './load';

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

/** The machine-load samples at the start and end of a task's measured window (null off Linux). */
export type WindowSamples = { before: CpuSample; after: CpuSample } | null;

/** Peak fp32 multiply-add throughput of the native kernels, FLOP/s. */
export interface FmaPeak {
  level: string;
  oneThread: number;
  allThreads: number;
  threads: number;
}

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
  windows: Partial<Record<Task, WindowSamples>>;
  /** Mean training loss (CE + μ·tr G_s) of the measured steps, per batch size. */
  trainLoss: Partial<Record<Task, number>>;
  peakRssMb: number;
  /** CPU time of the whole process, seconds. */
  cpuSeconds: number;
  /** Null without the native addon. */
  fmaPeak: FmaPeak | null;
  /** Of the benchmark's model (src/engine/models/flops.ts). */
  flopsPerSample: { forward: number; train: number };
  /** With --profile: each task's kernel profile, and what it is per (training steps or samples). */
  profiles?: Partial<Record<Task, { unit: 'step' | 'sample'; count: number; profile: Profile }>>;
}

export interface PeerResult {
  peer: 'pytorch';
  torch: string;
  threads: number;
  /** The thread settings the peer ran with (OMP_WAIT_POLICY and friends). */
  threadPolicy: Record<string, string>;
  samplesPerSecond: Partial<Record<Task, number>>;
  windows: Partial<Record<Task, WindowSamples>>;
  peakRssMb: number;
}
