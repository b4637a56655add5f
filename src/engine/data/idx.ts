import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/**
 * A strict reader for the IDX format (MNIST, Fashion-MNIST, KMNIST, EMNIST):
 *   magic: 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data.
 * Only unsigned-byte data (type 0x08) is accepted: every image/label IDX file in use is bytes.
 * Every inconsistency is an error that names the file. Gzipped files are inflated first.
 */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export class DataFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'DataFormatError';
  }
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataFormatError(file, `looks gzipped but does not inflate (${(e as Error).message})`);
    }
  }
  if (buf.length < 4) throw new DataFormatError(file, `too short for an IDX header (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DataFormatError(file, `not an IDX file: magic number starts with 0x${hex(buf[0]!)}${hex(buf[1]!)}, expected 0x0000`);
  }
  const type = buf[2]!;
  const ndims = buf[3]!;
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    throw new DataFormatError(
      file,
      name ? `IDX data type ${name} (0x${hex(type)}) is not supported; only unsigned bytes (0x08)` : `unknown IDX data type 0x${hex(type)}`,
    );
  }
  if (ndims < 1 || ndims > 4) throw new DataFormatError(file, `IDX file has ${ndims} dimensions; expected 1 (labels) to 4 (images)`);
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new DataFormatError(file, `truncated header: ${buf.length} bytes, expected at least ${headerBytes}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerBytes;
  if (actual !== expected) {
    const what = actual < expected ? 'truncated' : 'has trailing bytes';
    throw new DataFormatError(file, `${what}: header says ${dims.join('×')} = ${expected} bytes of data, file has ${actual}`);
  }
  return { dims, data: buf.subarray(headerBytes) };
}

export function readIdxFile(file: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFormatError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${(e as Error).message})`);
  }
  return parseIdx(buf, file);
}

/** Reads an image file ([n, rows, cols] or [n, rows, cols, channels]) and its label file ([n]). */
export function readIdxPair(
  imagesFile: string,
  labelsFile: string,
): { pixels: Uint8Array; labels: Int32Array; count: number; imageShape: [number, number, number] } {
  const images = readIdxFile(imagesFile);
  const labels = readIdxFile(labelsFile);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new DataFormatError(
      imagesFile,
      `expected images with 3 or 4 dimensions [n, rows, cols(, channels)], got [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new DataFormatError(labelsFile, `expected labels with 1 dimension [n], got [${labels.dims.join(', ')}]`);
  }
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) {
    throw new DataFormatError(labelsFile, `has ${labels.dims[0]} labels but ${imagesFile} has ${n} images`);
  }
  if (n === 0) throw new DataFormatError(imagesFile, 'contains no images');
  const labelArr = Int32Array.from(labels.data);
  return {
    pixels: images.data,
    labels: labelArr,
    count: n,
    imageShape: [images.dims[1]!, images.dims[2]!, images.dims[3] ?? 1],
  };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
