/**
 * `fim reproduce` from VS Code: start (quick, full or a custom plan), resume, stop, and the report
 * panel, live while it runs (src/extension/reproductions.ts runs the CLI process).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMMAND } from '../commandIds';
import { parsedBy, runForm } from '../form';
import { parseBudgets, parsePositiveInt } from '../inputs';
import { describeReproduction, readReproduction, type ReproduceChoice, type ReproductionInfo } from '../reproductionModel';
import { fimFolder } from '../reproductions';
import type { CommandDeps, CommandHandlers } from './context';

/** A reproduction directory from a command argument: a tree node, a path or a Uri. */
export function reproductionDirFromArg(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && 'reproduction' in arg) return (arg as { reproduction: ReproductionInfo }).reproduction.dir;
  return undefined;
}

async function pickReproduction(
  deps: CommandDeps,
  arg: unknown,
  title: string,
  filter: (r: ReproductionInfo) => boolean,
  none: string,
): Promise<ReproductionInfo | undefined> {
  const dir = reproductionDirFromArg(arg);
  if (dir) return readReproduction(dir);
  const list = deps.reproductions.list().filter(filter);
  if (list.length === 0) {
    void vscode.window.showInformationMessage(`FIM: ${none}`);
    return undefined;
  }
  if (list.length === 1) return list[0];
  const pick = await vscode.window.showQuickPick(
    list.map((r: ReproductionInfo) => ({ label: r.name, description: describeReproduction(r), detail: r.dir, r })),
    { title, ignoreFocusOut: true },
  );
  return pick?.r;
}

/** The custom plan's form: the flags of `fim reproduce` that shape the plan. */
async function customChoice(base: string): Promise<ReproduceChoice | undefined> {
  const a = await runForm<{
    mus: number[];
    seeds: number;
    epochs: number;
    samples: number;
    tableSamples: number;
    baselines: boolean;
    dir: string;
  }>('Reproduce (custom plan)', [
    {
      type: 'text',
      key: 'mus',
      title: 'μ values to train (0, the baseline, is always added)',
      prompt: 'the paper: 0.005, 0.01, 0.015, 0.02, 0.022, 0.024',
      value: () => '0.022',
      parse: (t) => {
        const v = parseBudgets(t);
        return v && v.some((m) => m > 0) ? { value: v } : { error: 'numbers ≥ 0, at least one > 0' };
      },
    },
    {
      type: 'text',
      key: 'seeds',
      title: 'training seeds per μ',
      value: () => '1',
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'text',
      key: 'epochs',
      title: 'epochs per model',
      prompt: 'the defence shows from about 4 MNIST epochs on (docs/design.md §2)',
      value: () => '4',
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'text',
      key: 'samples',
      title: 'test samples for Fig. 3 and 5, the inspections and the sanity checks',
      value: () => '300',
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'text',
      key: 'tableSamples',
      title: 'test samples for Tables 1 and 2',
      value: () => '12',
      parse: parsedBy(parsePositiveInt, 'a positive integer'),
    },
    {
      type: 'pick',
      key: 'baselines',
      title: 'comparison models',
      options: () => [
        { label: 'without LSR and PGD-AT', detail: 'faster', value: false },
        { label: 'with LSR (α = 0.1) and PGD adversarial training', detail: 'two more trainings; PGD-AT costs several', value: true },
      ],
    },
    {
      type: 'text',
      key: 'dir',
      title: 'reproduction directory',
      prompt: 'relative to the workspace folder; the same directory again resumes what is there',
      value: () => path.join('.fim', 'reproduce-custom'),
      parse: (t) => (t.trim() ? { value: t.trim() } : { error: 'a directory' }),
    },
  ]);
  if (!a) return undefined;
  return {
    mode: 'custom',
    outDir: path.isAbsolute(a.dir) ? a.dir : path.join(base, a.dir),
    mus: a.mus,
    seeds: a.seeds,
    epochs: a.epochs,
    samples: a.samples,
    tableSamples: a.tableSamples,
    baselines: a.baselines,
  };
}

