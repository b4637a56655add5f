/**
 * The message of anything thrown. JavaScript can throw any value: a user's model module that
 * throws a string must be reported as that string, not as "undefined".
 */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}
