import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { findDefenceReproductions, loadDefencesData, PanelDataError } from '../../src/extension/panels/panelData';
import { panelDirs, parsePanelKey } from '../../src/protocol/webview';
import { makePlan } from '../../src/reproduce/plan';
import { parseCompared } from '../../src/reproduce/defences';
import type { ReproduceReport } from '../../src/runs/reproduce';
import { tmpDir } from '../helpers';

/** A report.json as `fim reproduce --defences` writes it, with one measured row (the shape the panel reads). */
function writeReport(dir: string, withDefences: boolean): void {
  const plan = makePlan({ quick: true, ...(withDefences ? { defences: parseCompared('trades'), onlyDefences: true } : {}) });
  const report = {
    formatVersion: 1,
    kind: 'fim-reproduce',
    createdAt: '2026-12-01T00:00:00.000Z',
    complete: false,
    plan,
    ...(withDefences
      ? {
          defences: {
            robustSuite: plan.defences!.robustSuite,
            rows: [
              {
                model: 'trades6',
                label: 'trades β=6',
                defence: 'trades β=6',
                seeds: 1,
                cleanAccuracy: { value: 0.985, ci: [0.982, 0.987], k: 9850, n: 10000, perSeed: [0.985] },
                robust: [],
                ossa: null,
                fim: null,
                sanity: [],
                secondsPerEpoch: [600],
                samplesPerSecond: [100],
                meetsGoal: null,
              },
            ],
            findings: [{ topic: 'the goal', paper: 'goal', ours: 'not measured yet', verdict: 'not measured' }],
          },
        }
      : {}),
  } as unknown as ReproduceReport;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report));
}

test('the defences panel key is validated and names the reproduction directory', () => {
  assert.deepEqual(parsePanelKey({ kind: 'defences', reproduceDir: '/w/.fim/r' }), { kind: 'defences', reproduceDir: '/w/.fim/r' });
  assert.equal(parsePanelKey({ kind: 'defences' }), null);
  assert.equal(parsePanelKey({ kind: 'defences', reproduceDir: 7 }), null);
  assert.deepEqual(panelDirs({ kind: 'defences', reproduceDir: '/w/.fim/r' }), ['/w/.fim/r']);
  assert.deepEqual(panelDirs({ kind: 'fooling', runDirs: ['/a', '/b'] }), ['/a', '/b']);
  assert.deepEqual(panelDirs({ kind: 'training', runDir: '/a' }), ['/a']);
});

test('the defences panel reads the comparison of a report.json, and says why when it cannot', () => {
  const root = tmpDir();
  const withD = path.join(root, 'reproduce-defences');
  const without = path.join(root, 'reproduce');
  writeReport(withD, true);
  writeReport(without, false);
  fs.mkdirSync(path.join(root, 'runs'));
  const d = loadDefencesData(withD);
  assert.equal(d.report.rows[0]!.label, 'trades β=6');
  assert.deepEqual(d.plan.models, ['mu0', 'mu0.022', 'trades6']);
  assert.equal(d.complete, false);
  assert.throws(
    () => loadDefencesData(without),
    (e: unknown) => e instanceof PanelDataError && /ran without --defences/.test(e.message),
  );
  assert.throws(() => loadDefencesData(path.join(root, 'nothing')), /does not exist or is not readable JSON/);
  fs.writeFileSync(path.join(root, 'runs', 'report.json'), '{"kind":"other"}');
  assert.throws(() => loadDefencesData(path.join(root, 'runs')), /not a fim reproduce report/);
  fs.writeFileSync(path.join(withD, 'report.json'), '{ torn');
  assert.throws(() => loadDefencesData(withD), PanelDataError);
  writeReport(withD, true);
  assert.deepEqual(findDefenceReproductions(root), [withD]);
  assert.deepEqual(findDefenceReproductions(path.join(root, 'missing')), []);
});
