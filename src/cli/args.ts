import { parseArgs, type ParseArgsConfig } from 'node:util';
import { backendRequestFrom, type BackendRequest } from '../engine/backend/select';

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with errors turned into UsageErrors. */
export function parse<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function num(name: string, v: string | undefined, def?: number): number {
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`--${name} is required`);
    return def;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${v}"`);
  return n;
}

export function int(name: string, v: string | undefined, def?: number, min = 1): number {
  const n = num(name, v, def);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} expects an integer ≥ ${min}, got "${v}"`);
  return n;
}

export function optInt(name: string, v: string | undefined, min = 1): number | undefined {
  return v === undefined ? undefined : int(name, v, undefined, min);
}

/** Comma-separated numbers, e.g. --eps 1,2,4,6. */
export function numList(name: string, v: string | undefined, opts: { positive?: boolean } = {}): number[] {
  if (v === undefined || v.trim() === '') throw new UsageError(`--${name} needs a comma-separated list of numbers`);
  return v.split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: "${s}" is not a number`);
    if (opts.positive && n <= 0) throw new UsageError(`--${name}: budgets must be > 0, got ${n}`);
    return n;
  });
}

/** `--backend B` (or $FIM_BACKEND) as a backend request; an unknown name is a usage error. */
export function backendFlag(v: string | undefined): BackendRequest {
  try {
    return backendRequestFrom(v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
