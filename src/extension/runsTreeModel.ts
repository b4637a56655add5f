/**
 * What the runs tree shows for each run and evaluation, as plain data (label, description,
 * tooltip, icon, context value), so it can be tested without VS Code. The provider maps it onto
 * TreeItems.
 */
import * as path from 'node:path';
import type { EvalKind } from '../runs/evals';
import { defenceLabel } from '../runs/defence';
import { evalFile } from '../runs/paths';
import { readEvalKindField } from '../runs/reader';
import { latestAutoAttack } from '../runs/autoattack';
import type { RunInfo } from '../runs/types';
import type { JobProgressParams } from '../protocol/engine';

export interface ItemModel {
  label: string;
  description: string;
  /** Markdown. */
  tooltip: string;
  /** Codicon id, and a theme colour id for it. */
  icon: string;
  iconColor?: string;
  contextValue: string;
  collapsible: boolean;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`);

const STATE_ICON: Record<string, [string, string?]> = {
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'testing.iconPassed'],
  stopped: ['debug-pause', 'charts.yellow'],
  failed: ['error', 'testing.iconFailed'],
  incomplete: ['warning', 'charts.orange'],
  unreadable: ['question', 'problemsWarningIcon.foreground'],
  damaged: ['error', 'problemsErrorIcon.foreground'],
};

export function runItemModel(run: RunInfo, live?: JobProgressParams): ItemModel {
  const state = run.effectiveState;
  const name = run.config?.name ?? run.summary?.name ?? run.id;
  const mu = run.config?.mu ?? run.summary?.mu;
  const parts: string[] = [];
  const imported = run.config?.imported;
  parts.push(
    imported ? 'imported' : run.config?.defence ? defenceLabel(run.config) : mu === undefined ? 'μ=?' : mu === 0 ? 'baseline' : `μ=${mu}`,
  );
  if (state === 'running' && live) {
    parts.push(live.fraction !== undefined ? `${Math.round(live.fraction * 100)}%` : 'running');
    if (live.epoch !== undefined && live.epochs !== undefined) parts.push(`epoch ${live.epoch}/${live.epochs}`);
  } else if (state === 'running' && run.status) {
    parts.push(run.status.totalSteps ? `${Math.round((run.status.step / run.status.totalSteps) * 100)}%` : 'running');
  } else {
    parts.push(state);
  }
  if (run.summary?.testAccuracy !== undefined && run.summary.testAccuracy !== null) parts.push(`acc ${pct(run.summary.testAccuracy)}`);
  const aa = latestAutoAttack(run.dir, run.evals);
  if (aa) parts.push(`AutoAttack ${pct(aa.robustAccuracy)} @ ${aa.norm === 'linf' ? 'l∞' : 'l2'} ${aa.epsilon}`);
  const [icon, iconColor] = STATE_ICON[state] ?? ['circle-outline'];
  const tip = [`**${name}**`, '', `\`${run.dir}\``, ''];
  if (imported) {
    tip.push(
      `imported from \`${imported.source}\` (${imported.format}${imported.opset ? `, opset ${imported.opset}, ${imported.inputLayout?.toUpperCase()} input` : ''}) on ${run.config!.dataset} (${run.config!.testSamples} test samples); fine-tune it with Train Defended Model on the file`,
    );
  } else if (run.config) {
    tip.push(
      `model \`${path.basename(run.config.model)}\` on ${run.config.dataset} (${run.config.trainSamples} train / ${run.config.testSamples} test)`,
    );
    tip.push(
      `${run.config.defence ? defenceLabel(run.config) : `μ = ${run.config.mu}`}${run.config.labelSmoothing ? `, label smoothing ${run.config.labelSmoothing}` : ''}, ${run.config.epochs} epoch(s), batch ${run.config.batchSize}, lr ${run.config.learningRate}, seed ${run.config.seed}`,
    );
  }
  tip.push('', `state: **${state}**${run.status?.message ? ` — ${run.status.message}` : ''}`);
  if (live && state === 'running') tip.push(`progress: ${live.message}`);
  if (run.summary) {
    const s = run.summary;
    tip.push(
      `test accuracy ${pct(s.testAccuracy)}, tr G_s mean ${s.testMeanTraceGs?.toPrecision(4) ?? '–'} / median ${s.testMedianTraceGs?.toPrecision(4) ?? '–'}, ${s.epochsCompleted}/${s.epochs} epochs, ${s.backend}`,
    );
  }
  if (aa)
    tip.push(
      `latest AutoAttack (${aa.version}, ${aa.name}): robust accuracy **${pct(aa.robustAccuracy)}** [${pct(aa.robustAccuracyCi[0])}, ${pct(aa.robustAccuracyCi[1])}] at ${aa.norm === 'linf' ? 'l∞' : 'l2'} ε = ${aa.epsilon} on ${aa.samples} test samples`,
    );
  if (run.problems.length) tip.push('', `problems: ${run.problems.join('; ')}`);
  const resumable = state === 'stopped' || state === 'incomplete' || (state === 'failed' && Boolean(run.status?.latestCheckpoint));
  return {
    label: name,
    description: parts.join(' · '),
    tooltip: tip.join('\n\n').replace(/\n\n\n\n/g, '\n\n'),
    icon,
    ...(iconColor ? { iconColor } : {}),
    contextValue: `fimRun.${state}${resumable ? '.resumable' : ''}${run.config ? '' : '.noconfig'}${imported ? '.imported' : ''}`,
    collapsible: run.evals.length > 0,
  };
}

const EVAL_ICON: Record<EvalKind, string> = {
  inspect: 'microscope',
  sweep: 'graph-line',
  distance: 'ruler',
  transfer: 'arrow-swap',
  'worst-case': 'shield',
  autoattack: 'shield',
};

const EVAL_LABEL: Record<EvalKind, string> = {
  inspect: 'FIM inspection',
  sweep: 'attack sweep',
  distance: 'min. distances',
  transfer: 'transfer',
  'worst-case': 'worst case',
  autoattack: 'AutoAttack',
};

/** An eval file's kind, if it is one the tree knows (see readEvalKindField). */
export function readEvalKind(runDir: string, name: string): EvalKind | null {
  const k = readEvalKindField(runDir, name);
  return k && k in EVAL_ICON ? (k as EvalKind) : null;
}

export function evalItemModel(runDir: string, name: string, kind: EvalKind | null): ItemModel {
  return {
    label: name,
    description: kind ? EVAL_LABEL[kind] : 'evaluation',
    tooltip: `**${name}** (${kind ? EVAL_LABEL[kind] : 'unknown kind'})\n\n\`${evalFile(runDir, name)}\``,
    icon: kind ? EVAL_ICON[kind] : 'file',
    contextValue: `fimEval.${kind ?? 'unknown'}`,
    collapsible: false,
  };
}
