/**
 * `train.fimlog`: the human-readable training log. One record per line:
 *
 *   <ISO time> <kind> key=value key=value ...
 *
 * kind is `step`, `epoch`, `info`, `warn` or `error`; values are numbers, bare words, or
 * JSON-quoted strings (messages). Lines starting with `#` are comments (the header).
 * The extension parses this format for hovers and syntax colours, so it is declared once here.
 */

export type FimlogKind = 'step' | 'epoch' | 'info' | 'warn' | 'error';
export type FimlogValue = number | string;

export interface FimlogRecord {
  /** 0-based line number in the file. */
  line: number;
  time: string;
  kind: FimlogKind;
  fields: Record<string, FimlogValue>;
}

const KINDS = new Set<FimlogKind>(['step', 'epoch', 'info', 'warn', 'error']);

function formatValue(v: FimlogValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e6) return String(v);
    return a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
  }
  return /^[A-Za-z0-9_.:/+-]+$/.test(v) ? v : JSON.stringify(v);
}

export function formatFimlogLine(kind: FimlogKind, fields: Record<string, FimlogValue>, time = new Date()): string {
  const parts = [time.toISOString(), kind];
  for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${formatValue(v)}`);
  return parts.join(' ');
}

export function formatFimlogHeader(fields: Record<string, FimlogValue>): string {
  return (
    '# fimlog v1 ' +
    Object.entries(fields)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ')
  );
}

/** key=value pairs; values may be JSON strings containing spaces. */
const FIELD_RE = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g;

export function parseFields(text: string): Record<string, FimlogValue> {
  const fields: Record<string, FimlogValue> = {};
  for (const m of text.matchAll(FIELD_RE)) {
    const raw = m[2]!;
    if (raw.startsWith('"')) {
      try {
        fields[m[1]!] = JSON.parse(raw) as string;
      } catch {
        fields[m[1]!] = raw;
      }
    } else {
      const n = Number(raw);
      fields[m[1]!] = raw !== '' && !Number.isNaN(n) ? n : raw === 'NaN' ? NaN : raw;
    }
  }
  return fields;
}

export function parseFimlogLine(text: string, line: number): FimlogRecord | null {
  if (!text || text.startsWith('#')) return null;
  const sp1 = text.indexOf(' ');
  if (sp1 < 0) return null;
  const sp2 = text.indexOf(' ', sp1 + 1);
  const kind = (sp2 < 0 ? text.slice(sp1 + 1) : text.slice(sp1 + 1, sp2)) as FimlogKind;
  if (!KINDS.has(kind)) return null;
  return { line, time: text.slice(0, sp1), kind, fields: sp2 < 0 ? {} : parseFields(text.slice(sp2 + 1)) };
}

export function parseFimlog(text: string): FimlogRecord[] {
  const out: FimlogRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const rec = parseFimlogLine(lines[i]!.replace(/\r$/, ''), i);
    if (rec) out.push(rec);
  }
  return out;
}
