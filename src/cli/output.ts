/**
 * Terminal output for commands: progress on stderr (a redrawn bar on a TTY, plain lines
 * otherwise), results on stdout (a table, or exactly one JSON object with --json).
 */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastPlain = 0;
  private drawn = false;

  constructor(private readonly quiet = false) {}

  /** A transient status line; on a non-TTY it is printed at most every `plainEveryMs`. */
  update(text: string, plainEveryMs = 10_000): void {
    if (this.quiet) return;
    if (this.tty) {
      const width = process.stderr.columns || 100;
      process.stderr.write('\r\x1b[2K' + text.slice(0, width - 1));
      this.drawn = true;
    } else if (Date.now() - this.lastPlain >= plainEveryMs) {
      this.lastPlain = Date.now();
      process.stderr.write(text + '\n');
    }
  }

  /** A permanent line (log output). */
  line(text: string): void {
    if (this.quiet) return;
    this.clear();
    process.stderr.write(text + '\n');
  }

  clear(): void {
    if (this.tty && this.drawn) {
      process.stderr.write('\r\x1b[2K');
      this.drawn = false;
    }
  }
}

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return '[' + '#'.repeat(full) + '-'.repeat(width - full) + ']';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain text table with right-aligned numeric columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[-+]?[\d.,%e+-]+$/.test(String(r[i]))),
  );
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

export function pct(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(digits)}%`;
}
