/** What the CodeLens says about a model file's runs (pure, for tests). */
import * as path from 'node:path';
import type { RunInfo } from '../runs/types';
import { evalsOfKind, loadEval } from './panels/panelData';

/** The latest completed run of a model file and its OSSA fooling ratio at the largest budget. */
export function latestRunSummary(runs: readonly RunInfo[], modelFile: string): { run: RunInfo; text: string } | null {
  const file = path.resolve(modelFile);
  const mine = runs.filter((r) => r.config && path.resolve(r.config.model) === file && r.summary);
  const run = mine[0]; // listRuns is newest first
  if (!run) return null;
  const parts = [
    `latest run ${run.config!.name}: ${run.summary!.testAccuracy === null ? 'no accuracy yet' : `${(run.summary!.testAccuracy * 100).toFixed(1)}% accuracy`}`,
  ];
  for (const name of evalsOfKind(run, 'sweep')) {
    try {
      const ev = loadEval(run.dir, name, 'sweep');
      if (ev.attack.toLowerCase() !== 'ossa' || ev.results.length === 0) continue;
      const last = ev.results.reduce((a, b) => (b.budget > a.budget ? b : a));
      parts.push(`OSSA fooling ${(last.foolingRatio * 100).toFixed(1)}% at ε=${last.budget}`);
      break;
    } catch {
      // a damaged eval file is reported when opened, not in a lens
    }
  }
  return { run, text: parts.join(' · ') };
}
