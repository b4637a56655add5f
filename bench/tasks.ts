import type { BackendReport } from '../src/protocol/backend';

/** The benchmark's tasks, shared by the engine side (ours.ts), the peer and the report (run.ts). */
export const TASKS = ['train-32', 'train-128', 'infer', 'fim', 'ossa', 'pgd10', 'apgd-ce100', 'autoattack'] as const;
export type Task = (typeof TASKS)[number];
/** The l∞ budget of the AutoAttack rows, and how many MNIST test images they evaluate. */
export const AUTOATTACK_BENCH = { epsilon: 0.1, testSamples: 1000 } as const;

export interface OursResult {
  peer: 'ours';
  backend: BackendReport;
  samplesPerSecond: Partial<Record<Task, number>>;
  /** Mean training loss (CE + μ·tr G_s) of the measured steps, per batch size. */
  trainLoss: Partial<Record<Task, number>>;
  peakRssMb: number;
}
