import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { GTSRB_CLASSES, loadGtsrb, parseGtsrbCsv } from '../../../src/engine/data/gtsrb';
import { DataFormatError } from '../../../src/engine/data/idx';
import { loadDataset } from '../../../src/engine/data/registry';
import { encodePpm, gtsrbCsv, writeGtsrbSample } from '../../fixtures/datasets';
import { tmpDir } from '../../helpers';

function sample(opts = { classes: 3, perClass: 4, test: 6 }): string {
  const dir = tmpDir();
  writeGtsrbSample(dir, opts);
  return dir;
}

test('loads the official layout: 43 classes, 32×32×3, every class folder and the labelled test set', async () => {
  const dir = sample();
  const d = await loadDataset('gtsrb', dir);
  assert.equal(d.train.count, 12);
  assert.equal(d.test.count, 6);
  assert.deepEqual(d.train.imageShape, [32, 32, 3]);
  assert.equal(d.train.numClasses, 43);
  assert.equal(d.train.classNames[14], 'Stop');
  assert.equal(GTSRB_CLASSES.length, 43);
  const counts = [0, 0, 0];
  d.train.labels.forEach((l) => counts[l]!++);
  assert.deepEqual(counts, [4, 4, 4]);
  assert.notDeepEqual(Array.from(d.train.labels), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], 'shuffled, so --limit-train takes every class');
  const again = await loadDataset('gtsrb', dir);
  assert.deepEqual(Array.from(again.train.labels), Array.from(d.train.labels), 'the same order on every load');
  const big = await loadDataset('gtsrb:size=48', dir);
  assert.deepEqual(big.test.imageShape, [48, 48, 3]);
});

test('each image is cropped to its ROI before resizing', () => {
  const dir = tmpDir();
  const classDir = path.join(dir, 'Final_Training', 'Images', '00007');
  fs.mkdirSync(classDir, { recursive: true });
  // A 40×30 image: black margin, white ROI from (5,3) to (34,26) inclusive.
  const w = 40;
  const h = 30;
  const data = new Uint8Array(w * h * 3);
  for (let y = 3; y <= 26; y++) for (let x = 5; x <= 34; x++) data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
  fs.writeFileSync(path.join(classDir, '00000_00000.ppm'), encodePpm({ width: w, height: h, data }));
  const row = { filename: '00000_00000.ppm', width: w, height: h, x1: 5, y1: 3, x2: 34, y2: 26, classId: 7 };
  fs.writeFileSync(path.join(classDir, 'GT-00007.csv'), gtsrbCsv([row]));
  const testDir = path.join(dir, 'Final_Test', 'Images');
  fs.mkdirSync(testDir, { recursive: true });
  fs.copyFileSync(path.join(classDir, '00000_00000.ppm'), path.join(testDir, '00000.ppm'));
  // The GT zip unpacks GT-final_test.csv next to the folders: found in DIR as well.
  fs.writeFileSync(path.join(dir, 'GT-final_test.csv'), gtsrbCsv([{ ...row, filename: '00000.ppm' }]));
  const d = loadGtsrb(dir);
  assert.ok(
    d.train.pixels.every((v) => v === 255),
    'only the white ROI is left',
  );
  assert.deepEqual(Array.from(d.train.labels), [7]);
  assert.deepEqual(Array.from(d.test.labels), [7]);
  // Without the crop the margin would darken the border pixels.
  fs.writeFileSync(path.join(classDir, 'GT-00007.csv'), gtsrbCsv([{ ...row, x1: 0, y1: 0, x2: 39, y2: 29 }]));
  assert.ok(loadGtsrb(dir).train.pixels.some((v) => v < 128));
});

test('the GTSRB/ folder the archives unpack to is found', () => {
  const dir = tmpDir();
  writeGtsrbSample(path.join(dir, 'GTSRB'), { classes: 2, perClass: 2, test: 2 });
  assert.equal(loadGtsrb(dir).train.count, 4);
});

test('annotation errors name the CSV and the line', () => {
  assert.throws(
    () => parseGtsrbCsv('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\na.ppm;30;30;1;1;28;28\n', 'GT-final_test.test.csv'),
    (e: Error) =>
      e instanceof DataFormatError && /GT-final_test\.test\.csv: missing column\(s\) ClassId.*GTSRB_Final_Test_GT\.zip/.test(e.message),
  );
  assert.throws(
    () => parseGtsrbCsv('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\na.ppm;30;30;1;1;28;28;43\n', 'g.csv'),
    /g\.csv: line 2: ClassId 43 is outside 0\.\.42/,
  );
  assert.throws(
    () => parseGtsrbCsv('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\na.ppm;thirty;30;1;1;28;28;4\n', 'g.csv'),
    /g\.csv: line 2: Width "thirty" is not a non-negative integer/,
  );
  assert.throws(
    () => parseGtsrbCsv('Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\na.ppm;30;30;1;1\n', 'g.csv'),
    /g\.csv: not a readable GTSRB annotation CSV/,
  );
});

test('missing, corrupt and inconsistent files are errors that name the file', () => {
  const dir = sample({ classes: 2, perClass: 3, test: 2 });
  const c1 = path.join(dir, 'Final_Training', 'Images', '00001');
  const ppm = path.join(c1, '00000_00001.ppm');
  const original = fs.readFileSync(ppm);

  fs.writeFileSync(ppm, original.subarray(0, original.length - 10));
  assert.throws(
    () => loadGtsrb(dir),
    (e: Error) => e.message.startsWith(ppm) && /truncated PPM/.test(e.message),
  );
  fs.rmSync(ppm);
  assert.throws(() => loadGtsrb(dir), new RegExp(`${ppm.replace(/[.]/g, '\\.')}: file not found`));
  fs.writeFileSync(ppm, encodePpm({ width: 2, height: 2, data: new Uint8Array(12) }));
  assert.throws(() => loadGtsrb(dir), /00000_00001\.ppm: image is 2×2 but GT-00001\.csv line 3 says/);
  fs.writeFileSync(ppm, original);

  const csv = path.join(c1, 'GT-00001.csv');
  const text = fs.readFileSync(csv, 'utf8');
  fs.writeFileSync(csv, text.replace(/;1\r\n/, ';0\r\n'));
  assert.throws(() => loadGtsrb(dir), /GT-00001\.csv: line 2: ClassId 0 in the folder of class 1/);
  fs.rmSync(csv);
  assert.throws(() => loadGtsrb(dir), /GT-00001\.csv: file not found/);
  fs.writeFileSync(csv, text);

  fs.mkdirSync(path.join(dir, 'Final_Training', 'Images', 'extra'));
  assert.throws(() => loadGtsrb(dir), /Images[/\\]extra: is not a GTSRB class folder/);
  fs.rmdirSync(path.join(dir, 'Final_Training', 'Images', 'extra'));

  const testCsv = path.join(dir, 'Final_Test', 'Images', 'GT-final_test.csv');
  fs.renameSync(testCsv, path.join(dir, 'Final_Test', 'Images', 'GT-final_test.test.csv'));
  assert.throws(
    () => loadGtsrb(dir),
    /GT-final_test\.csv: file not found \(.*GT-final_test\.test\.csv has no class labels\); the test labels come in GTSRB_Final_Test_GT\.zip/,
  );

  assert.throws(() => loadGtsrb(tmpDir()), /Final_Training[/\\]Images: directory not found; a GTSRB directory holds/);
});
