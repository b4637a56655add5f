/**
 * The engine's public surface: what the layers above it (src/reproduce, src/cli, bench) may use.
 * Everything numeric lives below this file; a function an upper layer needs is exported here
 * rather than imported from the module that happens to define it, so the engine's inner layout
 * can change without touching its users (test/architecture.test.ts enforces this).
 */
export { Cancelled } from './attacks/attack';
export { ATTACK_NAMES, getAttack, listAttacks } from './attacks/registry';
export { runAttack } from './attacks/run';
export { backendRequestFrom, describeBackend, initBackend } from './backend/select';
export { formatDatasetSpec, parseDatasetSpec } from './data/spec';
export { InputError, isInputError } from './errors';
export { distanceRun, distanceShard, foolbox2Units, TABLE1_ATTACKS } from './eval/distance';
export { INSPECT_DEFAULTS, inspectRun, inspectShard } from './eval/inspect';
export { mergeEvalShards, type MergeResult } from './eval/merge';
export { loadEvalRun, samplesOf, type EvalRequestBase, type EvalRun, type SampleSelection } from './eval/runModel';
export { parseShardSpec, shardDir, shardLabel, writtenShards, type ShardWritten } from './eval/shard';
export { sweepRun, sweepShard } from './eval/sweep';
export { transferRun, transferShard } from './eval/transfer';
export { worstCaseRun, worstCaseShard } from './eval/worstCase';
export {
  AUTOATTACK_NAMES,
  AUTOATTACK_STANDARD,
  autoAttackAttack,
  autoAttackRun,
  autoAttackShard,
  type AutoAttackRequest,
} from './eval/autoattack';
export { argmaxRows, logitsOf } from './models/predict';
export { resume, train, TRAIN_DEFAULTS, TrainingError, type TrainHooks, type TrainRequest } from './train/trainer';
export { exportRun, type ExportRequest, type ExportResult } from './eval/exportRun';
export { supportedOps } from './onnx/compile';
export { importModel, type ImportRequest, type ImportResult } from './train/importModel';
