/**
 * A dataset as a run's config.json names it: `NAME` or `NAME:key=value,key=value`, e.g.
 * `folder:size=64,val=0.1`. Keeping a loader's options inside the name means every consumer that
 * reloads a run's data (resume, evaluations, the extension) gets the same samples from
 * `loadDataset(config.dataset, config.dataDir)` alone.
 */
export interface DatasetSpec {
  name: string;
  options: Record<string, string>;
}

export class DatasetSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetSpecError';
  }
}

const KEY = /^[a-z][a-z0-9-]*$/;

export function parseDatasetSpec(spec: string): DatasetSpec {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const options: Record<string, string> = {};
  if (colon >= 0) {
    for (const part of spec.slice(colon + 1).split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      const key = eq < 0 ? '' : part.slice(0, eq).trim();
      if (!KEY.test(key)) throw new DatasetSpecError(`dataset "${spec}": "${part}" is not a key=value option`);
      if (key in options) throw new DatasetSpecError(`dataset "${spec}": option ${key} is given twice`);
      options[key] = part.slice(eq + 1).trim();
    }
  }
  return { name, options };
}

/** The spec string for a name and options; options whose value is undefined are left out. */
export function formatDatasetSpec(name: string, options: Record<string, string | number | undefined>): string {
  const parts = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? `${name}:${parts.join(',')}` : name;
}
