import * as path from 'node:path';
import { isWithin, realPathOrNull } from '../runs/paths';
import type { RunConfig } from '../runs/types';
import { InputError } from './errors';
import { findBuiltin } from './models/builtin';

/**
 * Workspace trust, as the engine enforces it. VS Code tells the engine whether the workspace is
 * trusted (`fim/initialize`); the CLI runs what its user names, so it is always trusted.
 *
 * Untrusted, the engine runs no code of the workspace's choosing and reads nothing outside it on
 * the workspace's say-so: models must be built-in definitions (a model module is code; a
 * model.json is a definition file the workspace chose), whether a request names them or a run
 * config read from the workspace does, as when a run without a checkpoint is resumed and
 * rebuilt from `config.model`. Run stores, run directories and dataset directories must lie
 * inside the workspace, symbolic links resolved (a run config shipped in a repository could
 * otherwise name a folder of the user's images, which an inspection would copy into the repository).
 */
export interface TrustPolicy {
  trusted: boolean;
  /** The workspace folder (the engine's working directory in VS Code). */
  workspace: string;
}

export const TRUSTED: TrustPolicy = { trusted: true, workspace: '' };

export class UntrustedError extends InputError {
  constructor(message: string) {
    super(`this workspace is not trusted: ${message}. Trust the workspace (Manage Workspace Trust) to allow it.`);
    this.name = 'UntrustedError';
  }
}

/**
 * A model the policy lets the engine build. Untrusted: built-in names, and ONNX files inside the
 * workspace — an ONNX graph is data that our own decoder turns into a fixed set of tensor
 * operations (src/engine/onnx), with no code of the file's choosing, and its external weights
 * are confined to the model's folder. A model module is code and a model.json is a definition
 * the workspace chose, so both wait for trust.
 */
export function assertModelAllowed(policy: TrustPolicy, model: string, where: string): void {
  if (policy.trusted || findBuiltin(model)) return;
  if (/\.onnx$/i.test(model)) {
    assertPathAllowed(policy, model, `${where} names the ONNX model`);
    return;
  }
  throw new UntrustedError(
    `${where} names the model definition ${JSON.stringify(model)}, and only built-in definitions and ONNX files in the workspace are loaded in restricted mode`,
  );
}

/** A path the policy lets the engine use: inside the workspace when untrusted. */
export function assertPathAllowed(policy: TrustPolicy, p: string | undefined, what: string): void {
  if (policy.trusted || p === undefined) return;
  const root = realPathOrNull(path.resolve(policy.workspace)) ?? path.resolve(policy.workspace);
  const abs = path.resolve(policy.workspace, p);
  // A path that does not exist yet (a new run store) is judged by its nearest existing ancestor.
  let probe = abs;
  let real = realPathOrNull(probe);
  while (real === null && path.dirname(probe) !== probe) {
    probe = path.dirname(probe);
    real = realPathOrNull(probe);
  }
  const resolved = real === null ? abs : path.join(real, path.relative(probe, abs));
  if (!isWithin(resolved, root)) throw new UntrustedError(`${what} ${p} is outside the workspace ${root}`);
}

/** Everything a run config names that the engine would load: its model and its dataset directory. */
export function assertRunConfigAllowed(policy: TrustPolicy, config: RunConfig, runDir: string): void {
  if (policy.trusted) return;
  assertPathAllowed(policy, runDir, 'the run directory');
  assertPathAllowed(policy, config.dataDir, `the dataset directory that ${path.basename(runDir)}/config.json names,`);
}
