import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { findDefenceReproductions, loadDefencesData, PanelDataError } from '../../src/extension/panels/panelData';
import { panelDirs, parsePanelKey } from '../../src/protocol/webview';
import { tmpDir } from '../helpers';
import { writeDefencesReport } from './fixtures/defences';

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
  writeDefencesReport(withD, true);
  writeDefencesReport(without, false);
  fs.mkdirSync(path.join(root, 'runs'));
  const d = loadDefencesData(withD);
  assert.equal(d.report.rows[0]!.label, 'trades β=6 (fixture)');
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
  writeDefencesReport(withD, true);
  assert.deepEqual(findDefenceReproductions(root), [withD]);
  assert.deepEqual(findDefenceReproductions(path.join(root, 'missing')), []);
});
