/**
 * `mean=…,std=…` (the `--normalize` flag, and VS Code's Import Model input): per-channel values
 * separated by ':' (mean=0.485:0.456:0.406,std=0.229:0.224:0.225) or one value for all channels.
 * Returns the values, or a sentence saying what is wrong.
 */
export function parseNormalizeSpec(v: string): { mean: number[]; std: number[] } | string {
  const parts = new Map<string, string>();
  for (const p of v.split(',')) {
    const i = p.indexOf('=');
    if (i < 0) return `expected mean=…,std=… (got "${v}")`;
    parts.set(p.slice(0, i).trim(), p.slice(i + 1).trim());
  }
  const mean = parts.get('mean');
  const std = parts.get('std');
  if (mean === undefined || std === undefined || parts.size !== 2) return `expected mean=…,std=… (got "${v}")`;
  const list = (s: string) => {
    const items = s.split(':');
    return items.some((x) => x.trim() === '' || !Number.isFinite(Number(x))) ? null : items.map(Number);
  };
  const m = list(mean);
  const sd = list(std);
  if (!m) return `mean=${mean} is not a list of numbers`;
  if (!sd) return `std=${std} is not a list of numbers`;
  if (sd.some((x) => !(x > 0))) return 'std values must be > 0';
  return { mean: m, std: sd };
}
