import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'parse5';
import { defenceFindings, defencesReportOf } from '../../src/reproduce/report/defences';
import { parseCompared } from '../../src/reproduce/defences';
import { FILES, readState, runReproduce } from '../../src/reproduce/orchestrate';
import { makePlan, stagesOf } from '../../src/reproduce/plan';
import type { ReproducePlan, ReproduceReport } from '../../src/runs/reproduce';
import type { DefenceRow } from '../../src/runs/reproduceDefences';
import { tmpDir, useEngineBackend } from '../helpers';
import { writeSmallDefinition } from '../engine/eval/tinyRun';

/**
 * `fim reproduce --defences … --only-defences` end to end on a tiny configuration: every defence
 * trains at the same budget, each gets its evaluations, the report has the comparison table and
 * its findings and none of the paper's sections, and the stages run seed by seed.
 */
function tinyDefencesPlan(dir: string): ReproducePlan {
  const plan = makePlan({
    quick: true,
    mus: [0.02],
    epochs: 1,
    seeds: 2,
    defences: parseCompared('spectral,trades,trace-scaled'),
    onlyDefences: true,
    backend: 'wasm',
  });
  plan.model = writeSmallDefinition(dir, 1);
  plan.trainSamples = 1500;
  plan.testSamples = 200;
  const d = plan.defences!;
  d.robustSamples = 16;
  // The plan's AutoAttack runs, each with a short custom cascade, and a worst-case run as plans
  // written before AutoAttack have (their reports must still read).
  const short = { 'apgd-ce': { steps: 3 }, 'apgd-t': { steps: 3, targetClasses: 2 } };
  assert.deepEqual(
    d.robust.map((r) => [r.id, r.method, r.norm, r.budgets, r.attacks]),
    [
      ['autoattack-linf-0.1', 'autoattack', 'linf', [0.1], []],
      ['autoattack-linf-0.3', 'autoattack', 'linf', [0.3], []],
      ['autoattack-l2-1.5', 'autoattack', 'l2', [1.5], []],
    ],
    'the comparison measures robust accuracy with standard AutoAttack at the issue budgets',
  );
  d.robust = [
    ...d.robust.map((r) => ({ ...r, attacks: ['apgd-ce', 'apgd-t'], options: short })),
    { id: 'linf', norm: 'linf', budgets: [0.1], attacks: ['fgsm', 'pgd-margin'], options: { 'pgd-margin': { steps: 3 } } },
  ];
  d.ossa = { samples: 16, epsilon: 6 };
  d.inspect = { samples: 16, heldOut: 50 };
  d.sanity = {
    ...d.sanity,
    samples: 16,
    growBudgets: [0.1, 0.5],
    weak: { steps: 3, restarts: 1 },
    strong: { steps: 6, restarts: 1 },
    squareSamples: 6,
    squareQueries: 20,
  };
  // TRADES' inner PGD shortened, so the test trains in seconds.
  for (const m of plan.models) if (m.defence?.kind === 'trades') m.defence = { ...m.defence, steps: 2 };
  return plan;
}

let report: ReproduceReport;
let html: string;
let plan: ReproducePlan;
let outDir: string;

before(async () => {
  await useEngineBackend();
  const dir = tmpDir('fim-repro-defences-');
  plan = tinyDefencesPlan(dir);
  const out = path.join(dir, 'out');
  outDir = out;
  const r = await runReproduce(plan, out);
  assert.equal(r.failed, 0, JSON.stringify(Object.values(readState(out).stages).filter((s) => s.status === 'failed')));
  report = r.report;
  html = fs.readFileSync(r.htmlFile, 'utf8');
  assert.ok(fs.existsSync(path.join(out, FILES.reportJson)));
});

test('--defences adds the compared models with their defences; --only-defences runs seed by seed and none of the paper stages', () => {
  assert.deepEqual(plan.defences!.models, ['mu0', 'mu0.02', 'spectral1', 'trades6', 'tracescaled0.1']);
  assert.deepEqual(
    plan.models.filter((m) => m.role === 'defence').map((m) => m.defence?.kind),
    ['spectral', 'trades', 'trace-scaled'],
  );
  const stages = stagesOf(plan);
  assert.ok(
    stages.every((s) => s.kind === 'train' || s.key.startsWith('defences:')),
    'no paper stage',
  );
  const firstSeed1 = stages.findIndex((s) => s.seed === 1);
  assert.ok(
    stages.slice(0, firstSeed1).every((s) => s.seed === 0 || s.kind === 'sanity'),
    'seed 0 (trainings and evaluations) first',
  );
  assert.equal(report.complete, true);
  assert.throws(() => parseCompared('spectral,magic'), /"magic" is not one of/);
  // NAME=W: a Fisher-derived defence at another weight, beside its default; the default weight is the plain name.
  assert.deepEqual(parseCompared('trades=1,trades,trades=6,spectral=0.3,lsr'), [
    { kind: 'trades', weight: 1 },
    { kind: 'trades' },
    { kind: 'spectral', weight: 0.3 },
    { kind: 'lsr' },
  ]);
  assert.deepEqual(makePlan({ quick: true, defences: parseCompared('trades=1,trades') }).defences!.models, [
    'mu0',
    'mu0.022',
    'trades1',
    'trades6',
  ]);
  assert.throws(() => parseCompared('pgd-at=2'), /pgd-at takes no weight/);
  assert.throws(() => parseCompared('trades=-1'), /trades: the weight must be a finite number ≥ 0/);
  assert.throws(() => parseCompared('trades='), /"trades=" is not NAME=WEIGHT/);
  assert.throws(() => parseCompared('trades=1=2'), /is not NAME=WEIGHT/);
  assert.throws(() => makePlan({ onlyDefences: true }), /--only-defences needs --defences/);
});

