import { InputError } from '../errors';
import type { Attack } from './attack';
import type { AttackOptions, AttackOptionValue } from '../../runs/evals';
import { apgdCe, apgdCeL2, apgdDlr, apgdDlrL2, apgdT, apgdTL2 } from './apgd';
import { bimL1, bimL2, bimLinf } from './bim';
import { cw } from './cw';
import { deepfool } from './deepfool';
import { fgm } from './fgm';
import { fgsm } from './fgsm';
import { jsma } from './jsma';
import { ossa } from './ossa';
import { otcm, otcmL2 } from './otcm';
import { pgd, pgdL2, pgdL2Margin, pgdMargin } from './pgd';
import { square } from './square';
import { squareL2Attack } from './squareL2';
import { fabT, fabTL2 } from './fab';

/** Every attack by name, in the order the paper lists them (OSSA and the one-step attacks first). */
const ATTACKS: readonly Attack[] = [
  ossa,
  fgsm,
  fgm,
  otcm,
  otcmL2,
  bimL1,
  bimL2,
  bimLinf,
  pgd,
  pgdL2,
  pgdMargin,
  pgdL2Margin,
  deepfool,
  cw,
  jsma,
  square,
  apgdCe,
  apgdCeL2,
  apgdDlr,
  apgdDlrL2,
  apgdT,
  apgdTL2,
  fabT,
  fabTL2,
  squareL2Attack,
];

export const ATTACK_NAMES: readonly string[] = ATTACKS.map((a) => a.name);

/** Allowed values of string options. */
const CHOICES: Record<string, readonly string[]> = {
  loss: ['ce', 'margin'],
  epsUnit: ['squared-l2', 'l2'],
  method: ['exact', 'power'],
};

/** Options every attack accepts besides its own. */
export const COMMON_OPTIONS: AttackOptions = { clip: true, seed: 0, batchSize: 100 };

export function listAttacks(): readonly Attack[] {
  return ATTACKS;
}

export function getAttack(name: string): Attack {
  const a = ATTACKS.find((x) => x.name === name.toLowerCase());
  if (!a) throw new InputError(`unknown attack "${name}"; available: ${ATTACK_NAMES.join(', ')}`);
  return a;
}

/**
 * The attack's defaults overridden by the user's options; unknown names, wrong types and values
 * outside an option's choices are errors that name what is allowed.
 */
export function resolveOptions(attack: Attack, overrides: AttackOptions = {}, common: Partial<typeof COMMON_OPTIONS> = {}): AttackOptions {
  const base: AttackOptions = { ...attack.defaults, ...COMMON_OPTIONS, clip: attack.clipByDefault, ...common };
  const out: AttackOptions = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in base)) throw new InputError(`attack ${attack.name} has no option "${key}"; its options: ${Object.keys(base).join(', ')}`);
    out[key] = coerce(attack.name, key, value, base[key]!);
  }
  for (const [key, allowed] of Object.entries(CHOICES)) {
    if (key in out && !allowed.includes(String(out[key])))
      throw new InputError(`attack ${attack.name}: option ${key} must be one of ${allowed.join(', ')} (got "${out[key]}")`);
  }
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0))
      throw new InputError(`attack ${attack.name}: option ${key} must be a finite number ≥ 0 (got ${value})`);
  }
  return out;
}

function coerce(attack: string, key: string, value: AttackOptionValue, like: AttackOptionValue): AttackOptionValue {
  if (typeof like === typeof value) return value;
  const s = String(value);
  if (typeof like === 'number') {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw new InputError(`attack ${attack}: option ${key} expects a number (got "${s}")`);
    return n;
  }
  if (typeof like === 'boolean') {
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
    throw new InputError(`attack ${attack}: option ${key} expects true or false (got "${s}")`);
  }
  return s;
}
