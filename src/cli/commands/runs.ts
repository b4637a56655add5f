import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_RUNS_DIR } from '../../runs/paths';
import { defenceLabel } from '../../runs/defence';
import { listRuns } from '../../runs/reader';
import { latestAutoAttack } from '../../runs/autoattack';
import { defineCommand, UsageError } from '../args';
import { fmt, pct, printJson, table } from '../output';

const usage = `fim runs [--out DIR] [--json]
  List the runs in the run store, newest first, with status and results (the latest AutoAttack
  robust accuracy among them).
  --out DIR   run store [${DEFAULT_RUNS_DIR}]
  --json      print {"store": DIR, "runs": [...]} as one JSON object`;

export const runsCommand = defineCommand({
  name: 'runs',
  summary: 'list runs with status and summaries',
  usage,
  flags: { out: { type: 'string' }, json: { type: 'boolean' } },
  async run(v) {
    const store = path.resolve(v.out ?? DEFAULT_RUNS_DIR);
    if (fs.existsSync(store) && !fs.statSync(store).isDirectory()) throw new UsageError(`--out ${store} is a file, not a run store`);
    const runs = listRuns(store).map((r) => ({ ...r, autoattack: latestAutoAttack(r.dir, r.evals) }));
    if (v.json) {
      printJson({ store, runs });
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write(`no runs in ${store}\n`);
      return 0;
    }
    const rows = runs.map((r) => [
      r.id,
      // An imported model's run is complete by construction; its μ is not known (not a baseline's 0).
      r.config?.imported ? 'imported' : r.effectiveState,
      r.config && !r.config.imported ? defenceLabel(r.config) : '-',
      r.summary ? `${r.summary.epochsCompleted}/${r.summary.epochs}` : r.status ? `${r.status.epoch}/${r.config?.epochs ?? '?'}` : '-',
      pct(r.summary?.testAccuracy),
      fmt(r.summary?.testMeanTraceGs),
      r.autoattack ? `${pct(r.autoattack.robustAccuracy, 1)} ${r.autoattack.norm === 'linf' ? 'l∞' : 'l2'} ${r.autoattack.epsilon}` : '-',
      r.evals.join(',') || '-',
      r.problems.join('; '),
    ]);
    process.stdout.write(
      table(['run', 'status', 'defence', 'epochs', 'test acc', 'tr G_s', 'AutoAttack', 'evals', 'problems'], rows) + '\n',
    );
    return 0;
  },
});
