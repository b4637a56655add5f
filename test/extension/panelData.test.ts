import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  loadAdversarialData,
  loadCurvesData,
  loadDistanceData,
  loadEval,
  loadFoolingData,
  loadInspectData,
  loadReportData,
  loadTrainingData,
  loadTransferData,
  loadWorstCaseData,
  PanelDataError,
} from '../../src/extension/panels/panelData';
import { latestRunSummary } from '../../src/extension/modelRuns';
import { listRuns } from '../../src/runs/reader';
import { tmpDir } from '../helpers';
import { writeFixtureRun } from './fixtures/runs';

describe('panel data from the run store', () => {
  const store = tmpDir();
  const model = path.join(store, 'net', 'model.json');
  const base = writeFixtureRun(store, {
    name: 'base',
    mu: 0,
    samples: 10_000,
    images: 0,
    model,
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  const def = writeFixtureRun(store, {
    name: 'def',
    mu: 0.022,
    samples: 16,
    images: 4,
    model,
    createdAt: new Date('2026-01-02T00:00:00Z'),
  });
  const bare = writeFixtureRun(store, {
    name: 'bare',
    mu: 0.01,
    samples: 0,
    sweep: false,
    distance: false,
    createdAt: new Date('2026-01-03T00:00:00Z'),
  });

  it('training: every metric record, the run and its size', () => {
    const d = loadTrainingData(def);
    assert.equal(d.run.name, 'def');
    assert.equal(d.records.filter((r) => r.kind === 'epoch').length, 2);
    assert.equal(d.totalSteps, 20);
    assert.equal(d.live, false);
  });

  it('inspection: 10,000 samples load as they are stored', () => {
    const d = loadInspectData(base, 'inspect');
    assert.equal(d.eval.samples.length, 10_000);
    assert.equal(d.eval.samples[9999]!.index, 9999);
  });

  it('adversarial: all sweeps of a run, the first selected', () => {
    const d = loadAdversarialData(def);
    assert.deepEqual(
      d.sweeps.map((s) => s.evalName),
      ['sweep-ossa'],
    );
    assert.equal(d.selected, 'sweep-ossa');
    assert.throws(
      () => loadAdversarialData(bare),
      (e: unknown) => e instanceof PanelDataError && /no attack sweep yet/.test(e.message),
    );
  });

  it('fooling ratio: baseline and defended series, distance tables, runs without sweeps', () => {
    const d = loadFoolingData([base, def, bare]);
    assert.deepEqual(
      d.series.map((s) => [s.run.name, s.role, s.attack]),
      [
        ['base', 'baseline', 'ossa'],
        ['def', 'defended', 'ossa'],
      ],
    );
    assert.equal(d.distances.length, 2);
    assert.deepEqual(
      d.runsWithoutSweeps.map((r) => r.name),
      ['bare'],
    );
  });

  it('clear errors for missing, corrupt and mismatched evaluation files', () => {
    assert.throws(() => loadEval(def, 'nope', 'inspect'), /does not exist/);
    fs.writeFileSync(path.join(def, 'evals', 'torn.json'), '{"kind": "inspect", "sampl');
    assert.throws(() => loadEval(def, 'torn', 'inspect'), /not valid JSON/);
    assert.throws(() => loadEval(def, 'sweep-ossa', 'inspect'), /is a "sweep" evaluation, not "inspect"/);
    fs.writeFileSync(path.join(def, 'evals', 'old.json'), '{"kind": "inspect"}');
    assert.throws(() => loadEval(def, 'old', 'inspect'), /no "samples" array/);
    assert.throws(() => loadTrainingData(path.join(store, 'missing')), PanelDataError);
  });

  it('CodeLens summary: the latest run of a model file with its OSSA fooling ratio', () => {
    const s = latestRunSummary(listRuns(store), model);
    assert.equal(s?.run.config?.name, 'def');
    assert.equal(s?.text, 'latest run def: 94.0% accuracy · OSSA fooling 32.1% at ε=8');
    assert.equal(latestRunSummary(listRuns(store), path.join(store, 'other.json')), null);
  });
});

describe('panel data of the reproduction report, Table 1 and 2, the worst case and overlaid curves', () => {
  const store = tmpDir();
  const base = writeFixtureRun(store, { name: 'base', mu: 0, samples: 30, images: 0, createdAt: new Date('2026-02-01T00:00:00Z') });
  const def = writeFixtureRun(store, { name: 'def', mu: 0.022, samples: 20, images: 0, createdAt: new Date('2026-02-02T00:00:00Z') });
  const other = writeFixtureRun(store, { name: 'other', mu: 0.01, samples: 10, images: 0, createdAt: new Date('2026-02-03T00:00:00Z') });
  const prov = JSON.parse(fs.readFileSync(path.join(base, 'evals', 'inspect.json'), 'utf8')).provenance as object;
  const row = (source: string, target: string) => ({
    attack: 'fgsm',
    source: path.basename(source),
    target: path.basename(target),
    samples: 40,
    sourceAccuracy: 0.1,
    targetAccuracy: 0.75,
    targetAccuracyCi: [0.6, 0.86],
    crafted: 44,
    sourceRunDir: source,
    targetRunDir: target,
  });
  // fim eval transfer writes the same rows into both runs.
  for (const [self, peer] of [
    [base, def],
    [def, base],
  ] as const)
    fs.writeFileSync(
      path.join(self, 'evals', `transfer-fgsm-${path.basename(peer)}.json`),
      JSON.stringify({ kind: 'transfer', provenance: prov, otherRunDir: peer, results: [row(base, def), row(def, base)] }),
    );
  fs.writeFileSync(
    path.join(def, 'evals', 'worst-case-linf.json'),
    JSON.stringify({
      kind: 'worst-case',
      provenance: prov,
      attacks: ['pgd', 'square'],
      norm: 'linf',
      results: [{ budget: 0.1, robustAccuracy: 0.5, robustAccuracyCi: [0.4, 0.6], perAttackAccuracy: { pgd: 0.55, square: 0.7 } }],
      samples: 100,
      correct: 98,
      cleanAccuracy: 0.98,
    }),
  );

  it('distance: every run’s Table 1 evaluation with the per-sample distances, runs without one apart', () => {
    const d = loadDistanceData([base, def, other]);
    assert.deepEqual(
      d.evals.map((e) => [e.run.name, e.role, e.evalName]),
      [
        ['base', 'baseline', 'distance'],
        ['def', 'defended', 'distance'],
        ['other', 'defended', 'distance'],
      ],
    );
    assert.ok(d.evals[0]!.eval.results.length > 0);
  });

  it('transfer: a pair evaluated once appears once, though both runs hold a copy', () => {
    const d = loadTransferData([base, def]);
    assert.equal(d.evals.length, 1);
    assert.deepEqual(d.runs.map((r) => r.name).sort(), ['base', 'def']);
    assert.deepEqual(
      loadTransferData([other]).runsWithout.map((r) => r.name),
      ['other'],
    );
  });

  it('worst case: the evaluations and the runs without one', () => {
    const d = loadWorstCaseData([base, def]);
    assert.deepEqual(
      d.evals.map((e) => [e.run.name, e.eval.attacks]),
      [['def', ['pgd', 'square']]],
    );
    assert.deepEqual(
      d.runsWithout.map((r) => r.name),
      ['base'],
    );
    fs.writeFileSync(path.join(other, 'evals', 'worst-case-bad.json'), JSON.stringify({ kind: 'worst-case', provenance: prov }));
    assert.throws(() => loadWorstCaseData([other]), /no "results"\/"attacks" arrays/);
  });

  it('curves: the metric records of each run, baseline and defended', () => {
    const d = loadCurvesData([base, def]);
    assert.deepEqual(
      d.runs.map((r) => [r.run.name, r.role, r.records.filter((x) => x.kind === 'epoch').length]),
      [
        ['base', 'baseline', 2],
        ['def', 'defended', 2],
      ],
    );
  });

  it('inspection: the other runs’ inspections for the scatter, the other role first', () => {
    const d = loadInspectData(def, 'inspect');
    assert.deepEqual(
      d.compare?.map((c) => [c.run.name, c.role, c.points.length]),
      [
        ['base', 'baseline', 30],
        ['other', 'defended', 10],
      ],
    );
    const p = d.compare[0]!.points[0]!;
    assert.ok(Number.isFinite(p.lambdaMaxGx) && Number.isFinite(p.normalizedMargin) && typeof p.correct === 'boolean');
  });

  it('report: report.html as written, the progress, and whether it is live', () => {
    const dir = path.join(store, '..', `repro-${path.basename(store)}`);
    fs.mkdirSync(dir, { recursive: true });
    assert.throws(() => loadReportData(dir, false), /not a reproduction directory/);
    fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify({ mode: 'quick' }));
    const before = loadReportData(dir, false);
    assert.equal(before.html, null);
    assert.equal(before.mode, 'quick');
    assert.equal(before.live, false);
    fs.writeFileSync(path.join(dir, 'report.html'), '<!DOCTYPE html><html><body><h1>Reproduction</h1></body></html>');
    fs.writeFileSync(
      path.join(dir, 'progress.json'),
      JSON.stringify({
        formatVersion: 1,
        mode: 'quick',
        pid: process.pid,
        hostname: os.hostname(),
        startedAt: '',
        updatedAt: '',
        state: 'running',
        stages: [],
      }),
    );
    const now = loadReportData(dir, true);
    assert.match(now.html ?? '', /<h1>Reproduction<\/h1>/);
    assert.equal(now.live, true);
    assert.equal(now.runningHere, true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
