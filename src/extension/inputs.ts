/** Parsing what the user types into the commands' input boxes. */
import type { AttackInfo } from '../protocol/engine';

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

/**
 * Budgets offered first for an attack, on the scales of the paper's MNIST figures: OSSA's ε is
 * the squared l2 norm, the l∞ attacks' ε a pixel bound in [0, 1].
 */
export function defaultBudgets(attack: string, norm: string | undefined): string {
  if (attack.toLowerCase() === 'ossa') return '0.5, 1, 2, 4, 8';
  switch (norm) {
    case 'linf':
      return '0.05, 0.1, 0.2, 0.3';
    case 'l2':
      return '0.5, 1, 2, 3';
    case 'l1':
      return '5, 10, 20, 40';
    case 'l0':
      return '5, 10, 20, 40';
    default:
      return '0.1, 0.2, 0.3';
  }
}

/** A number in [min, max] (e.g. a label-smoothing α in [0, 1)). */
export function parseNumberIn(v: string, min: number, max: number, maxInclusive = true): number | null {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n) || n < min) return null;
  return n < max || (maxInclusive && n === max) ? n : null;
}

/** A number > 0 and ≤ max. */
export function parsePositive(v: string, max = Infinity): number | null {
  const n = parseNumberIn(v, 0, max);
  return n !== null && n > 0 ? n : null;
}

/** The norm of a worst-case list, or why there is none: OSSA joins l2 lists with ε as the l2 norm. */
export function worstCaseNorm(names: string[], attacks: readonly AttackInfo[]): { norm: string } | { error: string } {
  const norms = new Set(names.map((n) => (n === 'ossa' ? 'l2' : (attacks.find((a) => a.name === n)?.norm ?? '?'))));
  if (norms.size !== 1) return { error: `the attacks must share a norm (got ${[...norms].join(', ')}); OSSA counts as l2` };
  return { norm: [...norms][0]! };
}
