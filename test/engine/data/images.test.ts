import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DataFormatError } from '../../../src/engine/data/idx';
import { axisWeights, cropImage, decodeImage, parsePpm, resizePixels, type RgbImage } from '../../../src/engine/data/images';
import { pngWith } from '../../cli/badInputFixtures';
import { encodeJpeg, encodePng, encodePpm } from '../../fixtures/datasets';

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x * 10, y * 20, 255 - x - y], (y * width + x) * 3);
  return { width, height, data };
}

const namesFile = (f: string) => (e: Error) => e instanceof DataFormatError && e.message.includes(f);

test('binary PPM: header with comments, 8-bit and 16-bit samples', () => {
  const img = gradient(3, 2);
  assert.deepEqual(parsePpm(encodePpm(img), 'a.ppm'), img);
  const withComments = Buffer.concat([Buffer.from('P6\n# made by hand\n3 # width\n2\n255\n'), Buffer.from(img.data)]);
  assert.deepEqual(parsePpm(withComments, 'b.ppm').data, img.data);
  // maxval 65535: two bytes per sample, big-endian; 0xffff → 255, 0x8080 → 128.
  const wide = Buffer.concat([Buffer.from('P6 1 1 65535\n'), Buffer.from([0xff, 0xff, 0x80, 0x80, 0, 0])]);
  assert.deepEqual(Array.from(parsePpm(wide, 'c.ppm').data), [255, 128, 0]);
  // maxval 15 is rescaled to 0..255.
  const small = Buffer.concat([Buffer.from('P6 1 1 15\n'), Buffer.from([15, 5, 0])]);
  assert.deepEqual(Array.from(parsePpm(small, 'd.ppm').data), [255, 85, 0]);
});

test('corrupt PPM files are rejected with the file named', () => {
  const good = encodePpm(gradient(4, 4));
  assert.throws(
    () => parsePpm(good.subarray(0, good.length - 5), 'trunc.ppm'),
    (e: Error) => namesFile('trunc.ppm')(e) && /truncated PPM: 4×4 pixels need 48 bytes of data, file has 43/.test(e.message),
  );
  assert.throws(() => parsePpm(Buffer.from('P6\n4'), 'head.ppm'), /head\.ppm: truncated or malformed PPM header: cannot read the width/);
  assert.throws(
    () => parsePpm(Buffer.from('P3\n1 1\n255\n0 0 0\n'), 'ascii.ppm'),
    /ascii\.ppm: netpbm type P3 is not supported; only binary RGB PPM \(P6\)/,
  );
  assert.throws(
    () => parsePpm(Buffer.concat([Buffer.from('P6 1 1 15\n'), Buffer.from([16, 0, 0])]), 'big.ppm'),
    /sample 16 exceeds the header's maximum value 15/,
  );
});

test('PNG and JPEG decode through their libraries; the format is told by content', () => {
  const img = gradient(5, 4);
  assert.deepEqual(decodeImage(encodePng(img), 'x.png'), img);
  const j = decodeImage(encodeJpeg(img, 100), 'x.jpg');
  assert.equal(j.width, 5);
  assert.equal(j.height, 4);
  let maxErr = 0;
  for (let i = 0; i < img.data.length; i++) maxErr = Math.max(maxErr, Math.abs(j.data[i]! - img.data[i]!));
  assert.ok(maxErr <= 12, `JPEG at quality 100 stays close to the original (max error ${maxErr})`);
  // A PNG saved with a .jpg name still decodes (content, not extension).
  assert.deepEqual(decodeImage(encodePng(img), 'misnamed.jpg'), img);
});

test('corrupt, truncated and foreign image files give errors naming the file', () => {
  const png = encodePng(gradient(16, 16));
  assert.throws(
    () => decodeImage(png.subarray(0, png.length - 20), 'cut.png'),
    (e: Error) => namesFile('cut.png')(e) && /truncated PNG/.test(e.message),
  );
  const jpg = encodeJpeg(gradient(16, 16));
  assert.throws(
    () => decodeImage(jpg.subarray(0, 200), 'cut.jpg'),
    (e: Error) => namesFile('cut.jpg')(e) && /corrupt JPEG/.test(e.message),
  );
  assert.throws(
    () => decodeImage(Buffer.from('GIF89a...'), 'anim.gif'),
    /anim\.gif: not a PNG, JPEG or PPM image \(starts with bytes 47 49 46 38\)/,
  );
  assert.throws(() => decodeImage(Buffer.alloc(0), 'empty.png'), /empty\.png: .*the file is empty/);
});