test('every compared defence gets clean and robust accuracy, OSSA, FIM statistics, masking checks and training time', () => {
  const d = report.defences!;
  assert.equal(d.rows.length, 5);
  for (const r of d.rows) {
    assert.equal(r.seeds, 2, r.label);
    assert.ok(r.cleanAccuracy && r.cleanAccuracy.n === 400 && r.cleanAccuracy.ci[0] <= r.cleanAccuracy.value, r.label);
    assert.deepEqual(
      r.robust.map((c) => `${c.run}:${c.norm}:${c.budget}`),
      ['autoattack-linf-0.1:linf:0.1', 'autoattack-linf-0.3:linf:0.3', 'autoattack-l2-1.5:l2:1.5', 'linf:linf:0.1'],
    );
    // AutoAttack's cells list what each attack of the cascade left, ending at the cell's figure.
    for (const c of r.robust.slice(0, 3)) {
      const left = Object.values(c.perAttack);
      assert.deepEqual(Object.keys(c.perAttack), c.norm === 'l2' ? ['apgd-ce-l2', 'apgd-t-l2'] : ['apgd-ce', 'apgd-t'], r.label);
      assert.ok(left[0]! >= left[1]! - 1e-12, 'a cascade only breaks more');
      assert.ok(Math.abs(left[1]! - c.accuracy.value) < 1e-9, r.label);
    }
    for (const c of r.robust) {
      assert.equal(c.accuracy.n, 32);
      assert.equal(c.accuracy.perSeed.length, 2);
      assert.ok(c.accuracy.value <= r.cleanAccuracy.value + 0.2, 'robust accuracy is measured on the same kind of samples');
    }
    // Robust accuracy cannot grow with the budget.
    assert.ok(r.robust[1]!.accuracy.value <= r.robust[0]!.accuracy.value + 1e-12, r.label);
    assert.ok(r.ossa && r.ossa.n > 0 && r.fim && r.fim.samples === 32 && r.fim.temperatures.length === 2, r.label);
    assert.equal(r.secondsPerEpoch.length, 2);
    if (r.model === 'mu0') assert.equal(r.sanity.length, 0);
    else
      assert.deepEqual(
        r.sanity.map((s) => s.id),
        plan.defences!.sanityChecks,
      );
  }
  assert.ok(d.findings.some((f) => f.topic === 'the goal'));
  assert.ok(d.findings.some((f) => f.topic === "beating the paper's trace term"));
  assert.equal(d.findings.filter((f) => f.topic.startsWith('what ')).length, 4);
  assert.ok(d.findings.some((f) => f.topic === 'training cost'));
  assert.deepEqual(report.findings, [], 'no paper findings without the paper stages');
});

test('fim reproduce prints the comparison’s findings', () => {
  const root = path.resolve(__dirname, '..', '..');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'src', 'cli', 'main.ts'),
      'reproduce',
      '--report-only',
      '--plan',
      path.join(outDir, FILES.plan),
      '--out',
      outDir,
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, FIM_BACKEND: 'wasm' } },
  );
  assert.equal(r.status, 0, r.stderr);
  const printed = r.stdout.slice(r.stdout.indexOf('defences compared:'));
  assert.ok(r.stdout.includes('defences compared:'), r.stdout);
  for (const f of report.defences!.findings) assert.ok(printed.includes(`[${f.verdict}] ${f.topic}: ${f.ours}`), f.topic);
});

test('the report shows the comparison section and not the paper sections', () => {
  const errors: string[] = [];
  parse(html, { onParseError: (e) => errors.push(e.code) });
  assert.deepEqual(errors, []);
  assert.match(html, /<section id="defences"/);
  for (const id of ['fig2', 'fig3', 'table1', 'sanity']) assert.doesNotMatch(html, new RegExp(`<section id="${id}"`), id);
  assert.match(html, /trades β=6/);
});

