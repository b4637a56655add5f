/** Evaluations started from VS Code: the per-sample FIM inspection and attack sweeps. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AttackSweep, Inspect } from '../../protocol/engine';
import { COMMAND } from '../commandIds';
import { defaultBudgets, parseBudgets, parsePositiveInt } from '../inputs';
import { readSettings } from '../settings';
import { engineInfo, hasCheckpoint, pickRun, type CommandDeps, type CommandHandlers } from './context';

/** Every inspected sample gets its image and eigen-direction in the table, up to this many (two small PNGs each). */
const MAX_INSPECT_IMAGES = 2000;

async function inspectRun(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to inspect', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const text = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: test samples to inspect',
    value: String(readSettings().inspectSamples),
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (text === undefined) return;
  const result = await deps.jobs.run('inspect', `Inspect ${run.config?.name ?? run.id}`, Inspect, {
    runDir: run.dir,
    samples: parsePositiveInt(text)!,
    images: Math.min(parsePositiveInt(text)!, MAX_INSPECT_IMAGES),
  });
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'inspect', runDir: run.dir, evalName: path.basename(result.evalFile, '.json') });
}

async function attackSweep(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run to attack', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const described = new Map(info.attacks.map((a) => [a.name, a]));
  const pick = await vscode.window.showQuickPick(
    info.attacks.map((a) => ({
      label: a.name,
      description: `${a.norm} · ${a.kind}`,
      detail: `${a.title} — ${a.budgetUnit}`,
      name: a.name,
    })),
    { title: 'FIM: attack', matchOnDetail: true, ignoreFocusOut: true },
  );
  if (!pick) return;
  const attack = pick.name;
  const a = described.get(attack);
  const budgetsText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: `FIM: budgets ε for ${attack}`,
    prompt: `comma-separated; ${a?.budgetUnit ?? 'in the attack’s own unit'}`,
    value: defaultBudgets(attack, a?.norm),
    validateInput: (v) => (parseBudgets(v) === null ? 'numbers ≥ 0 separated by commas' : undefined),
  });
  if (budgetsText === undefined) return;
  const samplesText = await vscode.window.showInputBox({
    ignoreFocusOut: true,
    title: 'FIM: test samples to attack',
    value: String(readSettings().attackSamples),
    validateInput: (v) => (parsePositiveInt(v) === null ? 'a positive integer' : undefined),
  });
  if (samplesText === undefined) return;
  const result = await deps.jobs.run('sweep', `${attack} sweep on ${run.config?.name ?? run.id}`, AttackSweep, {
    runDir: run.dir,
    attack,
    budgets: parseBudgets(budgetsText)!,
    samples: parsePositiveInt(samplesText)!,
  });
  deps.store.fireSoon(0);
  if (result) {
    const evalName = path.basename(result.evalFile, '.json');
    void vscode.window
      .showInformationMessage(`FIM: ${attack} sweep written to ${evalName}.`, 'Fooling Ratio', 'Adversarial Images')
      .then((a) => {
        if (a === 'Fooling Ratio') deps.panels.open({ kind: 'fooling', runDirs: [run.dir] });
        if (a === 'Adversarial Images') deps.panels.open({ kind: 'adversarial', runDir: run.dir, evalName });
      });
  }
}

export function evaluateCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.inspectRun]: (arg) => inspectRun(deps, arg),
    [COMMAND.attackSweep]: (arg) => attackSweep(deps, arg),
  };
}
