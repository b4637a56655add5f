/**
 * Training defaults that depend on the dataset, shared by `fim train` (src/cli/trainFlags.ts) and
 * the extension's training form, so both offer the same run for the same choices.
 */
export const AUGMENTATIONS = ['none', 'crop', 'crop-flip'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** What each dataset usually gets: crop + flip for CIFAR-10, crop only for traffic signs (a flipped sign can mean another sign). */
export function defaultAugmentationFor(datasetName: string): Augmentation {
  return datasetName === 'cifar10' ? 'crop-flip' : datasetName === 'gtsrb' ? 'crop' : 'none';
}

/** Default l∞ radius of PGD adversarial training: Madry et al.'s 0.3 for MNIST-like grey digits (mnist, idx), their 8/255 for colour images. */
export function defaultAtEpsilonFor(datasetName: string): number {
  return datasetName === 'mnist' || datasetName === 'idx' ? 0.3 : 8 / 255;
}

export const DEFAULT_AT_STEPS = 10;
export const DEFAULT_AT_RATIO = 1;

/** Madry et al.'s step rule 2.5·ε/steps, which lets a PGD path reach the edge of the ball from any start. */
export function defaultAtStepSize(epsilon: number, steps: number): number {
  return (2.5 * epsilon) / steps;
}
