import { DataFormatError } from './data/idx';
import { DatasetError } from './data/registry';
import { ModelDefinitionError } from './models/errors';
import { OnnxImportError } from './onnx/errors';
import { RunStoreError } from '../runs/errors';

/**
 * Errors caused by what the user asked for (bad value, missing or corrupt file, a model that does
 * not fit the data) rather than by the engine: front ends report them without a stack trace
 * (CLI exit code 2, an error message in VS Code).
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function isInputError(e: unknown): boolean {
  return (
    e instanceof InputError ||
    e instanceof RangeError ||
    e instanceof DataFormatError ||
    e instanceof DatasetError ||
    e instanceof ModelDefinitionError ||
    e instanceof OnnxImportError ||
    e instanceof RunStoreError
  );
}
