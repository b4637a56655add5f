import seedrandom from 'seedrandom';
import { selectSamples, type Dataset } from './dataset';

/**
 * The dataset in a fixed pseudo-random order. Loaders whose files come sorted by class apply it,
 * so that --limit-train/--limit-test (which take the first N samples) get every class, and the
 * same N samples on every load (resume, evaluations).
 */
export function shuffled(d: Dataset, seed: string): Dataset {
  const rng = seedrandom(seed);
  const order = new Int32Array(d.count);
  for (let i = 0; i < d.count; i++) order[i] = i;
  for (let i = d.count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return { ...selectSamples(d, order), name: d.name };
}
