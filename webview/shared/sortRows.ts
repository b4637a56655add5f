/** Ascending or descending, as a table header toggles it. */
export type SortDir = 'asc' | 'desc';

/**
 * Rows ordered by one value per row, the way the panels' tables sort: numbers numerically,
 * strings by locale, NaN (a statistic that could not be computed) always last whichever the
 * direction, and ties in their original order (stable), so re-sorting never shuffles equal rows.
 * Decorate-sort-undecorate: `value` is called once per row, which matters for 10,000 rows.
 */
export function sortRows<T>(rows: readonly T[], value: (row: T) => number | string, dir: SortDir): T[] {
  const sign = dir === 'asc' ? 1 : -1;
  const keyed = rows.map((r, i) => ({ v: value(r), i }));
  keyed.sort((a, b) => {
    const x = a.v;
    const y = b.v;
    if (typeof x === 'number' && typeof y === 'number') {
      const nx = Number.isNaN(x);
      const ny = Number.isNaN(y);
      if (nx || ny) return nx === ny ? a.i - b.i : nx ? 1 : -1;
      if (x === y) return a.i - b.i;
      return (x < y ? -1 : 1) * sign;
    }
    return String(x).localeCompare(String(y)) * sign || a.i - b.i;
  });
  return keyed.map((k) => rows[k.i]!);
}
