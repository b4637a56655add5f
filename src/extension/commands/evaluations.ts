/**
 * The paper's tables and the worst case from VS Code, as `fim eval distance | transfer |
 * worst-case` run them: each a form (defaults from the settings and the CLI), a job in the engine
 * (progress, Stop), then its panel.
 */
import * as vscode from 'vscode';
import { Distance, Transfer, WorstCase, type AttackInfo, type EngineInfo } from '../../protocol/engine';
import type { RunInfo } from '../../runs/types';
import { COMMAND } from '../commandIds';
import { parsedBy, runForm, type Field, type PickOption } from '../form';
import { defaultBudgets, parseBudgets, parsePositive, parsePositiveInt, worstCaseNorm } from '../inputs';
import { readSettings } from '../settings';
import { engineInfo, hasCheckpoint, pickRun, type CommandDeps, type CommandHandlers } from './context';

const attackOption = (a: AttackInfo, picked = false): PickOption<string> & { picked: boolean } => ({
  label: a.name,
  description: `${a.norm} · ${a.kind}`,
  detail: `${a.title} — ${a.budgetUnit}`,
  value: a.name,
  picked,
});

const runName = (r: RunInfo) => r.config?.name ?? r.id;

async function distance(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run for the minimum-distance evaluation (Table 1)', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const table1 = new Set(info.table1Attacks ?? []);
  const minimal = info.attacks.filter((a) => a.name !== 'ossa');
  const answers = await runForm<{ attacks: string[]; samples: number }>(`Minimum distance on ${runName(run)}`, [
    {
      type: 'multi',
      key: 'attacks',
      title: 'attacks (the paper’s Table 1 preselected)',
      placeholder: 'each finds its smallest adversarial with its own Foolbox 2.4 search',
      options: () => minimal.map((a) => attackOption(a, table1.has(a.name))),
    },
    {
      type: 'text',
      key: 'samples',
      title: 'test samples',
      prompt: 'the first N test samples; the correctly classified ones are attacked',
      value: () => String(readSettings().distanceSamples),
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
  ]);
  if (!answers) return;
  const result = await deps.jobs.run('distance', `minimum distance on ${runName(run)}`, Distance, {
    runDir: run.dir,
    attacks: answers.attacks,
    samples: answers.samples,
  });
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'distance', runDirs: [run.dir] });
}

async function transfer(deps: CommandDeps, arg: unknown): Promise<void> {
  const from = await pickRun(deps, arg, 'FIM: transfer from (adversarials crafted on this run)', hasCheckpoint);
  if (!from) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const others = deps.store
    .runs()
    .filter((r) => hasCheckpoint(r) && r.dir !== from.dir && (!from.config || !r.config || r.config.dataset === from.config.dataset));
  if (others.length === 0) {
    void vscode.window.showInformationMessage(`FIM: transfer needs a second trained run on ${from.config?.dataset ?? 'the same dataset'}.`);
    return;
  }
  const fromMu = from.config?.mu ?? 0;
  const answers = await runForm<{ to: RunInfo; attack: string; budget: number | null; samples: number }>(`Transfer from ${runName(from)}`, [
    {
      type: 'pick',
      key: 'to',
      title: 'to (the run that classifies them; both directions are measured)',
      options: () =>
        others.map((r) => ({
          label: runName(r),
          description: `${r.config?.mu ? `defended μ=${r.config.mu}` : 'baseline'} · ${r.effectiveState}`,
          detail: r.id,
          value: r,
        })),
      // Baseline ↔ defended is the paper's Table 2: offer the other role first.
      initial: () =>
        Math.max(
          0,
          others.findIndex((r) => Boolean(r.config?.mu) !== Boolean(fromMu)),
        ),
    },
    {
      type: 'pick',
      key: 'attack',
      title: 'attack',
      options: () => info.attacks.map((a) => attackOption(a)),
      initial: () =>
        Math.max(
          0,
          info.attacks.findIndex((a) => a.name === 'fgsm'),
        ),
    },
    {
      type: 'text',
      key: 'budget',
      title: 'budget ε (empty: the attack’s minimum-distance search, as the paper)',
      prompt: 'one budget in the attack’s unit, or empty',
      value: (a) => (a.attack === 'ossa' ? '1' : ''),
      parse: (t) => {
        if (t.trim() === '') return { value: null };
        const v = parsePositive(t);
        return v === null ? { error: 'one number > 0, or empty' } : { value: v };
      },
    },
    {
      type: 'text',
      key: 'samples',
      title: 'test samples',
      value: () => String(readSettings().transferSamples),
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
  ]);
  if (!answers) return;
  const result = await deps.jobs.run('transfer', `${answers.attack} transfer ${runName(from)} ↔ ${runName(answers.to)}`, Transfer, {
    fromRunDir: from.dir,
    toRunDir: answers.to.dir,
    attack: answers.attack,
    ...(answers.budget !== null ? { budget: answers.budget } : {}),
    samples: answers.samples,
  });
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'transfer', runDirs: [from.dir, answers.to.dir] });
}

function worstCaseFields(info: EngineInfo): Field<{ attacks: string[]; budgets: number[]; samples: number }>[] {
  return [
    {
      type: 'multi',
      key: 'attacks',
      title: 'attacks (one norm; a sample counts as broken if any of them breaks it)',
      options: () => info.attacks.map((a) => attackOption(a, ['pgd', 'pgd-margin', 'square'].includes(a.name))),
      check: (values) => {
        const n = worstCaseNorm(values as string[], info.attacks);
        return 'error' in n ? n.error : null;
      },
    },
    {
      type: 'text',
      key: 'budgets',
      title: 'budgets ε',
      prompt: 'comma-separated, in the attacks’ norm (OSSA: ε as the l2 norm here)',
      value: (a) => {
        const n = worstCaseNorm(a.attacks ?? [], info.attacks);
        return defaultBudgets('', 'norm' in n ? n.norm : undefined);
      },
      parse: parsedBy(parseBudgets, 'numbers ≥ 0 separated by commas'),
    },
    {
      type: 'text',
      key: 'samples',
      title: 'test samples',
      value: () => String(readSettings().worstCaseSamples),
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
  ];
}

async function worstCase(deps: CommandDeps, arg: unknown): Promise<void> {
  const run = await pickRun(deps, arg, 'FIM: run for the worst-case evaluation', hasCheckpoint);
  if (!run) return;
  const info = await engineInfo(deps.engine);
  if (!info) return;
  const answers = await runForm(`Worst case on ${runName(run)}`, worstCaseFields(info));
  if (!answers) return;
  const result = await deps.jobs.run('worst-case', `worst case on ${runName(run)}`, WorstCase, {
    runDir: run.dir,
    attacks: answers.attacks,
    budgets: answers.budgets,
    samples: answers.samples,
  });
  deps.store.fireSoon(0);
  if (result) deps.panels.open({ kind: 'worstcase', runDirs: [run.dir] });
}

export function evaluationCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.evalDistance]: (arg) => distance(deps, arg),
    [COMMAND.evalTransfer]: (arg) => transfer(deps, arg),
    [COMMAND.evalWorstCase]: (arg) => worstCase(deps, arg),
  };
}
