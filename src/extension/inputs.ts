/** Parsing what the user types into the commands' input boxes. */

export function parseMu(v: string): number | null {
  const n = Number(v.trim());
  return v.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : null;
}

export function parsePositiveInt(v: string): number | null {
  const n = Number(v.trim());
  return Number.isInteger(n) && n >= 1 ? n : null;
}

/** Budgets as typed by the user: numbers separated by commas or spaces, each ≥ 0. */
export function parseBudgets(v: string): number[] | null {
  const parts = v.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const nums = parts.map(Number);
  return nums.every((n) => Number.isFinite(n) && n >= 0) ? [...new Set(nums)].sort((a, b) => a - b) : null;
}
