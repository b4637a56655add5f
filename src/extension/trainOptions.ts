/** The training form's PGD adversarial-training choice as the trainer takes it (pure, tested). */
import { defaultAtEpsilonFor, defaultAtStepSize } from '../protocol/trainDefaults';
import type { AdversarialTrainingConfig } from '../runs/types';
import type { Settings } from './settings';

/**
 * `off`: none. `default`: the settings, with the dataset's radius when the setting is 0 and
 * Madry et al.'s step 2.5·ε/steps, as `fim train --adversarial-training` does. `custom`: the
 * values the form asked for.
 */
export function adversarialOf(
  choice: 'off' | 'default' | 'custom',
  datasetName: string,
  s: Settings['train'],
  custom: { atEpsilon: number; atSteps: number; atStepSize: number; atRatio: number },
): AdversarialTrainingConfig | undefined {
  if (choice === 'off') return undefined;
  if (choice === 'custom') return { epsilon: custom.atEpsilon, steps: custom.atSteps, stepSize: custom.atStepSize, ratio: custom.atRatio };
  const epsilon = s.atEpsilon || defaultAtEpsilonFor(datasetName);
  return { epsilon, steps: s.atSteps, stepSize: defaultAtStepSize(epsilon, s.atSteps), ratio: s.atRatio };
}
