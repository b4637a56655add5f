import * as path from 'node:path';
import type { ReproducePlan } from '../../runs/reproduce';
import { readJsonFile } from '../../runs/reader';
import { duration } from '../../reproduce/report/html';
import { makePlan } from '../../reproduce/plan';
import { COMPARED, parseCompared } from '../../reproduce/defences';
import { runReproduce } from '../../reproduce/orchestrate';
import { cancelCommand, checkSlurmFlags, SLURM_FLAGS, SLURM_USAGE, stageCommand, statusCommand, submitCommand } from './reproduceSlurm';
import { onOutputClosed } from '../outputClosed';
import { backendFlag, defineCommand, int, numList, UsageError } from '../args';
import { bar, pct, printJson, Progress } from '../output';
import { CANCELLED_EXIT } from './evalShared';
import { describeBackend } from '../../engine';

export const DEFAULT_REPRODUCE_DIR = path.join('.fim', 'reproduce');
export const DEFAULT_QUICK_DIR = path.join('.fim', 'reproduce-quick');

const usage = `fim reproduce [options]
  Reproduces the paper's MNIST experiments on this machine — Fig. 2 (accuracy vs μ), Fig. 3
  (OSSA fooling ratio vs ε, ε = squared l2 norm), Fig. 5 (FGM/OTCM/FGSM), Table 1 (minimum
  distances of nine attacks), Table 2 (transfer) — with LSR and PGD-AT comparison models and
  gradient-masking sanity checks, and writes a self-contained HTML report plus its JSON.
  Interrupted (Ctrl-C, crash, kill)? Run the same command again: finished stages are reused and
  an interrupted training resumes from its last checkpoint.

  --quick          reduced plan that finishes in a few minutes on a 2-core CPU (the report
                   lists everything it cuts)
  --out DIR        reproduction directory [${DEFAULT_REPRODUCE_DIR}, with --quick ${DEFAULT_QUICK_DIR}]
  --mu LIST        μ values to train, comma-separated; 0 (the baseline) is always added
                   [0,0.005,0.01,0.015,0.02,0.022,0.024; --quick: 0,0.022]
  --seeds N        training seeds per μ [3; --quick: 1]
  --epochs N       training epochs per model [6; --quick: 4]
  --samples N      test samples for Fig. 3 and 5, the inspections and the sanity checks [1000; --quick: 300]
  --table-samples N  test samples for Tables 1 and 2 [100; --quick: 12]
  --no-baselines   skip the LSR and PGD-AT comparison models
  --defences LIST  also compare FIM-derived defences with the baseline and the trace term, at the
                   same training budget (docs/defences.md): all, or some of
                   ${COMPARED.join(', ')}; NAME=W sets a Fisher-derived defence's weight
                   (trades=1,trades compares TRADES at β = 1 and at its default)
  --only-defences  run only the defence comparison (with --defences), not the paper's figures and tables
  --report-only    rebuild report.html / report.json from what is there, running nothing
  --plan FILE      run the plan in FILE (another reproduction's plan.json) instead of one made
                   from --quick, --mu, --seeds, --epochs, --samples, --table-samples
  --backend B      auto | tfjs-node-gpu | tfjs-node | wasm | cpu [auto, or $FIM_BACKEND]
  --json           print a summary (files, findings, sanity checks) as one JSON object on stdout
${SLURM_USAGE}
  Exit code 0 when the report is complete, 1 when a stage failed, 130 when interrupted.`;

