/** The extension's settings (package.json `contributes.configuration`), read in one place. */
import * as vscode from 'vscode';
import { DEFAULT_RUNS_DIR } from '../runs/paths';
import { resolveRunStore } from './storeLocation';
import type { BackendRequest } from '../protocol/backend';
import type { ReproduceExecutorChoice } from '../protocol/reproduce';

export const SECTION = 'fim';

export interface Settings {
  nodePath: string;
  backend: BackendRequest;
  /** Absolute run-store directory, or null without a workspace folder and an absolute setting. */
  runStore: string | null;
  train: { batchSize: number; learningRate: number; seed: number; limitTrain: number; limitTest: number; logEvery: number };
  inspectSamples: number;
  attackSamples: number;
  /** Where FIM: Reproduce runs the stages; pass `executorArgs(reproduce)` to `fim reproduce`. */
  reproduce: ReproduceExecutorChoice;
}

const BACKENDS: BackendRequest[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const backend = c.get<string>('engine.backend', 'auto') as BackendRequest;
  const int = (key: string, dflt: number) => {
    const v = c.get<number>(key, dflt);
    return Number.isInteger(v) && v >= 0 ? v : dflt;
  };
  return {
    nodePath: c.get<string>('engine.nodePath', ''),
    backend: BACKENDS.includes(backend) ? backend : 'auto',
    runStore: resolveRunStore(c.get<string>('runStore', DEFAULT_RUNS_DIR), folder, vscode.workspace.isTrusted),
    train: {
      batchSize: Math.max(1, int('train.batchSize', 128)),
      learningRate: c.get<number>('train.learningRate', 1e-3) > 0 ? c.get<number>('train.learningRate', 1e-3) : 1e-3,
      seed: int('train.seed', 0),
      limitTrain: int('train.limitTrainSamples', 0),
      limitTest: int('train.limitTestSamples', 0),
      logEvery: Math.max(1, int('train.logEvery', 20)),
    },
    inspectSamples: Math.max(1, int('inspect.samples', 1000)),
    attackSamples: Math.max(1, int('attack.samples', 500)),
    reproduce: {
      executor: c.get<string>('reproduce.executor', 'local') === 'slurm' ? 'slurm' : 'local',
      slurm: {
        partition: c.get<string>('reproduce.slurm.partition', ''),
        account: c.get<string>('reproduce.slurm.account', ''),
        time: c.get<string>('reproduce.slurm.time', ''),
        cpusPerTask: int('reproduce.slurm.cpusPerTask', 0),
        gpusPerTask: int('reproduce.slurm.gpusPerTask', 0),
        sbatchArgs: c.get<string[]>('reproduce.slurm.sbatchArgs', []).filter((a) => typeof a === 'string'),
        shards: Math.max(1, int('reproduce.slurm.shards', 1)),
      },
    },
  };
}
