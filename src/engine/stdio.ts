/**
 * For a process whose stdout carries the JSON-RPC protocol (the engine): takes stdout for the
 * protocol and sends every other write there (console.log, libraries calling
 * process.stdout.write) to stderr, where the host logs it. Import it first, before any module
 * that might print.
 */
import { Writable } from 'node:stream';

const realStdoutWrite = process.stdout.write.bind(process.stdout);

/** The only writer of the real stdout. */
export const protocolOut = new Writable({
  write(chunk: Buffer, _enc, cb) {
    realStdoutWrite(chunk, (err?: Error | null) => cb(err ?? null));
  },
});

process.stdout.write = (chunk: unknown, ...rest: unknown[]) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest);
for (const m of ['log', 'info', 'debug'] as const) console[m] = (...a: unknown[]) => console.error(...a);
