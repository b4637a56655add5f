/**
 * A model file that cannot be imported as the user gave it (not ONNX, truncated, unsupported
 * operators, quantised weights, a shape that does not fit the dataset). An input error: the CLI
 * prints the message and exits with code 2; nothing is written to the run store.
 */
export class OnnxImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxImportError';
  }
}
