/** The extension's settings (package.json `contributes.configuration`), read in one place. */
import * as vscode from 'vscode';
import { DEFAULT_RUNS_DIR } from '../runs/paths';
import { resolveRunStore } from './storeLocation';
import type { BackendRequest } from '../protocol/backend';
import { AUGMENTATIONS, DEFAULT_AT_RATIO, DEFAULT_AT_STEPS, type Augmentation } from '../protocol/trainDefaults';
import type { ReproduceExecutorChoice } from '../protocol/reproduce';

export const SECTION = 'fim';

export interface Settings {
  nodePath: string;
  backend: BackendRequest;
  /** Absolute run-store directory, or null without a workspace folder and an absolute setting. */
  runStore: string | null;
  train: {
    batchSize: number;
    learningRate: number;
    seed: number;
    limitTrain: number;
    limitTest: number;
    logEvery: number;
    epochs: number;
    labelSmoothing: number;
    /** `auto` = the dataset's usual augmentation (src/protocol/trainDefaults.ts). */
    augmentation: 'auto' | Augmentation;
    adversarialTraining: boolean;
    /** 0 = the dataset's default radius. */
    atEpsilon: number;
    atSteps: number;
    atRatio: number;
  };
  inspectSamples: number;
  attackSamples: number;
  /** Test samples of Table 1, Table 2 and the worst case (the CLI's defaults). */
  distanceSamples: number;
  transferSamples: number;
  worstCaseSamples: number;
  /** Where FIM: Reproduce runs the stages; pass `executorArgs(reproduce)` to `fim reproduce`. */
  reproduce: ReproduceExecutorChoice;
}

const BACKENDS: BackendRequest[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
const AUGMENTATION_SETTINGS: string[] = ['auto', ...AUGMENTATIONS];

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const backend = c.get<string>('engine.backend', 'auto') as BackendRequest;
  const augmentation = c.get<string>('train.augmentation', 'auto') as Settings['train']['augmentation'];
  /** A number in [0, 1) (or [0, 1] with `closed`), else the default. */
  const fraction = (key: string, dflt: number, closed: boolean) => {
    const v = c.get<number>(key, dflt);
    return typeof v === 'number' && v >= 0 && (v < 1 || (closed && v === 1)) ? v : dflt;
  };
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
      epochs: Math.max(1, int('train.epochs', 2)),
      labelSmoothing: fraction('train.labelSmoothing', 0, false),
      augmentation: AUGMENTATION_SETTINGS.includes(augmentation) ? augmentation : 'auto',
      adversarialTraining: c.get<boolean>('train.adversarialTraining', false) === true,
      atEpsilon: fraction('train.adversarialEpsilon', 0, true),
      atSteps: Math.max(1, int('train.adversarialSteps', DEFAULT_AT_STEPS)),
      atRatio: fraction('train.adversarialRatio', DEFAULT_AT_RATIO, true) || DEFAULT_AT_RATIO,
    },
    inspectSamples: Math.max(1, int('inspect.samples', 1000)),
    attackSamples: Math.max(1, int('attack.samples', 500)),
    distanceSamples: Math.max(1, int('eval.distanceSamples', 100)),
    transferSamples: Math.max(1, int('eval.transferSamples', 100)),
    worstCaseSamples: Math.max(1, int('eval.worstCaseSamples', 500)),
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
