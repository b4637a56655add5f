import { ATTACK_NAMES } from '../../engine/attacks/registry';
import { distanceRun, TABLE1_ATTACKS } from '../../engine/eval/distance';
import { transferRun } from '../../engine/eval/transfer';
import { worstCaseRun } from '../../engine/eval/worstCase';
import { parse, UsageError, type Command } from '../args';
import { fmt, pct, printJson, Progress, table } from '../output';
import { attackList, attackOptions, budgetList, commandLine, openRun, optionalInt, progressHook, sampleUsage, SAMPLE_FLAGS, selectionFrom, startBackend, cancellable, CANCELLED_EXIT } from './evalShared';

const DISTANCE_SAMPLES = 100;
const TRANSFER_SAMPLES = 100;
const WORST_SAMPLES = 500;

const usage = `fim eval <distance|transfer|worst-case> [options]

fim eval distance --run DIR [--attacks LIST] [options]
  Minimum adversarial distance per attack (the paper's Table 1), found by each attack's own
  search (Foolbox 2.4's), on the correctly classified samples: mean and median in the natural norm
  (l0 pixels, l1, l2, l∞) and in Foolbox 2's units (MSE, MAE, Linf, L0), with the success rate.
  --attacks LIST   [${TABLE1_ATTACKS.join(',')}]
  --option A.K=V   override option K of attack A (repeatable), e.g. --option cw.steps=200
${sampleUsage(DISTANCE_SAMPLES, 'distance')}

fim eval transfer --from DIR --to DIR --attack NAME [--eps E] [options]
  Adversarial examples crafted on one run, classified by the other, both directions (Table 2).
  Without --eps the attack's minimum-distance search crafts them (as the paper did with Foolbox);
  with --eps, the fixed budget. Written to both runs' evals/.
  --option K=V     override an attack option (repeatable)
${sampleUsage(TRANSFER_SAMPLES, 'transfer-<attack>-<other run>')}

fim eval worst-case --run DIR --attacks LIST --eps LIST [options]
  Robust accuracy per budget when a sample counts as broken if any attack in the list breaks it
  (AutoAttack's rule). The attacks must share a norm (OSSA joins l2 lists with ε as l2 norm).
  --option A.K=V   override option K of attack A (repeatable)
${sampleUsage(WORST_SAMPLES, 'worst-case-<norm>')}

Attacks: ${ATTACK_NAMES.join(', ')}`;

const ci = (c: [number, number]) => `[${pct(c[0], 1)}, ${pct(c[1], 1)}]`;

async function distance(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...SAMPLE_FLAGS, run: { type: 'string' }, attacks: { type: 'string' }, option: { type: 'string', multiple: true } });
  if (v.help) return help();
  const attacks = attackList(v.attacks ?? TABLE1_ATTACKS.join(','));
  const options = attackOptions(v.option, attacks);
  const selection = selectionFrom(v, DISTANCE_SAMPLES);
  const seed = optionalInt('seed', v.seed, 0);
  const batchSize = optionalInt('batch', v.batch);
  const progress = new Progress();
  await startBackend(v.backend, progress);
  const run = await openRun(v.run, 'run', progress);
  const done = await cancellable(progress, (signal) =>
    distanceRun(run, {
      attacks,
      selection,
      options,
      ...(seed !== undefined ? { seed } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(v.name ? { name: v.name } : {}),
      command: commandLine('eval', ['distance', ...argv]),
      onProgress: progressHook(progress),
      signal,
    }),
  );
  if (!done) return CANCELLED_EXIT;
  const { file, result } = done;
  progress.clear();
  progress.line(`wrote ${file}`);
  if (v.json) {
    printJson({ file, ...result });
    return 0;
  }
  const rows = result.results.map((r) => [
    r.attack,
    r.norm,
    fmt(r.meanDistance),
    fmt(r.medianDistance),
    `${r.foolbox2.unit} ${fmt(r.foolbox2.mean)}`,
    fmt(r.foolbox2.median),
    `${pct(r.successRate, 1)} ${r.successRateCi ? ci(r.successRateCi) : ''}`,
    `${r.found ?? '-'}/${r.samples}`,
  ]);
  process.stdout.write(table(['attack', 'norm', 'mean distance', 'median', 'Foolbox-2 mean', 'Foolbox-2 median', 'success', 'found'], rows) + '\n');
  return 0;
}

