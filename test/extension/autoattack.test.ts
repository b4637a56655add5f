import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadAutoAttackData } from '../../src/extension/panels/autoattackData';
import { PanelDataError } from '../../src/extension/panels/panelData';
import { readEvalKind, runItemModel } from '../../src/extension/runsTreeModel';
import { parsePanelKey, parseWebviewMessage } from '../../src/protocol/webview';
import { latestAutoAttack } from '../../src/runs/autoattack';
import { readRun } from '../../src/runs/reader';
import { tmpDir } from '../helpers';
import { writeAutoAttackFixture } from './fixtures/autoattack';
import { writeFixtureRun } from './fixtures/runs';

/** AutoAttack in the extension: the runs tree's verdict, the panel's data and its key. */
describe('AutoAttack in the extension', () => {
  const store = tmpDir();
  const dir = writeFixtureRun(store, { name: 'defended', mu: 0.022, samples: 8, images: 2 });
  const other = writeFixtureRun(store, { name: 'base', mu: 0, samples: 4, sweep: false, distance: false });
  const older = writeAutoAttackFixture(dir, { name: 'aa-old', norm: 'l2', createdAt: '2026-01-01T00:00:00.000Z', seed: 3 });
  const newest = writeAutoAttackFixture(dir, { name: 'aa-new', norm: 'linf', createdAt: '2026-01-05T00:00:00.000Z', seed: 4 });
  writeAutoAttackFixture(other, { name: 'aa-base', norm: 'linf', seed: 5 });
  writeAutoAttackFixture(other, { name: 'aa-base-nocurve', norm: 'linf', seed: 6, curve: false });

  it("the runs tree shows a run's latest AutoAttack robust accuracy", () => {
    const v = latestAutoAttack(dir, readRun(dir).evals)!;
    assert.equal(v.name, 'aa-new');
    assert.equal(v.robustAccuracy, newest.robustAccuracy);
    const m = runItemModel(readRun(dir));
    assert.match(m.description, new RegExp(`AutoAttack ${(100 * newest.robustAccuracy).toFixed(1)}% @ l∞ 0.3$`));
    assert.match(m.tooltip, /latest AutoAttack \(standard, aa-new\): robust accuracy \*\*/);
    assert.equal(readEvalKind(dir, 'aa-old'), 'autoattack');
    // A run without one says nothing about AutoAttack.
    const bare = writeFixtureRun(tmpDir(), { name: 'bare', mu: 0, samples: 0, sweep: false, distance: false });
    assert.doesNotMatch(runItemModel(readRun(bare)).description, /AutoAttack/);
  });

  it('the panel gets the run’s evaluations newest first and the other runs’ curves to overlay', () => {
    const d = loadAutoAttackData(dir);
    assert.deepEqual(
      d.evals.map((e) => e.evalName),
      ['aa-new', 'aa-old'],
    );
    assert.equal(d.selected, 'aa-new');
    assert.equal(d.evals[1]!.eval.robustAccuracy, older.robustAccuracy);
    assert.deepEqual(
      d.overlays.map((o) => `${o.run.name}/${o.evalName}`),
      ['base/aa-base'],
      'only evaluations with a curve, only of other runs',
    );
    assert.equal(loadAutoAttackData(dir, 'aa-old').selected, 'aa-old');
    for (const ex of d.evals[0]!.eval.examples) assert.ok(fs.existsSync(path.join(dir, 'evals', ex.adversarial)));
  });

  it('says why when there is nothing to show', () => {
    const bare = writeFixtureRun(tmpDir(), { name: 'bare', mu: 0, samples: 0, sweep: false, distance: false });
    assert.throws(
      () => loadAutoAttackData(bare),
      (e: unknown) => e instanceof PanelDataError && /no AutoAttack evaluation yet/.test(e.message),
    );
    assert.throws(() => loadAutoAttackData(dir, 'nosuch'), /no AutoAttack evaluation named nosuch/);
    assert.throws(() => loadAutoAttackData(path.join(store, 'missing')), /not a readable run/);
    // A damaged file is skipped, not shown.
    fs.writeFileSync(path.join(dir, 'evals', 'aa-broken.json'), '{"kind": "autoattack", "robustAccuracy": ');
    assert.deepEqual(
      loadAutoAttackData(dir).evals.map((e) => e.evalName),
      ['aa-new', 'aa-old'],
    );
  });

  it('the panel key is validated like the others', () => {
    assert.deepEqual(parsePanelKey({ kind: 'autoattack', runDir: '/r' }), { kind: 'autoattack', runDir: '/r' });
    assert.deepEqual(parsePanelKey({ kind: 'autoattack', runDir: '/r', evalName: 'aa-1' }), {
      kind: 'autoattack',
      runDir: '/r',
      evalName: 'aa-1',
    });
    assert.equal(parsePanelKey({ kind: 'autoattack', runDir: '/r', evalName: '../x' }), null);
    assert.equal(parsePanelKey({ kind: 'autoattack' }), null);
    const open = parseWebviewMessage({ type: 'open', key: { kind: 'autoattack', runDir: '/r' } });
    assert.equal(open.ok, true);
  });
});
