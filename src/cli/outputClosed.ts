/**
 * What happens when stdout or stderr goes away: `fim train … | head -2` closes the pipe after two
 * lines, and a closed terminal does the same. Node then reports EPIPE as an 'error' event on the
 * stream, which, unhandled, kills the process mid-write (exit code 7) and leaves a training run
 * `running` without a checkpoint. Instead, further output to that stream is dropped and the work
 * is stopped the way Ctrl-C stops it (training writes a checkpoint and ends `stopped`).
 */
type Listener = (stream: 'stdout' | 'stderr') => void;

const listeners = new Set<Listener>();
const closed = new Set<'stdout' | 'stderr'>();

/** Calls `f` when stdout or stderr is closed; returns a function that unsubscribes. */
export function onOutputClosed(f: Listener): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Whether a stream was found closed. */
export function outputClosed(stream: 'stdout' | 'stderr'): boolean {
  return closed.has(stream);
}

/** Installs the handlers (once, from the CLI's entry point). */
export function handleClosedOutput(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (closed.has(name)) return;
      closed.add(name);
      // Drop what would still be written; the stream cannot deliver it.
      stream.write = () => true;
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED' && e.code !== 'EIO') return;
      for (const f of listeners) f(name);
    });
  }
  // A closed terminal: stop cleanly, as for a closed pipe.
  process.on('SIGHUP', () => {
    for (const f of listeners) f('stderr');
  });
}
