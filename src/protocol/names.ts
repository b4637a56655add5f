/**
 * The one rule for evaluation names (`evals/<name>.json` and the image folder `evals/<name>/`),
 * used by the CLI, the engine's requests and the webviews. A name is a single path component:
 * no separators, and no leading dot — which also rules out `.` and `..`, names that would make
 * `evals/<name>` the evals folder or the run directory itself.
 */
export const EVAL_NAME_MAX_LENGTH = 120;
const EVAL_NAME_CHARS = /^[A-Za-z0-9_.=+-]+$/;
const EVAL_NAME_DESCRIPTION = `letters, digits and _ . = + - (not starting with a dot, at most ${EVAL_NAME_MAX_LENGTH} characters)`;

/** Why `name` is not a valid evaluation name, or null when it is. */
export function evalNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'an evaluation name must be a non-empty string';
  if (name.length > EVAL_NAME_MAX_LENGTH || !EVAL_NAME_CHARS.test(name) || name.startsWith('.')) {
    return `evaluation name ${JSON.stringify(name.slice(0, EVAL_NAME_MAX_LENGTH + 8))} is not allowed: use ${EVAL_NAME_DESCRIPTION}`;
  }
  return null;
}

export function isEvalName(v: unknown): v is string {
  return evalNameProblem(v) === null;
}

/** A valid evaluation name made from parts (attack names, run ids): other characters become `-`. */
export function evalNameFrom(...parts: string[]): string {
  const name = parts
    .join('-')
    .replace(/[^A-Za-z0-9_.=+-]+/g, '-')
    .replace(/^[.-]+|-+$/g, '')
    .slice(0, EVAL_NAME_MAX_LENGTH);
  return name || 'eval';
}
