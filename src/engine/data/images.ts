import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataFormatError } from './idx';

/**
 * Image files for the GTSRB and folder datasets: decoding (PNG through pngjs, JPEG through jpeg-js,
 * binary PPM parsed here: its format is a text header and raw bytes), cropping and resizing.
 * Every failure is a DataFormatError naming the file.
 */
export interface RgbImage {
  width: number;
  height: number;
  /** Row-major HWC bytes, 3 per pixel. */
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/**
 * Largest image decoded, in pixels (50 megapixels, 200 MB as RGBA): a few bytes of compressed
 * data can claim 30000×30000 pixels, which the decoders would allocate before finding out.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

function checkDimensions(file: string, format: string, width: number, height: number): void {
  if (!(width >= 1 && height >= 1)) throw new DataFormatError(file, `${format} header says ${width}×${height} pixels`);
  if (width * height > MAX_IMAGE_PIXELS)
    throw new DataFormatError(
      file,
      `${format} header says ${width}×${height} pixels (${((width * height) / 1e6).toFixed(0)} megapixels), more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels an image may have`,
    );
}

/** Channels per PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * Checks a PNG before it is decoded: the header's size is within MAX_IMAGE_PIXELS, the chunks are
 * complete up to IEND, and the pixel data inflates to exactly the size the header implies
 * (pngjs fills missing pixel data with zeros, so a truncated image would load as black).
 */
function checkPng(buf: Buffer, file: string): void {
  const fail = (why: string): never => {
    throw new DataFormatError(file, why);
  };
  if (buf.length < 33 || buf.toString('latin1', 12, 16) !== 'IHDR') fail('corrupt PNG: no IHDR header');
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const depth = buf[24]!;
  const colour = buf[25]!;
  const interlace = buf[28]!;
  checkDimensions(file, 'PNG', width, height);
  const channels = PNG_CHANNELS[colour];
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) fail(`corrupt PNG: colour type ${colour} with bit depth ${depth}`);
  const bpp = channels! * depth;
  const rowBytes = (w: number) => 1 + Math.ceil((w * bpp) / 8);
  let expected = 0;
  if (interlace === 0) expected = height * rowBytes(width);
  else
    for (const [xs, ys, dx, dy] of ADAM7) {
      const pw = Math.ceil((width - xs) / dx);
      const ph = Math.ceil((height - ys) / dy);
      if (pw > 0 && ph > 0) expected += ph * rowBytes(pw);
    }
  const idat: Buffer[] = [];
  let pos = 8;
  let ended = false;
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > buf.length)
      fail(`truncated PNG: the ${type} chunk needs ${len} bytes, the file ends after ${buf.length - pos - 8}`);
    if (type === 'IDAT') idat.push(buf.subarray(pos + 8, pos + 8 + len));
    pos += 12 + len;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (!ended) fail('truncated PNG: the file ends before its IEND chunk');
  if (idat.length === 0) fail('corrupt PNG: no pixel data (IDAT)');
  let pixels: Buffer;
  try {
    // Inflate no more than the header allows: a bomb stops here.
    pixels = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') fail(`corrupt PNG: the pixel data is larger than ${width}×${height} pixels`);
    fail(`corrupt PNG: the pixel data cannot be inflated (${(e as Error).message})`);
  }
  if (pixels!.length !== expected)
    fail(
      `truncated PNG: ${width}×${height} pixels need ${expected} bytes of pixel data, it holds ${pixels!.length}${pixels!.length > expected ? ' or more' : ''}`,
    );
}
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(buf: Uint8Array, magic: number[]): boolean {
  return buf.length >= magic.length && magic.every((b, i) => buf[i] === b);
}

export function readFileOrFail(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFormatError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${(e as Error).message})`);
  }
}

/** Decodes a PNG, JPEG or binary PPM by its content (not its extension) to 8-bit RGB. */
export function decodeImage(buf: Buffer, file: string): RgbImage {
  if (startsWith(buf, PNG_MAGIC)) return decodePng(buf, file);
  if (startsWith(buf, JPEG_MAGIC)) return decodeJpeg(buf, file);
  if (buf.length >= 2 && buf[0] === 0x50 && buf[1]! >= 0x31 && buf[1]! <= 0x37) return parsePpm(buf, file);
  throw new DataFormatError(
    file,
    `not a PNG, JPEG or PPM image (starts with bytes ${Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing: the file is empty'})`,
  );
}

