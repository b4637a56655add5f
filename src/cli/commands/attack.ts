import { defineCommand, UsageError } from '../args';
import { fmt, pct, Progress, table } from '../output';
import {
  attackList,
  attackOptions,
  budgetList,
  CANCELLED_EXIT,
  ciText,
  openRun,
  optionalInt,
  requestBase,
  runEvaluation,
  runShardEvaluation,
  SAMPLE_FLAGS,
  sampleUsage,
  shardFlag,
} from './evalShared';
import { listAttacks, sweepRun, sweepShard } from '../../engine';

const DEFAULT_SAMPLES = 1000;

const usage = `fim attack --run DIR --attack NAME --eps LIST [options]
  Fooling ratio of one attack at several budgets (the paper's Fig. 3–5): among the samples the
  model classifies correctly, the fraction whose prediction changes, with a 95% Wilson interval,
  and accuracy under attack over all samples. Writes evals/sweep-<attack>.json with example PNGs.

  --run DIR          the run directory
  --attack NAME      ${listAttacks()
    .map((a) => a.name)
    .join(', ')}
  --eps LIST         budgets, comma-separated, in the attack's unit (ossa: ε = SQUARED l2 norm ‖η‖²
                     as in the paper, unless --option epsUnit=l2; fgsm/bim-linf/pgd: l∞; fgm/bim-l2/
                     pgd-l2/deepfool/cw: l2; bim-l1: l1; jsma: changed pixels); inf = unbounded
                     (deepfool, cw, jsma)
  --clip / --no-clip evaluate the adversarial clipped to [0, 1] (default: yes, except ossa, which
                     reports the unclipped x+η and the clipped one beside it)
  --option K=V       override one of the attack's options (repeatable); table in docs/attacks.md
  --examples N       correctly classified samples to save images of, per budget [4]
${sampleUsage(DEFAULT_SAMPLES, 'sweep-<attack>')}`;

export const attackCommand = defineCommand({
  name: 'attack',
  summary: 'fooling ratio of an attack over a list of budgets (OSSA, FGSM, FGM, BIM, PGD, …)',
  usage,
  flags: {
    ...SAMPLE_FLAGS,
    run: { type: 'string' },
    attack: { type: 'string' },
    eps: { type: 'string' },
    clip: { type: 'boolean' },
    'no-clip': { type: 'boolean' },
    option: { type: 'string', multiple: true },
    examples: { type: 'string' },
  },
  async run(v, argv) {
    if (!v.attack) throw new UsageError('--attack NAME is required');
    if (v.attack.includes(',')) throw new UsageError('--attack takes one attack; use fim eval worst-case or fim eval distance for several');
    const attack = attackList(v.attack, 'attack')[0]!;
    const budgets = budgetList('eps', v.eps);
    if (v.clip && v['no-clip']) throw new UsageError('give --clip or --no-clip, not both');
    const options = attackOptions(v.option, [attack])[attack];
    const examples = optionalInt('examples', v.examples, 0);
    const clip = v.clip ? { clip: true } : v['no-clip'] ? { clip: false } : {};
    const progress = new Progress();
    const base = requestBase(v, DEFAULT_SAMPLES, 'attack', argv, progress, true);
    const shard = shardFlag(v.shard);
    const request = (signal: AbortSignal) => ({
      ...base,
      attack,
      budgets,
      ...(options ? { options } : {}),
      ...clip,
      ...(examples !== undefined ? { examples } : {}),
      signal,
    });
    if (shard)
      return runShardEvaluation(progress, v, async (signal) => sweepShard(await openRun(v.run, 'run', progress), request(signal), shard));
    const done = await runEvaluation(
      progress,
      v,
      async (signal) => sweepRun(await openRun(v.run, 'run', progress), request(signal)),
      // The shape names each budget `eps`.
      (d) => ({ file: d.file, ...d.result, results: d.result.results.map((r) => ({ eps: r.budget, ...r })) }),
    );
    if (!done) return CANCELLED_EXIT;
    if (v.json) return 0;
    const r = done.result;
    const clippedCol = r.results.some((p) => p.clipped);
    const header = [
      'ε',
      'fooling ratio',
      '95% CI',
      'fooled',
      'accuracy',
      'mean loss',
      ...(clippedCol ? ['fooling ratio (clipped to [0,1])'] : []),
    ];
    const rows = r.results.map((p) => [
      fmt(p.budget),
      pct(p.foolingRatio),
      ciText(p.foolingRatioCi),
      `${p.fooled}/${r.correct}`,
      pct(p.accuracy),
      fmt(p.meanLoss),
      ...(clippedCol ? [p.clipped ? `${pct(p.clipped.foolingRatio)} ${ciText(p.clipped.foolingRatioCi)}` : '-'] : []),
    ]);
    const head = `${r.attack}: ${r.budgetUnit}; ${r.correct} of ${r.samples} samples correctly classified (clean accuracy ${pct(r.cleanAccuracy)}); evaluated ${r.clip ? 'clipped to [0, 1]' : 'unclipped'}`;
    process.stdout.write([head, table(header, rows)].join('\n') + '\n');
    return 0;
  },
});
