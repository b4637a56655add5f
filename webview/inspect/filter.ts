/**
 * The inspection table's filter box. Space-separated terms, all of which a sample must match:
 *   wrong | correct        misclassified or correctly classified samples
 *   label:X  pred:X        true or predicted class X (a class name or index)
 *   123                    the sample with index 123 (or: index 123 in a range "100-200")
 *   λ>10  gx>10  tr<200    λmax(G_x), tr G_s, KL budget (kl), normalised margin (margin) against a number
 *   anything else          a class name (label or prediction) containing the text
 */
export interface FilterSample {
  index: number;
  label: number;
  predicted: number;
  traceGs: number;
  lambdaMaxGx: number;
  klBudget: number;
  normalizedMargin: number;
}

type Term = (s: FilterSample, name: (c: number) => string) => boolean;

const STAT: Record<string, keyof FilterSample> = {
  λ: 'lambdaMaxGx',
  gx: 'lambdaMaxGx',
  lambda: 'lambdaMaxGx',
  tr: 'traceGs',
  trace: 'traceGs',
  kl: 'klBudget',
  margin: 'normalizedMargin',
};

const classIs = (want: string) => (c: number, name: (c: number) => string) =>
  String(c) === want || name(c).toLowerCase() === want.toLowerCase();

function term(raw: string): Term | { error: string } {
  const t = raw.trim();
  const lower = t.toLowerCase();
  if (lower === 'wrong' || lower === 'misclassified') return (s) => s.predicted !== s.label;
  if (lower === 'correct') return (s) => s.predicted === s.label;
  const cls = /^(label|pred|predicted):(.+)$/i.exec(t);
  if (cls) {
    const is = classIs(cls[2]!);
    return cls[1]!.toLowerCase() === 'label' ? (s, n) => is(s.label, n) : (s, n) => is(s.predicted, n);
  }
  const cmp = /^([a-zλ]+)\s*(<=|>=|<|>|=)\s*(-?[\d.]+(?:e[-+]?\d+)?)$/i.exec(t);
  if (cmp) {
    const field = STAT[cmp[1]!.toLowerCase()];
    const v = Number(cmp[3]);
    if (!field || !Number.isFinite(v)) return { error: `unknown statistic "${cmp[1]}" (use λ, tr, kl or margin)` };
    const op = cmp[2]!;
    return (s) => {
      const x = s[field];
      return op === '<' ? x < v : op === '>' ? x > v : op === '<=' ? x <= v : op === '>=' ? x >= v : x === v;
    };
  }
  const range = /^(\d+)-(\d+)$/.exec(t);
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    return (s) => s.index >= Math.min(a, b) && s.index <= Math.max(a, b);
  }
  if (/^\d+$/.test(t)) {
    const i = Number(t);
    return (s) => s.index === i;
  }
  return (s, n) => n(s.label).toLowerCase().includes(lower) || n(s.predicted).toLowerCase().includes(lower);
}

/** A predicate for the filter text, or the first term that cannot be read. */
export function parseFilter(
  text: string,
): { ok: true; test: (s: FilterSample, name: (c: number) => string) => boolean } | { ok: false; error: string } {
  const terms: Term[] = [];
  for (const raw of text.split(/\s+/).filter(Boolean)) {
    const t = term(raw);
    if (typeof t !== 'function') return { ok: false, error: t.error };
    terms.push(t);
  }
  return { ok: true, test: (s, name) => terms.every((f) => f(s, name)) };
}
