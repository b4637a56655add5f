/**
 * Workspace trust. A model module is code that runs in the engine, and a model.json of the
 * workspace's choosing is loaded by it; an untrusted workspace may also name any engine runtime.
 * Untrusted: built-in definitions train and existing runs stay viewable; user definitions and
 * a custom runtime path are refused with this explanation.
 */
import type { ModelFileKind } from './modelFiles';

/**
 * Why a run cannot be resumed in an untrusted workspace, or null: resuming may rebuild the model
 * from `config.model` (a run without a checkpoint), which must then be a built-in definition.
 * The engine refuses it too (it is told the trust state); this says so before a job starts.
 */
export function untrustedResumeProblem(model: string | undefined, trusted: boolean, builtins: readonly string[]): string | null {
  // ONNX files are data (the engine also checks they lie inside the workspace).
  if (trusted || model === undefined || builtins.includes(model) || /\.onnx$/i.test(model)) return null;
  return untrustedModelMessage(/\.json$/i.test(model) ? 'model-json' : 'module');
}

export function untrustedModelMessage(kind: ModelFileKind): string {
  const what =
    kind === 'module' ? 'a model module is code that the engine runs' : 'a model definition file is loaded and built by the engine';
  return `FIM: this workspace is not trusted, and ${what}. Trust the workspace to train user model definitions; built-in definitions and existing runs work in restricted mode.`;
}
