import { DEFENCE_KINDS, DEFENCES, isDefenceKind, resolveDefence } from '../runs/defence';
import type { AdversarialTrainingConfig, DefenceConfig, RunConfig } from '../runs/types';
import { int, num, UsageError } from './args';
import { formatDatasetSpec, parseDatasetSpec } from '../engine';

/**
 * `fim train`'s dataset, augmentation and adversarial-training flags, turned into what the
 * trainer takes. Dataset options travel inside the dataset spec (`folder:size=64,val=0.1`), so a
 * run's config.json reloads the same data on --resume and in evaluations.
 */
export interface DataFlags {
  dataset?: string | undefined;
  imageSize?: string | undefined;
  valSplit?: string | undefined;
  channels?: string | undefined;
  idxSet?: string | undefined;
}

/** Which dataset option each flag sets, and the datasets that take it. */
const FLAG_OPTIONS: { flag: keyof DataFlags; cli: string; option: string; datasets: string[] }[] = [
  { flag: 'imageSize', cli: '--image-size', option: 'size', datasets: ['folder', 'gtsrb'] },
  { flag: 'valSplit', cli: '--val-split', option: 'val', datasets: ['folder'] },
  { flag: 'channels', cli: '--channels', option: 'channels', datasets: ['folder'] },
  { flag: 'idxSet', cli: '--idx-set', option: 'set', datasets: ['idx'] },
];

export function datasetSpecFromFlags(f: DataFlags): string {
  let spec;
  try {
    spec = parseDatasetSpec(f.dataset ?? 'mnist');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const options: Record<string, string> = { ...spec.options };
  for (const o of FLAG_OPTIONS) {
    const v = f[o.flag];
    if (v === undefined) continue;
    if (!o.datasets.includes(spec.name)) throw new UsageError(`${o.cli} applies to --dataset ${o.datasets.join(' or ')}, not ${spec.name}`);
    if (o.option in options) throw new UsageError(`${o.cli} and the dataset's own ${o.option}= option are both given`);
    options[o.option] = v;
  }
  return formatDatasetSpec(spec.name, options);
}

export const AUGMENTATIONS = ['none', 'crop', 'crop-flip'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** What each dataset usually gets: crop + flip for CIFAR-10, crop only for traffic signs (a flipped sign can mean another sign). */
export function defaultAugmentation(datasetSpec: string): Augmentation {
  const name = parseDatasetSpec(datasetSpec).name;
  return name === 'cifar10' ? 'crop-flip' : name === 'gtsrb' ? 'crop' : 'none';
}

export function augmentationFromFlag(v: string | undefined, datasetSpec: string): NonNullable<RunConfig['augmentation']> {
  if (v === undefined) return defaultAugmentation(datasetSpec);
  if (!(AUGMENTATIONS as readonly string[]).includes(v))
    throw new UsageError(`--augment must be one of ${AUGMENTATIONS.join(', ')}, got "${v}"`);
  return v as Augmentation;
}

export interface AdversarialFlags {
  adversarialTraining?: boolean | undefined;
  eps?: string | undefined;
  steps?: string | undefined;
  stepSize?: string | undefined;
  ratio?: string | undefined;
}

/**
 * Default l∞ radius: Madry et al.'s 0.3 for MNIST-like grey digits (mnist, idx), their 8/255 for
 * colour images. Default step size: their rule 2.5·ε/steps, which lets a PGD path reach the edge of
 * the ball from any start.
 */
export function defaultAtEpsilon(datasetSpec: string): number {
  const name = parseDatasetSpec(datasetSpec).name;
  return name === 'mnist' || name === 'idx' ? 0.3 : 8 / 255;
}

export const DEFAULT_AT_STEPS = 10;

export function adversarialFromFlags(f: AdversarialFlags, datasetSpec: string): AdversarialTrainingConfig | undefined {
  const given = [
    ['at-eps', f.eps],
    ['at-steps', f.steps],
    ['at-step-size', f.stepSize],
    ['at-ratio', f.ratio],
  ].filter(([, v]) => v !== undefined);
  if (!f.adversarialTraining) {
    if (given.length) throw new UsageError(`--${given[0]![0]} needs --adversarial-training`);
    return undefined;
  }
  const epsilon = num('at-eps', f.eps, defaultAtEpsilon(datasetSpec));
  if (!(epsilon > 0 && epsilon <= 1)) throw new UsageError(`--at-eps (l∞ radius, pixels in [0, 1]) must be in (0, 1], got ${epsilon}`);
  const steps = int('at-steps', f.steps, DEFAULT_AT_STEPS);
  const stepSize = num('at-step-size', f.stepSize, (2.5 * epsilon) / steps);
  if (!(stepSize > 0)) throw new UsageError(`--at-step-size must be > 0, got ${stepSize}`);
  const ratio = num('at-ratio', f.ratio, 1);
  if (!(ratio > 0 && ratio <= 1))
    throw new UsageError(`--at-ratio (fraction of each batch replaced by PGD examples) must be in (0, 1], got ${ratio}`);
  return { epsilon, steps, stepSize, ratio };
}

export interface DefenceFlags {
  defence?: string | undefined;
  weight?: string | undefined;
  options?: string[] | undefined;
  mu?: string | undefined;
}

/**
 * `--defence KIND --weight W --defence-option K=V` (and the older `--mu`), turned into the run's μ
 * and defence (src/runs/defence.ts). One defence per run: `--mu` is the trace defence's weight,
 * so it goes with no `--defence` or with none at all.
 */
export function defenceFromFlags(f: DefenceFlags, defaultMu: number): { mu: number; defence?: DefenceConfig } {
  if (f.defence === undefined) {
    if (f.weight !== undefined) throw new UsageError('--weight needs --defence (the weight of the trace term alone is --mu)');
    if (f.options?.length) throw new UsageError('--defence-option needs --defence');
    const mu = num('mu', f.mu, defaultMu);
    if (mu < 0) throw new UsageError(`--mu must be ≥ 0, got ${mu}`);
    return { mu };
  }
  if (!isDefenceKind(f.defence)) throw new UsageError(`--defence must be one of ${DEFENCE_KINDS.join(', ')}, got "${f.defence}"`);
  if (f.mu !== undefined) throw new UsageError(`--mu is the trace defence's weight; with --defence ${f.defence} give --weight`);
  const options: Record<string, number> = {};
  for (const raw of f.options ?? []) {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new UsageError(`--defence-option expects key=value, got "${raw}"`);
    options[raw.slice(0, eq)] = num('defence-option', raw.slice(eq + 1), 0);
  }
  const weight = f.weight === undefined ? undefined : num('weight', f.weight, 0);
  try {
    return resolveDefence(f.defence, weight, options);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--defence ${e.message}`);
    throw e;
  }
}

/** The usage lines of the defences, from their one declaration. */
export function defenceUsage(): string {
  return DEFENCES.map((d) => {
    const opts = Object.entries(d.options)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return `                         ${d.kind}: ${d.title}; weight ${d.weightMeaning} [${d.defaultWeight}]${opts ? `; options ${opts}` : ''}`;
  }).join('\n');
}
