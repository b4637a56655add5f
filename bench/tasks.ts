import type { BackendReport } from '../src/protocol/backend';

/** The benchmark's tasks, shared by the engine side (ours.ts), the peer and the report (run.ts). */
export const TASKS = ['train-32', 'train-128', 'infer', 'fim', 'ossa', 'pgd10'] as const;
export type Task = (typeof TASKS)[number];

export interface OursResult {
  peer: 'ours';
  backend: BackendReport;
  samplesPerSecond: Partial<Record<Task, number>>;
  /** Mean training loss (CE + μ·tr G_s) of the measured steps, per batch size. */
  trainLoss: Partial<Record<Task, number>>;
  peakRssMb: number;
}
