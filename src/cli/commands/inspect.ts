import { defineCommand, num } from '../args';
import { fmt, pct, Progress, table } from '../output';
import {
  CANCELLED_EXIT,
  openRun,
  optionalInt,
  requestBase,
  runEvaluation,
  runShardEvaluation,
  SAMPLE_FLAGS,
  sampleUsage,
  shardFlag,
} from './evalShared';
import { INSPECT_DEFAULTS, inspectRun, inspectShard } from '../../engine';

const DEFAULT_SAMPLES = 1000;

const usage = `fim inspect --run DIR [options]
  Per-sample Fisher information of a trained run's newest checkpoint: tr G_s = Σ 1/p_i,
  λmax(G_s) = 1/min p_i, the exact λmax(G_x) (K×K Gram reduction) and the KL budget
  r = sqrt(2τ/λmax(G_x)), the l2 radius at which the predicted KL divergence reaches τ; the logit
  margin and margin/‖∇_x margin‖; the same after temperature scaling (T fitted by NLL on
  held-out samples). Means and medians. Writes evals/<name>.json and PNGs of a few inputs and
  their top G_x eigenvectors (OSSA's direction).

  --run DIR       the run directory
  --tau T         KL threshold τ of the KL budget [${INSPECT_DEFAULTS.tau}]
  --images N      samples to draw as PNGs [${INSPECT_DEFAULTS.images}]
  --held-out N    held-out samples for the temperature fit (test samples after the inspected ones) [${INSPECT_DEFAULTS.heldOut}]
${sampleUsage(DEFAULT_SAMPLES, 'inspect')}`;

export const inspectCommand = defineCommand({
  name: 'inspect',
  summary: 'per-sample FIM statistics (tr G_s, λmax(G_x), KL budget, margins, temperature-scaled)',
  usage,
  flags: { ...SAMPLE_FLAGS, run: { type: 'string' }, tau: { type: 'string' }, images: { type: 'string' }, 'held-out': { type: 'string' } },
  async run(v, argv) {
    const tau = num('tau', v.tau, INSPECT_DEFAULTS.tau);
    const images = optionalInt('images', v.images, 0);
    const heldOut = optionalInt('held-out', v['held-out']);
    const progress = new Progress();
    const base = requestBase(v, DEFAULT_SAMPLES, 'inspect', argv, progress, true);
    const shard = shardFlag(v.shard);
    const request = (signal: AbortSignal) => ({
      ...base,
      tau,
      ...(images !== undefined ? { images } : {}),
      ...(heldOut !== undefined ? { heldOut } : {}),
      signal,
    });
    if (shard)
      return runShardEvaluation(progress, v, async (signal) => inspectShard(await openRun(v.run, 'run', progress), request(signal), shard));
    const done = await runEvaluation(progress, v, async (signal) => inspectRun(await openRun(v.run, 'run', progress), request(signal)));
    if (!done) return CANCELLED_EXIT;
    if (v.json) return 0;
    const r = done.result;
    const t = r.temperatureScaling;
    const row = (label: string, a: typeof r.mean) => [
      label,
      fmt(a.traceGs),
      fmt(a.lambdaMaxGs),
      fmt(a.lambdaMaxGx),
      fmt(a.klBudget),
      fmt(a.normalizedMargin),
    ];
    const lines = [
      `${r.samples.length} samples (${base.selection.split}[${base.selection.start}..]), accuracy ${pct(r.accuracy)}, τ = ${r.tau}`,
      '',
      table(
        ['statistic', 'tr G_s', 'λmax(G_s)', 'λmax(G_x)', 'KL budget', 'margin/‖∇margin‖'],
        [
          row('mean', r.mean),
          row('median', r.median),
          row(`mean, T=${fmt(t.temperature, 3)}`, t.mean),
          row(`median, T=${fmt(t.temperature, 3)}`, t.median),
        ],
      ),
      '',
      `temperature T = ${fmt(t.temperature, 4)} fitted by NLL on ${t.heldOutSamples} held-out samples${t.heldOut ? ` (${t.heldOut})` : ''}; NLL ${fmt(t.nllBefore)} → ${fmt(t.nllAfter)}`,
      '',
      'most fragile samples (smallest KL budget):',
      table(
        ['index', 'label', 'predicted', 'λmax(G_x)', 'KL budget', 'tr G_s'],
        [...r.samples]
          .sort((a, b) => a.klBudget - b.klBudget)
          .slice(0, 5)
          .map((s) => [s.index, s.label, s.predicted, fmt(s.lambdaMaxGx), fmt(s.klBudget), fmt(s.traceGs)]),
      ),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
});
