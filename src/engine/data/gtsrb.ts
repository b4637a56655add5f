import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Dataset, DatasetSplits } from './dataset';
import { DataFormatError } from './idx';
import { cropImage, readFileOrFail, readImage, resizeImage } from './images';
import { shuffled } from './shuffle';

/**
 * The German Traffic Sign Recognition Benchmark in its official layout:
 *   Final_Training/Images/000NN/GT-000NN.csv   + the class's PPM images (NN = 00..42)
 *   Final_Test/Images/*.ppm                      + GT-final_test.csv (from GTSRB_Final_Test_GT.zip)
 * The CSVs are semicolon-separated: Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId.
 * Each image is cropped to its ROI (corners inclusive) and resized to size×size (32 by default,
 * as in the paper) — area averaging when shrinking, bilinear when enlarging (images.ts).
 */
export const GTSRB_NUM_CLASSES = 43;
export const GTSRB_TEST_CSV = 'GT-final_test.csv';
/** The sign names in class order (the benchmark's class ids 0..42). */
export const GTSRB_CLASSES = [
  'Speed limit (20km/h)',
  'Speed limit (30km/h)',
  'Speed limit (50km/h)',
  'Speed limit (60km/h)',
  'Speed limit (70km/h)',
  'Speed limit (80km/h)',
  'End of speed limit (80km/h)',
  'Speed limit (100km/h)',
  'Speed limit (120km/h)',
  'No passing',
  'No passing for vehicles over 3.5 metric tons',
  'Right-of-way at the next intersection',
  'Priority road',
  'Yield',
  'Stop',
  'No vehicles',
  'Vehicles over 3.5 metric tons prohibited',
  'No entry',
  'General caution',
  'Dangerous curve to the left',
  'Dangerous curve to the right',
  'Double curve',
  'Bumpy road',
  'Slippery road',
  'Road narrows on the right',
  'Road work',
  'Traffic signals',
  'Pedestrians',
  'Children crossing',
  'Bicycles crossing',
  'Beware of ice/snow',
  'Wild animals crossing',
  'End of all speed and passing limits',
  'Turn right ahead',
  'Turn left ahead',
  'Ahead only',
  'Go straight or right',
  'Go straight or left',
  'Keep right',
  'Keep left',
  'Roundabout mandatory',
  'End of no passing',
  'End of no passing by vehicles over 3.5 metric tons',
];

const COLUMNS = ['Filename', 'Width', 'Height', 'Roi.X1', 'Roi.Y1', 'Roi.X2', 'Roi.Y2', 'ClassId'] as const;

export interface GtsrbRow {
  filename: string;
  width: number;
  height: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  classId: number;
  /** 1-based line in the CSV, for messages. */
  line: number;
}

