import { parse, UsageError, type Command } from '../args';
import { fmt, pct, Progress, table } from '../output';
import {
  attackList,
  attackOptions,
  budgetList,
  CANCELLED_EXIT,
  ciText,
  openRun,
  requestBase,
  runEvaluation,
  runShardEvaluation,
  SAMPLE_FLAGS,
  sampleUsage,
  shardFlag,
} from './evalShared';
import { mergeCommand, MERGE_USAGE } from './evalMerge';
import {
  ATTACK_NAMES,
  distanceRun,
  distanceShard,
  TABLE1_ATTACKS,
  transferRun,
  transferShard,
  worstCaseRun,
  worstCaseShard,
} from '../../engine';
import { autoattackEval, autoattackUsage } from './autoattack';

const DISTANCE_SAMPLES = 100;
const TRANSFER_SAMPLES = 100;
const WORST_SAMPLES = 500;

const usage = `fim eval <distance|transfer|worst-case|autoattack|merge> [options]

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

${autoattackUsage}

${MERGE_USAGE}

Attacks: ${ATTACK_NAMES.join(', ')}`;

const MULTI_FLAGS = {
  ...SAMPLE_FLAGS,
  run: { type: 'string' },
  attacks: { type: 'string' },
  option: { type: 'string', multiple: true },
} as const;

async function distance(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, MULTI_FLAGS);
  if (v.help) return help();
  const attacks = attackList(v.attacks ?? TABLE1_ATTACKS.join(','));
  const options = attackOptions(v.option, attacks);
  const progress = new Progress();
  const base = requestBase(v, DISTANCE_SAMPLES, 'eval', ['distance', ...argv], progress, true);
  const shard = shardFlag(v.shard);
  if (shard)
    return runShardEvaluation(progress, v, async (signal) =>
      distanceShard(await openRun(v.run, 'run', progress), { ...base, attacks, options, signal }, shard),
    );
  const done = await runEvaluation(progress, v, async (signal) =>
    distanceRun(await openRun(v.run, 'run', progress), { ...base, attacks, options, signal }),
  );
  if (!done) return CANCELLED_EXIT;
  if (v.json) return 0;
  const rows = done.result.results.map((r) => [
    r.attack,
    r.norm,
    fmt(r.meanDistance),
    fmt(r.medianDistance),
    `${r.foolbox2.unit} ${fmt(r.foolbox2.mean)}`,
    fmt(r.foolbox2.median),
    `${pct(r.successRate, 1)} ${r.successRateCi ? ciText(r.successRateCi) : ''}`,
    `${r.found ?? '-'}/${r.samples}`,
  ]);
  process.stdout.write(
    table(['attack', 'norm', 'mean distance', 'median', 'Foolbox-2 mean', 'Foolbox-2 median', 'success', 'found'], rows) + '\n',
  );
  return 0;
}

async function transfer(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...SAMPLE_FLAGS,
    from: { type: 'string' },
    to: { type: 'string' },
    attack: { type: 'string' },
    eps: { type: 'string' },
    option: { type: 'string', multiple: true },
  });
  if (v.help) return help();
  if (!v.attack) throw new UsageError('--attack NAME is required');
  const attack = attackList(v.attack, 'attack')[0]!;
  let budget: number | undefined;
  if (v.eps !== undefined) {
    const b = budgetList('eps', v.eps);
    if (b.length !== 1) throw new UsageError('--eps takes one budget for transfer');
    budget = b[0];
  }
  const options = attackOptions(v.option, [attack])[attack];
  const progress = new Progress();
  const base = requestBase(v, TRANSFER_SAMPLES, 'eval', ['transfer', ...argv], progress, true);
  const shard = shardFlag(v.shard);
  const request = (signal: AbortSignal) => ({
    ...base,
    attack,
    ...(budget !== undefined ? { budget } : {}),
    ...(options ? { options } : {}),
    signal,
  });
  if (shard)
    return runShardEvaluation(progress, v, async (signal) =>
      transferShard(await openRun(v.from, 'from', progress), await openRun(v.to, 'to', progress), request(signal), shard),
    );
  const done = await runEvaluation(progress, v, async (signal) => {
    const from = await openRun(v.from, 'from', progress);
    const to = await openRun(v.to, 'to', progress);
    return transferRun(from, to, request(signal));
  });
  if (!done) return CANCELLED_EXIT;
  if (v.json) return 0;
  const rows = done.result.results.map((r) => [
    r.attack,
    r.source,
    r.target,
    `${r.samples}/${r.crafted ?? '-'}`,
    pct(r.sourceAccuracy),
    pct(r.targetAccuracy),
    ciText(r.targetAccuracyCi),
  ]);
  const how = budget === undefined ? 'minimum-distance search' : `budget ${budget}`;
  process.stdout.write(
    [
      `adversarials crafted on the source (${how}), classified by the target; target accuracy over those that fooled the source`,
      table(['attack', 'source', 'target', 'fooled source', 'source acc.', 'target acc.', '95% CI'], rows),
    ].join('\n') + '\n',
  );
  return 0;
}

async function worstCase(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...MULTI_FLAGS, eps: { type: 'string' } });
  if (v.help) return help();
  const attacks = attackList(v.attacks);
  const budgets = budgetList('eps', v.eps);
  const options = attackOptions(v.option, attacks);
  const progress = new Progress();
  const base = requestBase(v, WORST_SAMPLES, 'eval', ['worst-case', ...argv], progress, true);
  const shard = shardFlag(v.shard);
  if (shard)
    return runShardEvaluation(progress, v, async (signal) =>
      worstCaseShard(await openRun(v.run, 'run', progress), { ...base, attacks, budgets, options, signal }, shard),
    );
  const done = await runEvaluation(progress, v, async (signal) =>
    worstCaseRun(await openRun(v.run, 'run', progress), { ...base, attacks, budgets, options, signal }),
  );
  if (!done) return CANCELLED_EXIT;
  if (v.json) return 0;
  const r = done.result;
  const rows = r.results.map((p) => [
    fmt(p.budget),
    pct(p.robustAccuracy),
    ciText(p.robustAccuracyCi),
    ...r.attacks.map((a) => pct(p.perAttackAccuracy[a])),
  ]);
  process.stdout.write(
    [
      `worst case over ${r.attacks.join(', ')} (${r.norm}); clean accuracy ${pct(r.cleanAccuracy)} on ${r.samples} samples`,
      table(['ε', 'robust acc.', '95% CI', ...r.attacks], rows),
    ].join('\n') + '\n',
  );
  return 0;
}

function help(): number {
  process.stdout.write(usage + '\n');
  return 0;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'robustness evaluations: minimum distance (Table 1), transfer (Table 2), worst case, AutoAttack',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'distance') return distance(rest);
    if (sub === 'transfer') return transfer(rest);
    if (sub === 'worst-case') return worstCase(rest);
    if (sub === 'autoattack') return autoattackEval(rest);
    if (sub === 'merge') return mergeCommand(rest);
    if (sub === '--help' || sub === '-h' || sub === 'help') return help();
    throw new UsageError(
      sub
        ? `unknown evaluation "${sub}"; expected distance, transfer, worst-case, autoattack or merge`
        : 'name an evaluation: distance, transfer, worst-case, autoattack or merge',
    );
  },
};
