/**
 * Run-store problems caused by what the user asked for or by another process, not by a bug: a
 * path that is not a directory, a run that another process is writing. Front ends report them
 * like input errors (CLI exit code 2, a message in VS Code), without a stack trace.
 */
export class RunStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunStoreError';
  }
}