/** Parses a GT-*.csv annotation file. */
export function parseGtsrbCsv(text: string, file: string): GtsrbRow[] {
  let records: Record<string, string>[];
  try {
    records = parseCsv<Record<string, string>>(text, { delimiter: ';', columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (e) {
    throw new DataFormatError(file, `not a readable GTSRB annotation CSV: ${(e as Error).message}`);
  }
  const header = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/, 1)[0]!
    .split(';')
    .map((s) => s.trim());
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) {
    const hint =
      missing.length === 1 && missing[0] === 'ClassId'
        ? ' (GT-final_test.test.csv has no labels: use GT-final_test.csv from GTSRB_Final_Test_GT.zip)'
        : '';
    throw new DataFormatError(file, `missing column(s) ${missing.join(', ')}; a GTSRB annotation file has ${COLUMNS.join(';')}${hint}`);
  }
  return records.map((r, i) => {
    const line = i + 2;
    const int = (col: (typeof COLUMNS)[number]) => {
      const v = Number(r[col]);
      if (r[col] === '' || !Number.isInteger(v) || v < 0)
        throw new DataFormatError(file, `line ${line}: ${col} "${r[col]}" is not a non-negative integer`);
      return v;
    };
    const row = {
      filename: r.Filename!,
      width: int('Width'),
      height: int('Height'),
      x1: int('Roi.X1'),
      y1: int('Roi.Y1'),
      x2: int('Roi.X2'),
      y2: int('Roi.Y2'),
      classId: int('ClassId'),
      line,
    };
    if (!row.filename) throw new DataFormatError(file, `line ${line}: empty Filename`);
    if (row.classId >= GTSRB_NUM_CLASSES)
      throw new DataFormatError(file, `line ${line}: ClassId ${row.classId} is outside 0..${GTSRB_NUM_CLASSES - 1}`);
    return row;
  });
}

/** Reads, checks against its annotation, crops and resizes one image; returns size·size·3 bytes. */
function loadSign(dir: string, row: GtsrbRow, csv: string, size: number): Uint8Array {
  const file = path.join(dir, row.filename);
  const img = readImage(file);
  if (img.width !== row.width || img.height !== row.height) {
    throw new DataFormatError(
      file,
      `image is ${img.width}×${img.height} but ${path.basename(csv)} line ${row.line} says ${row.width}×${row.height}`,
    );
  }
  // Corners are inclusive; a corner one past the edge (seen in hand-made annotations) is clamped,
  // one further out is an error rather than a silent crop to the whole image.
  const x2 = Math.min(row.x2, img.width - 1);
  const y2 = Math.min(row.y2, img.height - 1);
  if (row.x1 > x2 || row.y1 > y2 || row.x2 > img.width || row.y2 > img.height) {
    throw new DataFormatError(
      csv,
      `line ${row.line}: ROI (${row.x1},${row.y1})–(${row.x2},${row.y2}) is empty or outside the ${img.width}×${img.height} image ${row.filename}`,
    );
  }
  return resizeImage(cropImage(img, row.x1, row.y1, x2, y2), size, size).data;
}

function toDataset(name: string, images: Uint8Array[], labels: number[], size: number): Dataset {
  const n = images.length;
  const pixels = new Uint8Array(n * size * size * 3);
  images.forEach((im, i) => pixels.set(im, i * im.length));
  return {
    name,
    pixels,
    labels: Int32Array.from(labels),
    count: n,
    imageShape: [size, size, 3],
    numClasses: GTSRB_NUM_CLASSES,
    classNames: GTSRB_CLASSES.slice(),
  };
}

/** DIR or DIR/GTSRB: whichever holds Final_Training/Images. */
export function findGtsrbRoot(dir: string): string {
  for (const d of [dir, path.join(dir, 'GTSRB')]) if (fs.existsSync(path.join(d, 'Final_Training', 'Images'))) return d;
  throw new DataFormatError(
    path.join(dir, 'Final_Training', 'Images'),
    'directory not found; a GTSRB directory holds Final_Training/Images/000NN/ (GTSRB_Final_Training_Images.zip) and Final_Test/Images/ with GT-final_test.csv (GTSRB_Final_Test_Images.zip + GTSRB_Final_Test_GT.zip)',
  );
}

export function loadGtsrbTrain(root: string, size: number): Dataset {
  const imagesDir = path.join(root, 'Final_Training', 'Images');
  const classDirs = fs
    .readdirSync(imagesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (classDirs.length === 0) throw new DataFormatError(imagesDir, 'has no class folders (00000 … 00042)');
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  for (const name of classDirs) {
    const dir = path.join(imagesDir, name);
    if (!/^\d{5}$/.test(name) || Number(name) >= GTSRB_NUM_CLASSES) {
      throw new DataFormatError(dir, `is not a GTSRB class folder (expected 00000 … ${String(GTSRB_NUM_CLASSES - 1).padStart(5, '0')})`);
    }
    const classId = Number(name);
    const csv = path.join(dir, `GT-${name}.csv`);
    const rows = parseGtsrbCsv(readFileOrFail(csv).toString('utf8'), csv);
    if (rows.length === 0) throw new DataFormatError(csv, 'lists no images');
    for (const row of rows) {
      if (row.classId !== classId)
        throw new DataFormatError(csv, `line ${row.line}: ClassId ${row.classId} in the folder of class ${classId}`);
      images.push(loadSign(dir, row, csv, size));
      labels.push(classId);
    }
  }
  return toDataset('gtsrb/train', images, labels, size);
}

export function findGtsrbTestCsv(root: string, dataDir: string): string {
  const candidates = [path.join(root, 'Final_Test', 'Images'), path.join(root, 'Final_Test'), root, dataDir].map((d) =>
    path.join(d, GTSRB_TEST_CSV),
  );
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) {
    const unlabeled = path.join(root, 'Final_Test', 'Images', 'GT-final_test.test.csv');
    const hint = fs.existsSync(unlabeled) ? ` (${unlabeled} has no class labels)` : '';
    throw new DataFormatError(
      candidates[0]!,
      `file not found${hint}; the test labels come in GTSRB_Final_Test_GT.zip — put its ${GTSRB_TEST_CSV} in Final_Test/Images/ or in ${dataDir}`,
    );
  }
  return found;
}

export function loadGtsrbTest(root: string, dataDir: string, size: number): Dataset {
  const csv = findGtsrbTestCsv(root, dataDir);
  const imagesDir = path.join(root, 'Final_Test', 'Images');
  const rows = parseGtsrbCsv(readFileOrFail(csv).toString('utf8'), csv);
  if (rows.length === 0) throw new DataFormatError(csv, 'lists no images');
  return toDataset(
    'gtsrb/test',
    rows.map((r) => loadSign(imagesDir, r, csv, size)),
    rows.map((r) => r.classId),
    size,
  );
}

export function loadGtsrb(dataDir: string, size = 32): DatasetSplits {
  const root = findGtsrbRoot(dataDir);
  // The training folders are sorted by class: a fixed shuffle lets --limit-train take every class.
  return { train: shuffled(loadGtsrbTrain(root, size), 'fim-gtsrb:train'), test: loadGtsrbTest(root, dataDir, size), source: root };
}