async function transfer(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...SAMPLE_FLAGS, from: { type: 'string' }, to: { type: 'string' }, attack: { type: 'string' }, eps: { type: 'string' }, option: { type: 'string', multiple: true } });
  if (v.help) return help();
  if (!v.attack) throw new UsageError('--attack NAME is required');
  const [attack] = attackList(v.attack, 'attack');
  let budget: number | undefined;
  if (v.eps !== undefined) {
    const b = budgetList('eps', v.eps);
    if (b.length !== 1) throw new UsageError('--eps takes one budget for transfer');
    budget = b[0];
  }
  const options = attackOptions(v.option, [attack!])[attack!];
  const selection = selectionFrom(v, TRANSFER_SAMPLES);
  const seed = optionalInt('seed', v.seed, 0);
  const batchSize = optionalInt('batch', v.batch);
  const progress = new Progress();
  await startBackend(v.backend, progress);
  const from = await openRun(v.from, 'from', progress);
  const to = await openRun(v.to, 'to', progress);
  const done = await cancellable(progress, (signal) =>
    transferRun(from, to, {
      attack: attack!,
      ...(budget !== undefined ? { budget } : {}),
      selection,
      ...(options ? { options } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(v.name ? { name: v.name } : {}),
      command: commandLine('eval', ['transfer', ...argv]),
      onProgress: progressHook(progress),
      signal,
    }),
  );
  if (!done) return CANCELLED_EXIT;
  const { files, result } = done;
  progress.clear();
  for (const f of files) progress.line(`wrote ${f}`);
  if (v.json) {
    printJson({ files, ...result });
    return 0;
  }
  const rows = result.results.map((r) => [r.attack, r.source, r.target, `${r.samples}/${r.crafted ?? '-'}`, pct(r.sourceAccuracy), pct(r.targetAccuracy), ci(r.targetAccuracyCi)]);
  process.stdout.write(
    [
      `adversarials crafted on the source (${budget === undefined ? 'minimum-distance search' : `budget ${budget}`}), classified by the target; target accuracy over those that fooled the source`,
      table(['attack', 'source', 'target', 'fooled source', 'source acc.', 'target acc.', '95% CI'], rows),
    ].join('\n') + '\n',
  );
  return 0;
}

async function worstCase(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...SAMPLE_FLAGS, run: { type: 'string' }, attacks: { type: 'string' }, eps: { type: 'string' }, option: { type: 'string', multiple: true } });
  if (v.help) return help();
  const attacks = attackList(v.attacks);
  const budgets = budgetList('eps', v.eps);
  const options = attackOptions(v.option, attacks);
  const selection = selectionFrom(v, WORST_SAMPLES);
  const seed = optionalInt('seed', v.seed, 0);
  const batchSize = optionalInt('batch', v.batch);
  const progress = new Progress();
  await startBackend(v.backend, progress);
  const run = await openRun(v.run, 'run', progress);
  const done = await cancellable(progress, (signal) =>
    worstCaseRun(run, {
      attacks,
      budgets,
      selection,
      options,
      ...(seed !== undefined ? { seed } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(v.name ? { name: v.name } : {}),
      command: commandLine('eval', ['worst-case', ...argv]),
      onProgress: progressHook(progress),
      signal,
    }),
  );
  if (!done) return CANCELLED_EXIT;
  const { file, result } = done;
  progress.clear();
  progress.line(`wrote ${file}`);
  if (v.json) {
    printJson({ file, ...result });
    return 0;
  }
  const rows = result.results.map((r) => [fmt(r.budget), pct(r.robustAccuracy), ci(r.robustAccuracyCi), ...result.attacks.map((a) => pct(r.perAttackAccuracy[a]))]);
  process.stdout.write(
    [`worst case over ${result.attacks.join(', ')} (${result.norm}); clean accuracy ${pct(result.cleanAccuracy)} on ${result.samples} samples`, table(['ε', 'robust acc.', '95% CI', ...result.attacks], rows)].join('\n') + '\n',
  );
  return 0;
}

function help(): number {
  process.stdout.write(usage + '\n');
  return 0;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'robustness evaluations: minimum distance (Table 1), transfer (Table 2), worst case',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'distance') return distance(rest);
    if (sub === 'transfer') return transfer(rest);
    if (sub === 'worst-case') return worstCase(rest);
    if (sub === '--help' || sub === '-h' || sub === 'help') return help();
    throw new UsageError(sub ? `unknown evaluation "${sub}"; expected distance, transfer or worst-case` : 'name an evaluation: distance, transfer or worst-case');
  },
};