export function readImage(file: string): RgbImage {
  return decodeImage(readFileOrFail(file), file);
}

function decodePng(buf: Buffer, file: string): RgbImage {
  checkPng(buf, file);
  let png: { width: number; height: number; data: Buffer };
  try {
    // pngjs expands grey/palette images to RGBA and rescales 16-bit samples to 8 bits.
    png = PNG.sync.read(buf);
  } catch (e) {
    throw new DataFormatError(file, `corrupt PNG: ${(e as Error).message}`);
  }
  const { width, height } = png;
  const data = new Uint8Array(width * height * 3);
  // Alpha is dropped, as PIL's convert('RGB') (torchvision's ImageFolder loader) does.
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[i * 3] = png.data[j]!;
    data[i * 3 + 1] = png.data[j + 1]!;
    data[i * 3 + 2] = png.data[j + 2]!;
  }
  return { width, height, data };
}

/** Width and height from a JPEG's frame header (SOFn), or null when there is none before the scan. */
function jpegDimensions(buf: Buffer): { width: number; height: number } | null {
  let pos = 2;
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) return null;
    const marker = buf[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    const len = buf.readUInt16BE(pos + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return pos + 9 <= buf.length ? { height: buf.readUInt16BE(pos + 5), width: buf.readUInt16BE(pos + 7) } : null;
    if (marker === 0xda) return null; // start of scan without a frame header
    pos += 2 + len;
  }
  return null;
}

function decodeJpeg(buf: Buffer, file: string): RgbImage {
  const dims = jpegDimensions(buf);
  if (dims) checkDimensions(file, 'JPEG', dims.width, dims.height);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    // Not tolerant: a truncated JPEG is an error here, not a half-grey image.
    img = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      // jpeg-js checks the frame header against this before it allocates anything.
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
  } catch (e) {
    throw new DataFormatError(file, `corrupt JPEG: ${(e as Error).message}`);
  }
  if (!img.width || !img.height || img.data.length !== img.width * img.height * 3) {
    throw new DataFormatError(file, `corrupt JPEG: decoded ${img.data.length} bytes for ${img.width}×${img.height} pixels`);
  }
  return { width: img.width, height: img.height, data: img.data };
}

/**
 * Binary PPM (netpbm P6): "P6", width, height, maxval as whitespace-separated ASCII with optional
 * `#` comments, one whitespace byte, then width·height·3 samples (1 byte each when maxval < 256,
 * else 2 bytes big-endian). Samples are rescaled to 0..255 when maxval is not 255.
 */
export function parsePpm(buf: Uint8Array, file: string): RgbImage {
  if (buf[0] !== 0x50 || buf[1] !== 0x36) {
    const magic = String.fromCharCode(buf[0] ?? 0, buf[1] ?? 0);
    throw new DataFormatError(file, `netpbm type ${magic} is not supported; only binary RGB PPM (P6)`);
  }
  let pos = 2;
  const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
  const token = (what: string): number => {
    for (;;) {
      while (pos < buf.length && isSpace(buf[pos]!)) pos++;
      if (buf[pos] !== 0x23) break;
      while (pos < buf.length && buf[pos] !== 0x0a && buf[pos] !== 0x0d) pos++;
    }
    const start = pos;
    while (pos < buf.length && buf[pos]! >= 0x30 && buf[pos]! <= 0x39) pos++;
    if (pos === start || pos >= buf.length || !isSpace(buf[pos]!))
      throw new DataFormatError(file, `truncated or malformed PPM header: cannot read the ${what}`);
    return Number(String.fromCharCode(...buf.subarray(start, pos)));
  };
  const width = token('width');
  const height = token('height');
  const maxval = token('maximum value');
  pos++; // the single whitespace byte that ends the header
  checkDimensions(file, 'PPM', width, height);
  if (maxval < 1 || maxval > 65535) throw new DataFormatError(file, `PPM maximum value ${maxval} is outside 1..65535`);
  const bytesPerSample = maxval < 256 ? 1 : 2;
  const samples = width * height * 3;
  const have = buf.length - pos;
  if (have < samples * bytesPerSample) {
    throw new DataFormatError(
      file,
      `truncated PPM: ${width}×${height} pixels need ${samples * bytesPerSample} bytes of data, file has ${have}`,
    );
  }
  const data = new Uint8Array(samples);
  if (bytesPerSample === 1 && maxval === 255) {
    data.set(buf.subarray(pos, pos + samples));
  } else {
    for (let i = 0; i < samples; i++) {
      const v = bytesPerSample === 1 ? buf[pos + i]! : (buf[pos + 2 * i]! << 8) | buf[pos + 2 * i + 1]!;
      if (v > maxval) throw new DataFormatError(file, `PPM sample ${v} exceeds the header's maximum value ${maxval}`);
      data[i] = Math.round((v * 255) / maxval);
    }
  }
  return { width, height, data };
}

