/** A model definition or model file that cannot be used: reported as an input error (CLI exit code 2). */
export class ModelDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelDefinitionError';
  }
}
