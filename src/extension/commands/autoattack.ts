/**
 * AutoAttack from VS Code: "FIM: Run AutoAttack" (norm, ε, samples; progress with the current
 * attack and the robust accuracy so far; cancel keeps the finished attacks, and running it again
 * continues after them) and "FIM: Open AutoAttack Results".
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RunAutoAttack } from '../../protocol/engine';
import { autoAttackEvals } from '../../runs/autoattack';
import { COMMAND } from '../commandIds';
import { parsePositiveInt } from '../inputs';
import { engineInfo, hasCheckpoint, pickRun, type CommandDeps, type CommandHandlers } from './context';

/** The standard MNIST budgets, offered first. */
const DEFAULT_EPSILON = { linf: '0.3', l2: '2' } as const;
const DEFAULT_SAMPLES = 1000;

/** ε > 0 and finite, or null. */
export function parseEpsilon(v: string): number | null {
  const n = Number(v.trim());
  return v.trim() !== '' && Number.isFinite(n) && n > 0 ? n : null;
}

/** 0 or a positive integer, or null. */
function parseCount(v: string): number | null {
  return v.trim() === '0' ? 0 : parsePositiveInt(v);
}

async function runAutoAttack(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to evaluate with AutoAttack', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const norm = await vscode.window.showQuickPick(
    [
      { label: 'linf', description: 'l∞ budget (pixels in [0, 1]); MNIST standard ε = 0.3', norm: 'linf' as const },
      { label: 'l2', description: 'l2 budget; MNIST standard ε = 2', norm: 'l2' as const },
    ],
    { title: 'FIM: AutoAttack norm', ignoreFocusOut: true },
  );
  if (!norm) return;
  const epsText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: `FIM: AutoAttack budget ε (${norm.label} norm of the perturbation)`,
    value: DEFAULT_EPSILON[norm.norm],
    validateInput: (v) => (parseEpsilon(v) === null ? 'a number > 0' : undefined),
  });
  if (epsText === undefined) return;
  const samplesText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: test samples to evaluate (the first N)',
    value: String(DEFAULT_SAMPLES),
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (samplesText === undefined) return;
  const curveText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: samples for the robustness curve (FAB-T and APGD minimum norms; 0 = none)',
    prompt: 'the curve costs about as much as the cascade on a robust model; a few hundred samples are usually enough',
    value: '0',
    validateInput: (v) => (parseCount(v) === null ? '0 or a positive integer' : undefined),
  });
  if (curveText === undefined) return;
  const epsilon = parseEpsilon(epsText)!;
  const result = await deps.jobs.run(
    'autoattack',
    `AutoAttack ${norm.label} ε=${epsilon} on ${run.config?.name ?? run.id}`,
    RunAutoAttack,
    {
      runDir: run.dir,
      norm: norm.norm,
      epsilon,
      samples: parsePositiveInt(samplesText)!,
      curveSamples: parseCount(curveText)!,
    },
  );
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'autoattack', runDir: run.dir, evalName: path.basename(result.evalFile, '.json') });
}

export function autoattackCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.runAutoAttack]: (arg) => runAutoAttack(deps, arg),
    [COMMAND.openAutoAttack]: async (arg) => {
      const run = await pickRun(deps, arg, 'FIM: AutoAttack results of run', (r) => autoAttackEvals(r.dir, r.evals).length > 0);
      if (run) deps.panels.open({ kind: 'autoattack', runDir: run.dir });
    },
  };
}