/** The pixels x0..x1, y0..y1 (inclusive). */
export function cropImage(img: RgbImage, x0: number, y0: number, x1: number, y1: number): RgbImage {
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * img.width + x0) * 3;
    data.set(img.data.subarray(src, src + width * 3), y * width * 3);
  }
  return { width, height, data };
}

/** Sparse 1-D resampling weights: output i = Σ_k w[k]·input[idx[k]] over k in [start[i], start[i+1]). */
interface AxisWeights {
  start: Int32Array;
  idx: Int32Array;
  w: Float32Array;
}

/**
 * Weights for resizing one axis from `src` to `dst` samples. Shrinking averages the source area
 * each output pixel covers (exact box integration, OpenCV's INTER_AREA), so no source pixel is
 * skipped and small images do not alias; enlarging interpolates bilinearly between pixel centres
 * (half-pixel convention, edges clamped). Equal sizes copy.
 */
export function axisWeights(src: number, dst: number): AxisWeights {
  const start = new Int32Array(dst + 1);
  const idx: number[] = [];
  const w: number[] = [];
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    start[i] = idx.length;
    if (dst < src) {
      const a = i * scale;
      const b = (i + 1) * scale;
      for (let s = Math.floor(a); s < Math.min(Math.ceil(b), src); s++) {
        const overlap = Math.min(b, s + 1) - Math.max(a, s);
        if (overlap > 1e-9) {
          idx.push(s);
          w.push(overlap / scale);
        }
      }
    } else {
      const c = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
      const s0 = Math.floor(c);
      const s1 = Math.min(s0 + 1, src - 1);
      const f = c - s0;
      idx.push(s0);
      w.push(1 - f);
      if (f > 0 && s1 !== s0) {
        idx.push(s1);
        w.push(f);
      }
    }
  }
  start[dst] = idx.length;
  return { start, idx: Int32Array.from(idx), w: Float32Array.from(w) };
}

/** Resizes 8-bit HWC pixels with `channels` channels; separable, rows first. */
export function resizePixels(data: Uint8Array, width: number, height: number, channels: number, dstW: number, dstH: number): Uint8Array {
  if (width === dstW && height === dstH) return data.slice();
  const wx = axisWeights(width, dstW);
  const wy = axisWeights(height, dstH);
  const tmp = new Float32Array(height * dstW * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < dstW; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = wx.start[x]!; k < wx.start[x + 1]!; k++) acc += wx.w[k]! * data[(y * width + wx.idx[k]!) * channels + c]!;
        tmp[(y * dstW + x) * channels + c] = acc;
      }
    }
  }
  const out = new Uint8Array(dstH * dstW * channels);
  for (let y = 0; y < dstH; y++) {
    for (let x = 0; x < dstW; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = wy.start[y]!; k < wy.start[y + 1]!; k++) acc += wy.w[k]! * tmp[(wy.idx[k]! * dstW + x) * channels + c]!;
        out[(y * dstW + x) * channels + c] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}

export function resizeImage(img: RgbImage, dstW: number, dstH: number): RgbImage {
  return { width: dstW, height: dstH, data: resizePixels(img.data, img.width, img.height, 3, dstW, dstH) };
}

/** Whether every pixel has R = G = B. */
export function isGrey(img: RgbImage): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/** The R channel of an image whose channels are equal. */
export function toGrey(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.width * img.height);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i * 3]!;
  return out;
}
