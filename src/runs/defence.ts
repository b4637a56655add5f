import type { DefenceConfig, RunConfig } from './types';

/**
 * The defences `fim train --defence` and VS Code's "Train Defended Model" offer, with their
 * weights' meanings and defaults, declared once for every front end (docs/defences.md). `trace`
 * is the paper's term, stored as the run's `mu`; the others are stored as `RunConfig.defence`.
 * No tfjs here: the extension reads it too.
 */
export const DEFENCE_KINDS = ['trace', 'spectral', 'trades', 'trace-scaled'] as const;
export type DefenceKind = (typeof DEFENCE_KINDS)[number];

export interface DefenceInfo {
  kind: DefenceKind;
  title: string;
  /** What the weight multiplies, for prompts and usage text. */
  weightMeaning: string;
  defaultWeight: number;
  /** The options (`--defence-option key=value`) with their defaults; none for `trace`. */
  options: Record<string, number>;
  /** What each option means. */
  optionMeanings: Record<string, string>;
}

export const DEFENCES: readonly DefenceInfo[] = [
  {
    kind: 'trace',
    title: "the paper's trace term, CE + μ·tr G_s",
    weightMeaning: 'weight μ of the trace term tr G_s = Σ 1/p_i',
    defaultWeight: 0.022,
    options: {},
    optionMeanings: {},
  },
  {
    kind: 'spectral',
    title: 'exact λmax(G_x) penalty, CE + w·λmax(G_x) (the paper’s eq. 2)',
    weightMeaning: 'weight w of λmax(G_x)',
    defaultWeight: 1,
    options: { fdStep: 0.01, rows: 32 },
    optionMeanings: {
      fdStep: 'l2 length of the central difference along the top eigenvector',
      rows: 'batch rows penalised (the first of the shuffled batch; 0 = all): the exact eigenvector costs K backward rows each',
    },
  },
  {
    kind: 'trades',
    title: 'TRADES, CE + β·KL(p(x) ‖ p(x′)) with x′ from PGD on that KL',
    weightMeaning: 'weight β of the KL term',
    defaultWeight: 6,
    options: { epsilon: 0.1, steps: 10, stepSize: 0.025 },
    optionMeanings: {
      epsilon: 'l∞ radius of the inner PGD, pixels in [0, 1]',
      steps: 'inner PGD steps per batch',
      stepSize: 'inner PGD step size (l∞); unless given, 2.5·epsilon/steps, as for PGD-AT',
    },
  },
  {
    kind: 'trace-scaled',
    title: 'scale-invariant trace, CE + w·tr G_x of RMS-normalised logits',
    weightMeaning: 'weight w of tr G_x of the normalised logits',
    defaultWeight: 0.1,
    options: { scale: 1, probes: 1, fdStep: 0.01 },
    optionMeanings: {
      scale: 'RMS of the centred logits after normalisation (a fixed temperature)',
      probes: 'random probe directions per sample (Hutchinson trace estimate)',
      fdStep: 'l2 length of the central difference along each probe',
    },
  },
];

export function defenceInfo(kind: DefenceKind): DefenceInfo {
  return DEFENCES.find((d) => d.kind === kind)!;
}

export function isDefenceKind(v: string): v is DefenceKind {
  return (DEFENCE_KINDS as readonly string[]).includes(v);
}

/** Why a weight is unusable, or null. */
export function weightProblem(weight: number): string | null {
  return Number.isFinite(weight) && weight >= 0 ? null : `the weight must be a finite number ≥ 0, got ${weight}`;
}

/** Why a defence's settings are unusable, or null; the one rule every front end and the engine apply. */
export function defenceProblem(d: DefenceConfig): string | null {
  const w = weightProblem(d.weight);
  if (w) return `${d.kind}: ${w}`;
  const positive = (name: string, v: number) => (Number.isFinite(v) && v > 0 ? null : `${d.kind}: ${name} must be > 0, got ${v}`);
  switch (d.kind) {
    case 'spectral':
      if (!Number.isInteger(d.rows) || d.rows < 0) return `spectral: rows must be an integer ≥ 0 (0 = all), got ${d.rows}`;
      return positive('fdStep', d.fdStep);
    case 'trades':
      if (!(d.epsilon > 0 && d.epsilon <= 1)) return `trades: epsilon (l∞ radius, pixels in [0, 1]) must be in (0, 1], got ${d.epsilon}`;
      if (!Number.isInteger(d.steps) || d.steps < 1) return `trades: steps must be a positive integer, got ${d.steps}`;
      return positive('stepSize', d.stepSize);
    case 'trace-scaled':
      if (!Number.isInteger(d.probes) || d.probes < 1) return `trace-scaled: probes must be a positive integer, got ${d.probes}`;
      return positive('scale', d.scale) ?? positive('fdStep', d.fdStep);
    default:
      return `unknown defence "${(d as { kind: string }).kind}"`;
  }
}

/**
 * What a run stores for a defence choice: `trace` is the run's μ (so a trace run is exactly the
 * paper's, as before this option existed); the others a DefenceConfig with every option
 * resolved, and μ = 0. Throws RangeError with a sentence for an unknown option or a bad value.
 */
export function resolveDefence(
  kind: DefenceKind,
  weight?: number,
  options: Record<string, number> = {},
): { mu: number; defence?: DefenceConfig } {
  const info = defenceInfo(kind);
  for (const k of Object.keys(options)) {
    if (!(k in info.options)) {
      const known = Object.keys(info.options);
      throw new RangeError(`${kind} has no option "${k}"${known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)'}`);
    }
  }
  const w = weight ?? info.defaultWeight;
  const wp = weightProblem(w);
  if (wp) throw new RangeError(`${kind}: ${wp}`);
  if (kind === 'trace') return { mu: w };
  const resolved = { ...info.options, ...options };
  // Madry et al.'s rule, as PGD-AT's default: a path of `steps` steps can cross the ball.
  if (kind === 'trades' && options.stepSize === undefined) resolved.stepSize = (2.5 * resolved.epsilon!) / resolved.steps!;
  const defence = { kind, weight: w, ...resolved } as DefenceConfig;
  const p = defenceProblem(defence);
  if (p) throw new RangeError(p);
  return { mu: 0, defence };
}

/**
 * What a run was trained with, in a few words: `baseline`, `trace μ=0.022`, `trades β=6`,
 * `PGD-AT ε=0.1`, `trace μ=0.01 + LSR α=0.1`, …
 */
export function defenceLabel(
  config: Pick<RunConfig, 'mu' | 'defence'> & Partial<Pick<RunConfig, 'adversarialTraining' | 'labelSmoothing'>>,
): string {
  const d = config.defence;
  const parts: string[] = [];
  if (d) parts.push(d.kind === 'trades' ? `trades β=${d.weight}` : `${d.kind} w=${d.weight}`);
  else if (config.mu > 0) parts.push(`trace μ=${config.mu}`);
  if (config.adversarialTraining) parts.push(`PGD-AT ε=${config.adversarialTraining.epsilon}`);
  if (config.labelSmoothing) parts.push(`LSR α=${config.labelSmoothing}`);
  return parts.length ? parts.join(' + ') : 'baseline';
}