test('the findings follow the table by their stated rules', () => {
  const row = (model: string, clean: number, robust: number, T: number, check: 'pass' | 'fail' | 'none' = 'pass'): DefenceRow => ({
    model,
    label: model,
    defence: model,
    seeds: 1,
    cleanAccuracy: { value: clean, ci: [clean - 0.003, clean + 0.003], k: clean * 1e4, n: 1e4, perSeed: [clean] },
    robust: [
      {
        run: 'linf',
        norm: 'linf',
        budget: 0.1,
        accuracy: { value: robust, ci: [robust - 0.03, robust + 0.03], k: 0, n: 500, perSeed: [robust] },
        perAttack: {},
      },
    ],
    ossa: null,
    fim: { samples: 100, lambdaMaxGx: 1, lambdaMaxGxScaled: 1, normalizedMargin: 1, temperatures: [T], pTrue: 0.5 },
    sanity: check === 'none' ? [] : [{ id: 'margin-vs-ce', title: 'PGD on the margin vs on cross-entropy', status: check, summary: '' }],
    secondsPerEpoch: [10],
    samplesPerSecond: [100],
    meetsGoal: clean >= 0.98 && robust >= 0.8,
  });
  const rows = [
    row('mu0', 0.99, 0.3, 1),
    row('mu0.02', 0.98, 0.32, 0.1),
    row('trades6', 0.985, 0.9, 0.8),
    row('spectral1', 0.97, 0.6, 1, 'fail'),
    row('tracescaled0.1', 0.97, 0.6, 1, 'none'),
  ];
  const f = defenceFindings({ ...plan, muRoles: { ...plan.muRoles, headline: 0.02 } }, rows);
  const by = (t: string) => f.find((x) => x.topic === t)!;
  assert.equal(by('the goal').verdict, 'agrees');
  assert.match(by('the goal').ours, /met by trades6/);
  assert.match(by("beating the paper's trace term").ours, /trades6, spectral1, tracescaled0.1 beat it/);
  assert.match(by('what mu0.02 does').ours, /only flattens the outputs/);
  assert.match(by('what trades6 does').ours, /^holds/);
  assert.match(by('what spectral1 does').ours, /possible gradient masking/);
  // Without a masking check it only "beats the baseline": "holds" needs the checks.
  assert.match(by('what tracescaled0.1 does').ours, /^beats the baseline .*no masking check has run yet/);
  assert.equal(by('what tracescaled0.1 does').verdict, 'not measured');
  assert.equal(defencesReportOf({ ...plan, defences: undefined }, { formatVersion: 1, stages: {}, sessions: [] }, '/x'), undefined);

  // The goal asks for a Fisher-derived defence: PGD-AT meeting it is said apart, and does not meet it.
  const withAt = makePlan({ quick: true, mus: [0.02], defences: parseCompared('trades,pgd-at') });
  const g = defenceFindings(withAt, [
    row('mu0', 0.99, 0.3, 1),
    row('mu0.02', 0.98, 0.32, 0.1),
    row('trades6', 0.975, 0.9, 0.8),
    row('pgdat0.1', 0.984, 0.93, 1),
  ]).find((x) => x.topic === 'the goal')!;
  assert.equal(g.verdict, 'differs');
  assert.match(g.ours, /^met by no Fisher-derived defence; closest: trades6: clean 97\.5%/);
  assert.match(g.ours, /of the comparisons \(not Fisher-derived\), pgdat0\.1: clean 98\.4% .* meets it/);
});

test('without --only-defences the comparison adds its stages to the paper’s, and the paper’s stages leave the compared models alone', () => {
  const p = makePlan({ quick: true, defences: parseCompared('trades,pgd-at') });
  assert.equal(p.paper, undefined);
  const keys = stagesOf(p).map((s) => s.key);
  for (const k of [
    'train:trades6:s0',
    'train:pgdat0.1:s0',
    'sweep:ossa:mu0:s0',
    'distance:mu0:s0',
    'defences:robust-autoattack-linf-0.1:trades6:s0',
    'defences:sanity:margin-vs-ce:pgdat0.1',
  ])
    assert.ok(keys.includes(k), k);
  assert.ok(!keys.some((k) => /^(sweep|inspect|distance):[^:]*(trades|pgdat)/.test(k)), 'no paper figure for a compared defence');
  assert.equal(new Set(keys).size, keys.length, 'stage keys are unique');
  // The paper's trainings keep their fingerprints: no defence field where there is none.
  const base = stagesOf(makePlan({ quick: true })).find((s) => s.key === 'train:mu0:s0')!;
  assert.deepEqual(stagesOf(p).find((s) => s.key === 'train:mu0:s0')!.params, base.params);
});
