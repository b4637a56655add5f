import { parse, UsageError } from '../args';
import { fmt, pct, Progress, table } from '../output';
import {
  attackOptions,
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
import { AUTOATTACK_NAMES, AUTOATTACK_STANDARD, autoAttackRun, autoAttackShard, type AutoAttackRequest } from '../../engine';

/** `fim eval autoattack`: AutoAttack's verdict (Croce & Hein 2020) at one budget. */
const AUTOATTACK_SAMPLES = 1000;

export const autoattackUsage = `fim eval autoattack --run DIR --norm linf|l2 --eps E [options]
  AutoAttack (Croce & Hein 2020): the standard cascade ${AUTOATTACK_STANDARD.join(' → ')} with the
  reference's settings, each attack only on the samples still robust. Prints the robust accuracy
  (over all samples, 95% Wilson interval) after each attack and which attack broke each sample;
  the JSON has it as robustAccuracy. Ctrl-C stops between batches and keeps the finished attacks:
  the same command continues after them.
  --norm N            linf | l2 (the budget is the perturbation's norm; pixels in [0, 1])
  --eps E             the budget, e.g. 0.3 (l∞) or 2 (l2)
  --version V         standard | custom [standard]
  --attacks LIST      custom only: ${AUTOATTACK_NAMES.join(', ')} (or any attack of the norm)
  --option A.K=V      custom only: override option K of attack A (repeatable)
  --curve-samples N   also the robustness curve (robust accuracy vs ε from per-sample minimum
                      norms: FAB-T and an APGD-CE bisection) over the first N samples [0 = none]
  --curve-bisections K  APGD-CE bisection rounds of the curve [5]
  --examples N        broken samples to keep images of [8]
${sampleUsage(AUTOATTACK_SAMPLES, 'autoattack-<norm>')}`;

export async function autoattackEval(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    ...SAMPLE_FLAGS,
    run: { type: 'string' },
    norm: { type: 'string' },
    eps: { type: 'string' },
    version: { type: 'string' },
    attacks: { type: 'string' },
    option: { type: 'string', multiple: true },
    'curve-samples': { type: 'string' },
    'curve-bisections': { type: 'string' },
    examples: { type: 'string' },
  });
  if (v.help) {
    process.stdout.write(autoattackUsage + '\n');
    return 0;
  }
  const norm = v.norm;
  if (norm !== 'linf' && norm !== 'l2') throw new UsageError('--norm must be linf or l2');
  const epsilon = Number(v.eps);
  if (v.eps === undefined || v.eps.trim() === '' || !Number.isFinite(epsilon) || epsilon <= 0)
    throw new UsageError(`--eps needs one budget > 0, e.g. --eps ${norm === 'l2' ? 2 : 0.3}`);
  const version = v.version ?? 'standard';
  if (version !== 'standard' && version !== 'custom') throw new UsageError('--version must be standard or custom');
  const attacks =
    v.attacks === undefined
      ? undefined
      : v.attacks
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  if (version === 'custom' && !attacks?.length) throw new UsageError(`--version custom needs --attacks, e.g. --attacks apgd-ce,apgd-dlr`);
  if (version === 'standard' && (attacks || v.option)) throw new UsageError('--attacks and --option need --version custom');
  const options = attacks ? attackOptions(v.option, attacks) : undefined;
  const curveSamples = optionalInt('curve-samples', v['curve-samples'], 0);
  const curveBisections = optionalInt('curve-bisections', v['curve-bisections'], 0);
  const examples = optionalInt('examples', v.examples, 0);
  const progress = new Progress();
  const base = requestBase(v, AUTOATTACK_SAMPLES, 'eval', ['autoattack', ...argv], progress, true);
  const shard = shardFlag(v.shard);
  if (shard && curveSamples) throw new UsageError('--curve-samples needs all samples together: run it without --shard');
  const request = (signal: AbortSignal): AutoAttackRequest => ({
    ...base,
    norm,
    epsilon,
    version,
    ...(attacks ? { attacks } : {}),
    ...(options ? { options } : {}),
    ...(curveSamples !== undefined ? { curveSamples } : {}),
    ...(curveBisections !== undefined ? { curveBisections } : {}),
    ...(examples !== undefined ? { examples } : {}),
    signal,
  });
  if (shard)
    return runShardEvaluation(progress, v, async (signal) =>
      autoAttackShard(await openRun(v.run, 'run', progress), request(signal), shard),
    );
  const done = await runEvaluation(progress, v, async (signal) => {
    const run = await openRun(v.run, 'run', progress);
    const r = await autoAttackRun(run, request(signal));
    if (r.resumedAfter > 0) progress.line(`continued after ${r.resumedAfter} finished attack(s) of an earlier, interrupted call`);
    return r;
  });
  if (!done) {
    progress.line('the finished attacks are kept: the same command continues after them');
    return CANCELLED_EXIT;
  }
  if (v.json) return 0;
  const r = done.result;
  const rows = r.cascade.map((s) => [
    s.attack,
    s.attacked,
    s.broken,
    pct(s.robustAccuracy),
    ciText(s.robustAccuracyCi),
    `${s.wallSeconds.toFixed(1)} s`,
  ]);
  const lines = [
    `AutoAttack (${r.version}, ${r.norm}, ε = ${fmt(r.epsilon)}) on ${r.samples} samples; clean accuracy ${pct(r.cleanAccuracy)}`,
    table(['attack', 'attacked', 'broken', 'robust acc. after', '95% CI', 'wall'], rows),
    `robust accuracy ${pct(r.robustAccuracy)} ${ciText(r.robustAccuracyCi)} (${Math.round(r.robustAccuracy * r.samples)}/${r.samples}); ${r.provenance.wallSeconds.toFixed(1)} s`,
  ];
  if (r.curve) {
    const c = r.curve;
    const at = (e: number) => c.points.reduce((a, p) => (Math.abs(p.epsilon - e) < Math.abs(a.epsilon - e) ? p : a));
    const marks = [0.25, 0.5, 1, 1.5, 2].map((f) => at(f * r.epsilon));
    lines.push(
      `robustness curve over ${c.samples} samples (${c.sources.join('; ')}): ` +
        marks.map((p) => `ε ${fmt(p.epsilon, 3)}: ${pct(p.robustAccuracy, 1)}`).join(', '),
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
