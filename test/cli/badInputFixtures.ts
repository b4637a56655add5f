/**
 * The files the bad-input corpus (badInput.test.ts) feeds the CLI: broken datasets in every
 * format, hostile images, broken model files and modules, and damaged run directories, all
 * derived from small valid ones so that each differs from a working input in one way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeJsonAtomic } from '../../src/runs/atomic';
import { runFile } from '../../src/runs/paths';
import {
  encodeIdx,
  encodeJpeg,
  encodePng,
  syntheticImage,
  writeCifar10Sample,
  writeFolderSample,
  writeGtsrbSample,
  writeIdxSample,
} from '../fixtures/datasets';
import seedrandom from 'seedrandom';

export interface Fixtures {
  root: string;
  store: string;
  /** A completed run that must never change, and one the evaluation cases aim at. */
  sentinel: string;
  target: string;
  definition: string;
  file: string;
  empty: string;
  [key: string]: string;
}

function write(file: string, data: string | Buffer | Uint8Array): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return file;
}

/** PNG chunk with its CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A PNG whose header says `width`×`height` but whose pixel data is `rows` rows. */
export function pngWith(width: number, height: number, rows: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc(rows * (1 + width * 3), 0x7f);
  for (let r = 0; r < rows; r++) raw[r * (1 + width * 3)] = 0; // filter type 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose frame header claims `width`×`height` (the rest is cut off). */
function jpegClaiming(width: number, height: number): Buffer {
  const good = encodeJpeg(syntheticImage(0, 2, 16, 16, seedrandom('j')));
  const out = Buffer.from(good);
  for (let i = 2; i + 9 < out.length;) {
    const marker = out[i + 1]!;
    const len = out.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out.subarray(0, i + 2 + len + 40);
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker in the fixture JPEG');
}

/** An image folder of two valid classes plus `extra` in the first class. */
function folderWith(dir: string, extra: Record<string, Buffer | string>): string {
  writeFolderSample(dir, { classes: ['a', 'b'], perClass: 4 });
  for (const [name, data] of Object.entries(extra)) write(path.join(dir, 'a', name), data);
  return dir;
}

function moduleFile(dir: string, name: string, body: string): string {
  return write(path.join(dir, name), body);
}

export function writeBadInputs(f: { root: string; store: string; sentinel: string; target: string; definition: string }): Fixtures {
  const d = (name: string) => path.join(f.root, name);
  const out: Fixtures = { ...f, file: write(d('a-file.txt'), 'not a directory\n'), empty: d('empty') };
  fs.mkdirSync(out.empty, { recursive: true });

  // ---- datasets
  writeIdxSample(d('idx-ok'), { classes: 10, train: 40, test: 20, gzip: false });
  const idx = (name: string, change: (dir: string) => void) => {
    const dir = d(name);
    fs.cpSync(d('idx-ok'), dir, { recursive: true });
    change(dir);
    out[name] = dir;
  };
  idx('idx-magic', (dir) => write(path.join(dir, 'train-images-idx3-ubyte'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])));
  idx('idx-truncated', (dir) => {
    const f2 = path.join(dir, 'train-images-idx3-ubyte');
    fs.writeFileSync(f2, fs.readFileSync(f2).subarray(0, 1000));
  });
  idx('idx-count', (dir) => write(path.join(dir, 'train-labels-idx1-ubyte'), encodeIdx([39], new Uint8Array(39))));
  idx('idx-label', (dir) => write(path.join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([20], new Uint8Array(20).fill(200))));
  idx('idx-gzip', (dir) => {
    fs.rmSync(path.join(dir, 'train-images-idx3-ubyte'));
    write(path.join(dir, 'train-images-idx3-ubyte.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]));
  });
  idx('idx-missing', (dir) => fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte')));
  idx('idx-dims', (dir) => write(path.join(dir, 'train-images-idx3-ubyte'), encodeIdx([40, 28], new Uint8Array(40 * 28))));

  writeCifar10Sample(d('cifar-ok'), { perBatch: 4, test: 4 });
  const cifar = (name: string, change: (dir: string) => void) => {
    const dir = d(name);
    fs.cpSync(d('cifar-ok'), dir, { recursive: true });
    change(dir);
    out[name] = dir;
  };
  cifar('cifar-size', (dir) => {
    const f2 = path.join(dir, 'data_batch_1.bin');
    fs.writeFileSync(f2, fs.readFileSync(f2).subarray(0, 3073 * 2 + 100));
  });
  cifar('cifar-label', (dir) => {
    const f2 = path.join(dir, 'data_batch_2.bin');
    const b = fs.readFileSync(f2);
    b[0] = 12;
    fs.writeFileSync(f2, b);
  });
  cifar('cifar-missing', (dir) => fs.rmSync(path.join(dir, 'test_batch.bin')));
  cifar('cifar-empty-batch', (dir) => fs.writeFileSync(path.join(dir, 'data_batch_3.bin'), ''));

  writeGtsrbSample(d('gtsrb-ok'), { classes: 43, perClass: 1, test: 43 });
  const gtsrb = (name: string, change: (dir: string) => void) => {
    const dir = d(name);
    fs.cpSync(d('gtsrb-ok'), dir, { recursive: true });
    change(dir);
    out[name] = dir;
  };
  const gtCsv = (dir: string) => path.join(dir, 'Final_Training', 'Images', '00000', 'GT-00000.csv');
  gtsrb('gtsrb-columns', (dir) => fs.writeFileSync(gtCsv(dir), 'Filename;Width\n00000_00000.ppm;30\n'));
  gtsrb('gtsrb-roi', (dir) => {
    // Roi.X2 (the sixth cell) of the first annotation becomes 9999.
    const text = fs.readFileSync(gtCsv(dir), 'utf8');
    const first = text.indexOf('\n') + 1;
    const end = text.indexOf('\n', first);
    const cells = text.slice(first, end).split(';');
    cells[5] = '9999';
    fs.writeFileSync(gtCsv(dir), text.slice(0, first) + cells.join(';') + text.slice(end));
  });
  gtsrb('gtsrb-ppm', (dir) => {
    const ppm = path.join(dir, 'Final_Training', 'Images', '00001', '00000_00000.ppm');
    fs.writeFileSync(ppm, fs.readFileSync(ppm).subarray(0, 40));
  });
  gtsrb('gtsrb-ppm-bomb', (dir) => {
    const ppm = path.join(dir, 'Final_Training', 'Images', '00002', '00000_00000.ppm');
    fs.writeFileSync(ppm, 'P6\n30000 30000\n255\n');
  });
  gtsrb('gtsrb-notest', (dir) => fs.rmSync(path.join(dir, 'Final_Test'), { recursive: true }));
  gtsrb('gtsrb-label', (dir) => {
    const csv = path.join(dir, 'Final_Test', 'Images', 'GT-final_test.csv');
    // The second line's ClassId (the last cell, before the line ending) becomes 77.
    const text = fs.readFileSync(csv, 'utf8');
    const first = text.indexOf('\n') + 1;
    const end = text.indexOf('\n', first);
    const line = text.slice(first, end).replace(/;\d+(\r?)$/, ';77$1');
    fs.writeFileSync(csv, text.slice(0, first) + line + text.slice(end));
  });

  // ---- image folders
  const img = syntheticImage(1, 2, 20, 20, seedrandom('x'));
  const png = encodePng(img);
  const jpg = encodeJpeg(img);
  out['folder-empty-class'] = folderWith(d('folder-empty-class'), {});
  fs.mkdirSync(path.join(out['folder-empty-class'], 'c'));
  out['folder-one-class'] = d('folder-one-class');
  writeFolderSample(out['folder-one-class'], { classes: ['only'], perClass: 4 });
  out['folder-corrupt-png'] = folderWith(d('folder-corrupt-png'), {
    'broken.png': Buffer.concat([png.subarray(0, 16), Buffer.alloc(40, 1)]),
  });
  out['folder-png-bomb'] = folderWith(d('folder-png-bomb'), { 'bomb.png': pngWith(30000, 30000, 1).subarray(0) });
  out['folder-png-short'] = folderWith(d('folder-png-short'), { 'short.png': pngWith(20, 20, 7) });
  out['folder-png-cut'] = folderWith(d('folder-png-cut'), { 'cut.png': png.subarray(0, png.length - 30) });
  out['folder-jpeg-cut'] = folderWith(d('folder-jpeg-cut'), { 'cut.jpg': jpg.subarray(0, Math.floor(jpg.length / 2)) });
  out['folder-jpeg-bomb'] = folderWith(d('folder-jpeg-bomb'), { 'bomb.jpg': jpegClaiming(60000, 60000) });
  out['folder-gif'] = folderWith(d('folder-gif'), { 'anim.png': Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1') });
  out['folder-zero'] = folderWith(d('folder-zero'), { 'zero.png': Buffer.alloc(0) });
  out['folder-split'] = d('folder-split');
  writeFolderSample(path.join(out['folder-split'], 'train'), { classes: ['a', 'b'], perClass: 3 });
  writeFolderSample(path.join(out['folder-split'], 'test'), { classes: ['a', 'c'], perClass: 3 });
  out['folder-no-images'] = d('folder-no-images');
  write(path.join(out['folder-no-images'], 'a', 'readme.txt'), 'no images');
  write(path.join(out['folder-no-images'], 'b', 'readme.txt'), 'no images');

  // ---- model files
  const mj = (name: string, json: unknown, files: Record<string, Buffer> = {}) => {
    const dir = d(`model-${name}`);
    for (const [fname, data] of Object.entries(files)) write(path.join(dir, fname), data);
    out[`model-${name}`] = write(path.join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
  };
  const topology = (JSON.parse(fs.readFileSync(f.definition, 'utf8')) as { modelTopology: unknown }).modelTopology;
  const spec = [{ name: 'dense/kernel', shape: [1], dtype: 'float32' }];
  mj('not-json', '{"modelTopology": ');
  mj('no-topology', { format: 'layers-model', weightsManifest: [] });
  mj('traversal', { modelTopology: topology, weightsManifest: [{ paths: ['../../../../../../../../etc/hostname'], weights: spec }] });
  mj('absolute', { modelTopology: topology, weightsManifest: [{ paths: ['/etc/hostname'], weights: spec }] });
  mj('missing-weights', { modelTopology: topology, weightsManifest: [{ paths: ['weights.bin'], weights: spec }] });
  mj(
    'short-weights',
    { modelTopology: topology, weightsManifest: [{ paths: ['weights.bin'], weights: spec }] },
    { 'weights.bin': Buffer.alloc(3) },
  );
  mj('manifest-type', { modelTopology: topology, weightsManifest: { paths: 'weights.bin' } });
  mj(
    'dtype',
    { modelTopology: topology, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'x', shape: [1], dtype: 'complex128' }] }] },
    { 'w.bin': Buffer.alloc(16) },
  );
  mj('garbage-layers', { modelTopology: { class_name: 'Nope', config: {} }, weightsManifest: [] });
  const fiveClasses = JSON.parse(JSON.stringify(topology).replace('"units":10', '"units":5')) as unknown;
  mj('five-classes', { modelTopology: fiveClasses, weightsManifest: [] });
  out['model-dir'] = d('model-dir-without-json');
  fs.mkdirSync(out['model-dir'], { recursive: true });
  out['model-txt'] = write(d('model.txt'), 'hello');
  out['module-string'] = moduleFile(f.root, 'throws-string.js', "module.exports = () => { throw 'the module threw this string'; };\n");
  out['module-error'] = moduleFile(
    f.root,
    'throws-error.js',
    "module.exports = () => { throw new Error('the module failed on purpose'); };\n",
  );
  out['module-syntax'] = moduleFile(f.root, 'syntax.ts', 'export default (\n');
  out['module-number'] = moduleFile(f.root, 'number.js', 'module.exports = () => 42;\n');
  out['module-missing-import'] = moduleFile(f.root, 'missing-import.js', "const x = require('./nowhere'); module.exports = () => x;\n");

  // ---- run directories (copies of the completed target, each damaged one way)
  const run = (name: string, change: (dir: string) => void) => {
    const dir = path.join(f.root, 'runs', name);
    fs.cpSync(f.target, dir, { recursive: true });
    change(dir);
    out[`run-${name}`] = dir;
  };
  const ckpt = (dir: string) => {
    const c = path.join(dir, 'checkpoints');
    return path.join(c, fs.readdirSync(c).sort().pop()!);
  };
  run('no-checkpoint', (dir) => fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true }));
  run('truncated-weights', (dir) => {
    const w = path.join(ckpt(dir), 'weights.bin');
    fs.writeFileSync(w, fs.readFileSync(w).subarray(0, 100));
  });
  run('checkpoint-traversal', (dir) => {
    const m = path.join(ckpt(dir), 'model.json');
    const json = JSON.parse(fs.readFileSync(m, 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['../../../../../../../../etc/hostname'];
    fs.writeFileSync(m, JSON.stringify(json));
  });
  run('corrupt-config', (dir) => fs.writeFileSync(runFile(dir, 'config'), '{"name": "x", '));
  run('corrupt-status', (dir) => fs.writeFileSync(runFile(dir, 'status'), 'null garbage'));
  run('no-config', (dir) => fs.rmSync(runFile(dir, 'config')));
  run('bad-dataset', (dir) => {
    const c = JSON.parse(fs.readFileSync(runFile(dir, 'config'), 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(runFile(dir, 'config'), { ...c, dataset: 'nosuch' });
  });
  run('other-host', (dir) => {
    const s = JSON.parse(fs.readFileSync(runFile(dir, 'status'), 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(runFile(dir, 'status'), { ...s, state: 'running', pid: 1, hostname: 'some-other-host.example' });
    // Its trainer (on that host, so not checkable from here) holds the run's lock.
    fs.writeFileSync(
      path.join(dir, '.lock'),
      JSON.stringify({
        pid: 1,
        hostname: 'some-other-host.example',
        purpose: 'training',
        startedAt: '2026-01-01T00:00:00.000Z',
        token: 'x',
      }),
    );
  });
  run('live-owner', (dir) => {
    const s = JSON.parse(fs.readFileSync(runFile(dir, 'status'), 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(runFile(dir, 'status'), { ...s, state: 'stopped' });
  });
  run('stopped-samples', (dir) => {
    const s = JSON.parse(fs.readFileSync(runFile(dir, 'status'), 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(runFile(dir, 'status'), { ...s, state: 'stopped' });
    const c = JSON.parse(fs.readFileSync(runFile(dir, 'config'), 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(runFile(dir, 'config'), { ...c, trainSamples: 123456 });
  });
  out['not-a-run'] = d('not-a-run');
  write(path.join(out['not-a-run'], 'hello.txt'), 'hi');
  return out;
}
