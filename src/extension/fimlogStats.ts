/**
 * What a hover over a `train.fimlog` line shows: that line's metrics with context (change vs the
 * previous epoch, running min/max of tr G_s, where it sits in the run). Pure: parsing is done once
 * per document version by the caller, and `hoverMarkdown` only looks things up.
 */
import { parseFimlog, parseFields, type FimlogRecord, type FimlogValue } from '../runs/fimlog';

export interface FimlogAnalysis {
  records: FimlogRecord[];
  /** Record index by 0-based line number. */
  byLine: Map<number, number>;
  header: Record<string, FimlogValue>;
  /** Index (into records) of each epoch record, by epoch number. */
  epochRecords: Map<number, number>;
  /** Running min/max of trace_gs up to and including record i (over step and epoch records). */
  traceMin: ({ value: number; line: number } | null)[];
  traceMax: ({ value: number; line: number } | null)[];
  stepsPerEpoch: number | null;
  lastStep: number | null;
}

export function analyzeFimlog(text: string): FimlogAnalysis {
  const records = parseFimlog(text);
  const headerLine = text.split('\n', 1)[0] ?? '';
  const header = headerLine.startsWith('# fimlog') ? parseFields(headerLine.replace(/^# fimlog v\d+/, '')) : {};
  const byLine = new Map<number, number>();
  const epochRecords = new Map<number, number>();
  const traceMin: FimlogAnalysis['traceMin'] = [];
  const traceMax: FimlogAnalysis['traceMax'] = [];
  let min: { value: number; line: number } | null = null;
  let max: { value: number; line: number } | null = null;
  let stepsPerEpoch: number | null = null;
  let lastStep: number | null = null;
  records.forEach((r, i) => {
    byLine.set(r.line, i);
    if (r.kind === 'epoch' && typeof r.fields.epoch === 'number') epochRecords.set(r.fields.epoch, i);
    const t = r.fields.trace_gs;
    if ((r.kind === 'step' || r.kind === 'epoch') && typeof t === 'number' && Number.isFinite(t)) {
      if (!min || t < min.value) min = { value: t, line: r.line };
      if (!max || t > max.value) max = { value: t, line: r.line };
    }
    traceMin.push(min);
    traceMax.push(max);
    if (typeof r.fields.step === 'number') lastStep = Math.max(lastStep ?? 0, r.fields.step);
    const es = r.fields.epoch_step;
    if (typeof es === 'string' && /^\d+\/\d+$/.test(es)) stepsPerEpoch = Number(es.split('/')[1]);
  });
  return { records, byLine, header, epochRecords, traceMin, traceMax, stepsPerEpoch, lastStep };
}

/** Metrics shown, in order, with their labels (the fimlog keys the trainer writes). */
const METRICS: [key: string, label: string][] = [
  ['loss', 'loss'],
  ['ce', 'cross-entropy'],
  ['trace_gs', 'tr G_s (batch mean)'],
  ['lmax_gs', 'λmax(G_s)'],
  ['acc', 'accuracy'],
  ['test_acc', 'test accuracy'],
  ['test_ce', 'test cross-entropy'],
  ['test_trace_gs_mean', 'test tr G_s mean'],
  ['test_trace_gs_median', 'test tr G_s median'],
  ['test_lmax_gs_mean', 'test λmax(G_s) mean'],
  ['samples_per_s', 'samples/s'],
];

const PERCENT_KEYS = new Set(['acc', 'test_acc']);

export function formatMetric(key: string, v: number): string {
  if (PERCENT_KEYS.has(key)) return `${(v * 100).toFixed(2)}%`;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

function formatDelta(key: string, now: number, before: number): string {
  const d = now - before;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const mag = Math.abs(d);
  const abs = PERCENT_KEYS.has(key) ? `${(mag * 100).toFixed(2)} pp` : formatMetric(key, mag).replace(/^-/, '');
  const rel = before !== 0 && !PERCENT_KEYS.has(key) ? ` (${d >= 0 ? '+' : '−'}${Math.abs((d / before) * 100).toFixed(1)}%)` : '';
  return `${sign}${abs}${rel}`;
}

/** The record to compare a line with: the end of the previous epoch. */
function previousEpoch(a: FimlogAnalysis, rec: FimlogRecord): FimlogRecord | null {
  const epoch = rec.fields.epoch;
  if (typeof epoch !== 'number' || epoch < 2) return null;
  const i = a.epochRecords.get(epoch - 1);
  return i === undefined ? null : a.records[i]!;
}

/** Markdown for the hover at `line`, or null when the line is not a step/epoch record. */
export function hoverMarkdown(a: FimlogAnalysis, line: number): string | null {
  const i = a.byLine.get(line);
  if (i === undefined) return null;
  const rec = a.records[i]!;
  if (rec.kind !== 'step' && rec.kind !== 'epoch') return null;
  const f = rec.fields;
  const prev = previousEpoch(a, rec);
  const epochs = typeof a.header.epochs === 'number' ? a.header.epochs : null;
  const title =
    rec.kind === 'epoch'
      ? `**Epoch ${f.epoch}${epochs ? ` of ${epochs}` : ''}** (end of epoch, after ${f.step} steps)`
      : `**Step ${f.step}** — epoch ${f.epoch}${epochs ? ` of ${epochs}` : ''}, step ${f.epoch_step ?? '?'} within it`;
  const out = [title, ''];
  const rows: string[] = [];
  for (const [key, label] of METRICS) {
    const v = f[key];
    if (typeof v !== 'number') continue;
    const p = prev?.fields[key];
    const delta = typeof p === 'number' && key !== 'samples_per_s' ? formatDelta(key, v, p) : '';
    rows.push(prev ? `| ${label} | ${formatMetric(key, v)} | ${delta} |` : `| ${label} | ${formatMetric(key, v)} |`);
  }
  const total = a.stepsPerEpoch && epochs ? a.stepsPerEpoch * epochs : null;
  if (typeof f.step === 'number') {
    const where = total
      ? `step ${f.step} of ${total} (${((f.step / total) * 100).toFixed(1)}% of the run)`
      : `step ${f.step}${a.lastStep ? ` of ${a.lastStep} logged so far` : ''}`;
    out.push(`Position: ${where}; record ${i + 1} of ${a.records.length} in this log.`, '');
  }
  const lo = a.traceMin[i];
  const hi = a.traceMax[i];
  if (lo && hi)
    out.push(
      `tr G_s so far: min ${formatMetric('trace_gs', lo.value)} (line ${lo.line + 1}), max ${formatMetric('trace_gs', hi.value)} (line ${hi.line + 1})`,
      '',
    );
  if (rows.length) {
    out.push(
      prev ? `| metric | value | vs end of epoch ${prev.fields.epoch} |` : '| metric | value |',
      prev ? '|---|--:|--:|' : '|---|--:|',
      ...rows,
      '',
    );
  }
  if (!prev && typeof f.epoch === 'number')
    out.push(f.epoch === 1 ? '_First epoch: no previous epoch to compare with._' : `_No record of epoch ${f.epoch - 1} in this log._`);
  return out.join('\n').trimEnd();
}
