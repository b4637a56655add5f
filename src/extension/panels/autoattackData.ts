/**
 * The AutoAttack panel's data, read from the run store (no `vscode` import; tested on fixture
 * runs): a run's AutoAttack evaluations, newest first, and the robustness curves of the other runs
 * in the same store, to overlay.
 */
import * as path from 'node:path';
import { autoAttackEvals } from '../../runs/autoattack';
import { listRuns, readRun } from '../../runs/reader';
import type { AutoAttackData } from '../../protocol/webview';
import { PanelDataError, runRef } from './panelData';

export function loadAutoAttackData(runDir: string, evalName?: string): Omit<AutoAttackData, 'assetsBase'> {
  const run = readRun(runDir);
  if (!run.config && !run.status)
    throw new PanelDataError(`${runDir} is not a readable run (${run.problems.join('; ') || 'no config.json or status.json'})`);
  const evals = autoAttackEvals(run.dir, run.evals)
    .filter((e) => Array.isArray(e.result.cascade) && Array.isArray(e.result.perSample))
    .map((e) => ({ evalName: e.name, eval: e.result }));
  if (evals.length === 0) throw new PanelDataError(`run ${run.id} has no AutoAttack evaluation yet; run FIM: Run AutoAttack on it first`);
  if (evalName && !evals.some((e) => e.evalName === evalName))
    throw new PanelDataError(`run ${run.id} has no AutoAttack evaluation named ${evalName}`);
  const overlays: AutoAttackData['overlays'] = [];
  for (const other of listRuns(path.dirname(run.dir))) {
    if (path.resolve(other.dir) === path.resolve(run.dir)) continue;
    for (const e of autoAttackEvals(other.dir, other.evals))
      if (e.result.curve) overlays.push({ run: runRef(other), evalName: e.name, epsilon: e.result.epsilon, curve: e.result.curve });
  }
  return { run: runRef(run), evals, selected: evalName ?? evals[0]!.evalName, overlays };
}
