import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { evalItemModel, readEvalKind, runItemModel } from '../../src/extension/runsTreeModel';
import { readRun } from '../../src/runs/reader';
import { tmpDir } from '../helpers';
import { writeFixtureRun } from './fixtures/runs';

describe('runs tree items', () => {
  const store = tmpDir();
  const dir = writeFixtureRun(store, { name: 'defended', mu: 0.022, samples: 8, images: 2 });
  const base = writeFixtureRun(store, { name: 'base', mu: 0, samples: 0, sweep: false, distance: false, state: 'stopped' });

  it('shows name, μ, state and accuracy of a completed run, with its evaluations as children', () => {
    const m = runItemModel(readRun(dir));
    assert.equal(m.label, 'defended');
    assert.equal(m.description, 'μ=0.022 · completed · acc 94.0%');
    assert.equal(m.icon, 'pass');
    assert.equal(m.contextValue, 'fimRun.completed');
    assert.equal(m.collapsible, true);
    assert.match(m.tooltip, /μ = 0.022/);
  });

  it('shows a completed run whose checkpoint is cut short as damaged, with the reason, and not resumable', () => {
    const broken = writeFixtureRun(tmpDir(), { name: 'broken', mu: 0.022, samples: 0, sweep: false, distance: false });
    const w = path.join(broken, 'checkpoints', 'epoch-0002', 'weights.bin');
    fs.writeFileSync(w, fs.readFileSync(w).subarray(0, 1000));
    const m = runItemModel(readRun(broken));
    assert.equal(m.description, 'μ=0.022 · damaged · acc 94.0%');
    assert.equal(m.icon, 'error');
    assert.equal(m.contextValue, 'fimRun.damaged');
    assert.match(m.tooltip, /weight files hold 1000 bytes but the manifest describes 31360 \(truncated or damaged\)/);
  });

  it('marks stopped runs resumable and baselines as such', () => {
    const m = runItemModel(readRun(base));
    assert.equal(m.description, 'baseline · stopped · acc 94.0%');
    assert.equal(m.contextValue, 'fimRun.stopped.resumable');
    assert.equal(m.collapsible, false);
  });

  it('shows live progress of a running run from the engine', () => {
    const run = readRun(dir);
    const running = { ...run, effectiveState: 'running' as const, summary: null };
    const m = runItemModel(running, { jobId: 'j', phase: 'train', fraction: 0.42, message: 'epoch 1/2, step 5/10', epoch: 1, epochs: 2 });
    assert.equal(m.description, 'μ=0.022 · 42% · epoch 1/2');
    assert.equal(m.icon, 'sync~spin');
    assert.match(m.tooltip, /progress: epoch 1\/2, step 5\/10/);
  });

  it('shows an incomplete run (its engine died) with a warning and as resumable', () => {
    const run = readRun(dir);
    const m = runItemModel({ ...run, effectiveState: 'incomplete' });
    assert.equal(m.icon, 'warning');
    assert.match(m.contextValue, /^fimRun\.incomplete\.resumable/);
  });

  it('reads evaluation kinds from the first bytes of the file', () => {
    assert.equal(readEvalKind(dir, 'inspect'), 'inspect');
    assert.equal(readEvalKind(dir, 'sweep-ossa'), 'sweep');
    assert.equal(readEvalKind(dir, 'distance'), 'distance');
    assert.equal(readEvalKind(dir, 'missing'), null);
    fs.writeFileSync(path.join(dir, 'evals', 'junk.json'), '{"kind": "nonsense"}');
    assert.equal(readEvalKind(dir, 'junk'), null);
    const e = evalItemModel(dir, 'sweep-ossa', 'sweep');
    assert.equal(e.description, 'attack sweep');
    assert.equal(e.contextValue, 'fimEval.sweep');
  });
});