export const reproduceCommand = defineCommand({
  name: 'reproduce',
  summary: "reproduce the paper's MNIST results as an HTML report with gradient-masking checks",
  usage,
  flags: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    mu: { type: 'string' },
    seeds: { type: 'string' },
    epochs: { type: 'string' },
    samples: { type: 'string' },
    'table-samples': { type: 'string' },
    'no-baselines': { type: 'boolean' },
    defences: { type: 'string' },
    'only-defences': { type: 'boolean' },
    'report-only': { type: 'boolean' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    plan: { type: 'string' },
    ...SLURM_FLAGS,
  },
  async run(v) {
    const executor = checkSlurmFlags(v);
    const outOf = () => path.resolve(v.out ?? (v.quick ? DEFAULT_QUICK_DIR : DEFAULT_REPRODUCE_DIR));
    if (v.status) return statusCommand(outOf(), Boolean(v.json));
    if (v.cancel) return cancelCommand(outOf(), Boolean(v.json));
    if (v.stage !== undefined) return stageCommand(v, outOf());
    const backend = backendFlag(v.backend);
    const mus = v.mu === undefined ? undefined : numList('mu', v.mu);
    if (mus?.some((m) => m < 0)) throw new UsageError(`--mu: every μ must be ≥ 0, got ${v.mu}`);
    const fromFlags = (
      ['quick', 'mu', 'seeds', 'epochs', 'samples', 'table-samples', 'no-baselines', 'defences', 'only-defences'] as const
    ).filter((k) => v[k] !== undefined);
    if (v.plan !== undefined && fromFlags.length) throw new UsageError(`--plan FILE replaces ${fromFlags.map((k) => `--${k}`).join(', ')}`);
    const plan =
      v.plan !== undefined
        ? planFile(v.plan, v.backend === undefined ? undefined : backend)
        : makePlan({
            quick: Boolean(v.quick),
            ...(mus ? { mus } : {}),
            ...(v.seeds !== undefined ? { seeds: int('seeds', v.seeds) } : {}),
            ...(v.epochs !== undefined ? { epochs: int('epochs', v.epochs) } : {}),
            ...(v.samples !== undefined ? { samples: int('samples', v.samples) } : {}),
            ...(v['table-samples'] !== undefined ? { tableSamples: int('table-samples', v['table-samples']) } : {}),
            baselines: !v['no-baselines'],
            backend,
            ...(v.defences !== undefined ? { defences: parseCompared(v.defences) } : {}),
            ...(v['only-defences'] ? { onlyDefences: true } : {}),
          });
    const outDir = outOf();
    if (executor === 'slurm' && !v['report-only']) return submitCommand(v, plan, outDir);
    const progress = new Progress();
    const ac = new AbortController();
    let presses = 0;
    const onSignal = () => {
      presses++;
      if (presses > 1) process.exit(CANCELLED_EXIT);
      progress.line(
        'stopping after the current step (trainings write a checkpoint); run the same command again to resume; Ctrl-C again to quit at once',
      );
      ac.abort();
    };
    process.on('SIGINT', onSignal);
    const unsubscribe = onOutputClosed(() => ac.abort());
    process.on('SIGTERM', onSignal);
    const started = Date.now();
    let current = '';
    try {
      progress.line(`reproduction (${plan.mode}) in ${outDir}`);
      const result = await runReproduce(
        plan,
        outDir,
        {
          onBackend: (b) => progress.line(describeBackend(b).split('\n')[0]!),
          onStages: (stages, reusable) => progress.line(`${stages.length} stages${reusable ? `, ${reusable} already done (reused)` : ''}`),
          onStageStart: (s, i, n, note) => {
            current = `[${i + 1}/${n}] ${s.title}`;
            progress.line(`${current}${note ? ` (${note})` : ''}`);
          },
          onStageProgress: (_s, message, fraction) => progress.update(`${current} ${bar(fraction)} ${message}`, 15_000),
          onStageEnd: (s, rec, i, n) =>
            progress.line(
              `[${i + 1}/${n}] ${s.key}: ${rec.status === 'started' ? 'interrupted' : rec.status} in ${duration(rec.wallSeconds)}${rec.message ? ` — ${rec.message}` : ''}`,
            ),
        },
        ac.signal,
        { reportOnly: Boolean(v['report-only']) },
      );
      progress.clear();
      const r = result.report;
      progress.line(`wrote ${result.htmlFile}`);
      progress.line(`wrote ${result.jsonFile}`);
      if (v.json) {
        printJson({
          html: result.htmlFile,
          json: result.jsonFile,
          complete: r.complete,
          cancelled: result.cancelled,
          failedStages: result.failed,
          wallSeconds: r.wallSeconds,
          sessionSeconds: (Date.now() - started) / 1000,
          backend: r.environment.backend,
          findings: r.findings,
          sanity: r.sanity.map((s) => ({ id: s.id, status: s.status, summary: s.summary })),
        });
      } else {
        const lines = [
          '',
          `${r.complete ? 'Complete' : 'Partial'} report (${plan.mode}): ${result.htmlFile}`,
          `wall time ${duration(r.wallSeconds)} over ${r.sessions.length} session(s), backend ${r.environment.backend}`,
          '',
          ...r.findings.map((f) => `  [${f.verdict}] ${f.topic}: ours ${f.ours} — paper ${f.paper}`),
          // The defence comparison's own findings (--defences): which defence holds, and the goal.
          ...(r.defences?.findings.length
            ? ['', 'defences compared:', ...r.defences.findings.map((f) => `  [${f.verdict}] ${f.topic}: ${f.ours}`)]
            : []),
          '',
          ...r.sanity.map((s) => `  [${s.status}] ${s.title}: ${s.summary}`),
        ];
        const failedChecks = r.sanity.filter((s) => s.status === 'fail').length;
        if (failedChecks) lines.push('', `${failedChecks} sanity check(s) failed: possible gradient masking (see the report).`);
        const acc = r.accuracy.filter((a) => a.mean !== null).map((a) => `${a.label} ${pct(a.mean, 2)}`);
        if (acc.length) lines.push('', `accuracy: ${acc.join(', ')}`);
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (result.cancelled) return CANCELLED_EXIT;
      return result.failed > 0 ? 1 : 0;
    } finally {
      unsubscribe();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});

/** A plan.json given with --plan: read, and refused with a clear message when it is not one. */
function planFile(file: string, backend: string | undefined): ReproducePlan {
  const problems: string[] = [];
  const plan = readJsonFile<ReproducePlan>(path.resolve(file), problems);
  if (!plan) throw new UsageError(`--plan ${file}: ${problems.join('; ') || 'no such file'}`);
  const fresh = makePlan({ quick: true });
  const missing = Object.keys(fresh).filter((k) => !(k in plan));
  if (plan.formatVersion !== fresh.formatVersion || missing.length > 0)
    throw new UsageError(
      `--plan ${file} is not a reproduction plan of this version${missing.length ? ` (no ${missing.slice(0, 5).join(', ')})` : ''}`,
    );
  return backend === undefined ? plan : { ...plan, backend };
}