test('crop keeps the inclusive rectangle', () => {
  const img = gradient(5, 4);
  const c = cropImage(img, 1, 2, 3, 3);
  assert.equal(c.width, 3);
  assert.equal(c.height, 2);
  assert.deepEqual(Array.from(c.data.subarray(0, 3)), Array.from(img.data.subarray((2 * 5 + 1) * 3, (2 * 5 + 1) * 3 + 3)));
  assert.deepEqual(Array.from(c.data.subarray(15, 18)), Array.from(img.data.subarray((3 * 5 + 3) * 3, (3 * 5 + 3) * 3 + 3)));
});

test('resizing: same size copies, shrinking by 2 averages 2×2 blocks exactly, a constant stays constant', () => {
  const src = Uint8Array.from({ length: 4 * 4 }, (_, i) => i * 10);
  assert.deepEqual(Array.from(resizePixels(src, 4, 4, 1, 4, 4)), Array.from(src));
  // Block means: (0+10+40+50)/4 = 25, (20+30+60+70)/4 = 45, (80+90+120+130)/4 = 105, 125.
  assert.deepEqual(Array.from(resizePixels(src, 4, 4, 1, 2, 2)), [25, 45, 105, 125]);
  const flat = new Uint8Array(7 * 5 * 3).fill(77);
  for (const [w, h] of [
    [3, 2],
    [32, 32],
    [11, 4],
  ] as const)
    assert.ok(resizePixels(flat, 7, 5, 3, w, h).every((v) => v === 77));
});

test('resizing: area weights for non-integer shrink factors, bilinear (half-pixel centres) when enlarging', () => {
  // 3 → 2: output 0 covers source [0, 1.5): weights 2/3, 1/3; output 1 covers [1.5, 3): 1/3, 2/3.
  const a = axisWeights(3, 2);
  assert.deepEqual(Array.from(a.idx), [0, 1, 1, 2]);
  assert.deepEqual(
    Array.from(a.w, (w) => Number(w.toFixed(6))),
    [0.666667, 0.333333, 0.333333, 0.666667],
  );
  // 2 → 4: centres at -0.25, 0.25, 0.75, 1.25 in source pixels → a, .75a+.25b, .25a+.75b, b.
  assert.deepEqual(Array.from(resizePixels(Uint8Array.from([0, 200]), 2, 1, 1, 4, 1)), [0, 50, 150, 200]);
  // Every row of weights sums to 1, so brightness is preserved.
  for (const [s, d] of [
    [50, 32],
    [17, 32],
    [32, 7],
    [9, 9],
  ] as const) {
    const w = axisWeights(s, d);
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let k = w.start[i]!; k < w.start[i + 1]!; k++) sum += w.w[k]!;
      assert.ok(Math.abs(sum - 1) < 1e-5, `${s}→${d} output ${i} weights sum to ${sum}`);
    }
  }
});

test('decompression bombs and short pixel data are refused from the header, before decoding', () => {
  // 30000×30000 RGB in a few dozen bytes: refused at once, without allocating 2.7 GB.
  const bomb = pngWith(30000, 30000, 1);
  assert.ok(bomb.length < 200, `${bomb.length} bytes`);
  const t0 = Date.now();
  assert.throws(
    () => decodeImage(bomb, 'bomb.png'),
    /bomb\.png: PNG header says 30000×30000 pixels \(900 megapixels\), more than the 50 megapixels/,
  );
  assert.ok(Date.now() - t0 < 1000, 'refused without decoding');
  // 7 rows of pixel data where the header says 20: pngjs would fill the rest with black.
  assert.throws(
    () => decodeImage(pngWith(20, 20, 7), 'short.png'),
    /short\.png: truncated PNG: 20×20 pixels need 1220 bytes of pixel data, it holds 427/,
  );
  // Too much pixel data is as wrong as too little.
  const long = pngWith(20, 20, 20);
  const hdr = Buffer.from(long);
  hdr.writeUInt32BE(10, 20); // claim 10 rows
  assert.throws(() => decodeImage(hdr, 'long.png'), /long\.png: (corrupt|truncated) PNG/);
  // The well-formed one decodes.
  assert.equal(decodeImage(pngWith(20, 20, 20), 'ok.png').width, 20);
  assert.throws(() => parsePpm(Buffer.from('P6\n30000 30000\n255\n'), 'big.ppm'), /big\.ppm: PPM header says 30000×30000 pixels/);
});
