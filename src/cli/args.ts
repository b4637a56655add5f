import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { BackendRequest } from '../protocol/backend';
import { backendRequestFrom } from '../engine';

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
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** node:util parseArgs (strict, with -h/--help) with errors turned into UsageErrors. */
export function parse<T extends Options>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP }, strict: true, allowPositionals });
  } catch (e) {
    const msg = (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '');
    // "--batch -5": Node reads -5 as an option and says so in two lines; say it in one.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(msg);
    if (ambiguous) {
      const at = argv.findIndex((x, i) => x === ambiguous[1] && argv[i + 1]?.startsWith('-'));
      const value = argv[at + 1] ?? '';
      throw new UsageError(`${ambiguous[1]} ${value}: a value that starts with "-" is read as an option; write ${ambiguous[1]}=${value}`);
    }
    throw new UsageError(msg.split('\n')[0]!);
  }
}

/** The parsed flags of a command declared with `flags: T`. */
export type FlagValues<T extends Options> = ReturnType<typeof parse<T>>['values'];

/**
 * A command whose flags are parsed the same way everywhere: unknown flags and bad values are
 * usage errors (exit code 2), `--help` prints the usage and exits 0, and `run` gets the values.
 */
export function defineCommand<T extends Options>(spec: {
  name: string;
  summary: string;
  usage: string;
  flags: T;
  run(values: FlagValues<T>, argv: string[]): Promise<number>;
}): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    async run(argv) {
      const { values } = parse(argv, spec.flags);
      // `help` is added to every command's flags by parse(); the generic type cannot see it.
      if ((values as { help?: boolean }).help) {
        process.stdout.write(spec.usage + '\n');
        return 0;
      }
      return spec.run(values, argv);
    },
  };
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
