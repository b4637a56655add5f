import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  loadAdversarialData,
  loadEval,
  loadFoolingData,
  loadInspectData,
  loadTrainingData,
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