async function reproduce(deps: CommandDeps, mode?: unknown): Promise<void> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const fim = fimFolder();
  if (!base || !fim) {
    void vscode.window.showErrorMessage('FIM: open a folder first; the reproduction is written to its .fim/ folder.');
    return;
  }
  type Item = vscode.QuickPickItem & { mode: ReproduceChoice['mode'] };
  const items: Item[] = [
    {
      label: 'Quick',
      description: 'fim reproduce --quick · about 4 min on 2 CPU cores',
      detail: 'baseline and μ = 0.022 for 4 epochs each; 300 test samples for the figures, 12 for the tables; the report lists every cut',
      mode: 'quick',
    },
    {
      label: 'Full',
      description: 'fim reproduce · about 2 h on 2 cores',
      detail: '7 μ values × 3 seeds × 6 epochs, LSR and PGD-AT comparison models, 1,000 test samples, Foolbox 2.4 settings for Table 1',
      mode: 'full',
    },
    { label: 'Custom…', detail: 'choose μ, seeds, epochs, sample counts and the comparison models', mode: 'custom' },
  ];
  const pick =
    mode === 'quick' || mode === 'full'
      ? items.find((i) => i.mode === mode)
      : await vscode.window.showQuickPick(items, { title: 'FIM: reproduce the paper’s MNIST results', ignoreFocusOut: true });
  if (!pick) return;
  const choice: ReproduceChoice | undefined =
    pick.mode === 'custom'
      ? await customChoice(base)
      : { mode: pick.mode, outDir: path.join(fim, pick.mode === 'quick' ? 'reproduce-quick' : 'reproduce') };
  if (!choice) return;
  const existing = readReproduction(choice.outDir);
  if (existing.live) {
    void vscode.window.showWarningMessage(`FIM: a fim reproduce (pid ${existing.progress?.pid}) is already working in ${choice.outDir}.`);
    return;
  }
  // The panel shows "starting" until the CLI writes its first files.
  fs.mkdirSync(choice.outDir, { recursive: true });
  await deps.reproductions.start(choice, () => deps.panels.open({ kind: 'report', dir: choice.outDir }, vscode.ViewColumn.Beside, true));
}

async function resume(deps: CommandDeps, arg: unknown): Promise<void> {
  const r = await pickReproduction(
    deps,
    arg,
    'FIM: reproduction to resume',
    (x) => !x.live && Boolean(x.plan),
    'no stopped or unfinished reproduction with a plan.json in this workspace.',
  );
  if (!r) return;
  if (r.live) {
    void vscode.window.showInformationMessage(`FIM: the reproduction in ${r.name} is running.`);
    return;
  }
  if (!r.plan) {
    void vscode.window.showErrorMessage(`FIM: ${r.dir} has no plan.json to resume.`);
    return;
  }
  await deps.reproductions.start({ mode: r.plan.mode, outDir: r.dir, resume: true }, () =>
    deps.panels.open({ kind: 'report', dir: r.dir }, vscode.ViewColumn.Beside, true),
  );
}

async function stop(deps: CommandDeps, arg: unknown): Promise<void> {
  const r = await pickReproduction(
    deps,
    arg,
    'FIM: reproduction to stop',
    (x) => deps.reproductions.isRunning(x.dir),
    'no reproduction started from this window is running.',
  );
  if (!r) return;
  if (!deps.reproductions.stop(r.dir)) {
    void vscode.window.showWarningMessage(
      r.live
        ? `FIM: the reproduction in ${r.name} was started elsewhere (pid ${r.progress?.pid}); stop it there (Ctrl-C).`
        : `FIM: the reproduction in ${r.name} is not running.`,
    );
  }
}

async function openReport(deps: CommandDeps, arg: unknown): Promise<void> {
  const r = await pickReproduction(
    deps,
    arg,
    'FIM: report of reproduction',
    (x) => x.hasReport || x.live,
    'no reproduction report in this workspace yet; run FIM: Reproduce Paper Results.',
  );
  if (r) deps.panels.open({ kind: 'report', dir: r.dir });
}

export function reproduceCommands(deps: CommandDeps): CommandHandlers {
  return {
    [COMMAND.reproduce]: (mode) => reproduce(deps, mode),
    [COMMAND.resumeReproduction]: (arg) => resume(deps, arg),
    [COMMAND.stopReproduction]: (arg) => stop(deps, arg),
    [COMMAND.openReport]: (arg) => openReport(deps, arg),
    [COMMAND.revealReproduction]: (arg) => {
      const dir = reproductionDirFromArg(arg);
      if (dir) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    },
  };
}
