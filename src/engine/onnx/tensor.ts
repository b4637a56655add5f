import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_TYPE_NAMES, DataType, type TensorProto } from './onnxSchema';
import { OnnxImportError } from './errors';

/**
 * ONNX tensors as the importer uses them: floating-point data of any width becomes Float32Array
 * (fp16, bf16 and double are converted; the original type is kept so export can write it back),
 * integer and boolean data become plain numbers (shape arithmetic, axes, pads).
 */
export interface HostTensor {
  dims: number[];
  dataType: number;
  data: Float32Array | number[];
}

export const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);
const INT_TYPES: ReadonlySet<number> = new Set([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BOOL,
]);
/** 8-bit integer tensors are what quantised models store their weights in. */
export const QUANTISED_TYPES: ReadonlySet<number> = new Set([DataType.INT8, DataType.UINT8]);

export function typeName(t: number | undefined): string {
  return DATA_TYPE_NAMES[t ?? 0] ?? `type ${t}`;
}

export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** IEEE half → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → IEEE half, rounding to nearest even (what numpy's astype(float16) does). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity, 0x7c00).
  return sign | half;
}

function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Where a tensor's external data may be read from: the model's directory only. */
export interface ExternalDataRoot {
  dir: string;
  /** For messages. */
  modelFile: string;
}

function entry(t: TensorProto, key: string): string | undefined {
  return t.external_data?.find((e) => e.key === key)?.value;
}

/**
 * Reads an external-data tensor's bytes. The location must stay inside the model's directory
 * (after following links): a model file is data, and must not make the tool read elsewhere.
 */
function readExternal(t: TensorProto, root: ExternalDataRoot): Uint8Array {
  const location = entry(t, 'location');
  const name = t.name ?? '?';
  if (!location) throw new OnnxImportError(`${root.modelFile}: tensor "${name}" has external data without a location`);
  if (path.isAbsolute(location))
    throw new OnnxImportError(
      `${root.modelFile}: tensor "${name}" names external data at an absolute path (${location}); only files beside the model are read`,
    );
  const dirReal = fs.realpathSync(root.dir);
  const file = path.resolve(root.dir, location);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new OnnxImportError(
      `${root.modelFile}: external data file ${location} of tensor "${name}" not found next to the model; copy it beside the .onnx file`,
    );
  }
  const rel = path.relative(dirReal, real);
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw new OnnxImportError(
      `${root.modelFile}: external data ${location} of tensor "${name}" lies outside the model's directory; only files beside the model are read`,
    );
  const offset = Number(entry(t, 'offset') ?? 0);
  const size = fs.statSync(real).size;
  const lengthStr = entry(t, 'length');
  const length = lengthStr === undefined ? size - offset : Number(lengthStr);
  if (!(offset >= 0) || !(length >= 0) || offset + length > size)
    throw new OnnxImportError(
      `${root.modelFile}: external data of tensor "${name}" (offset ${offset}, length ${length}) runs past the end of ${location} (${size} bytes)`,
    );
  const fd = fs.openSync(real, 'r');
  try {
    const out = new Uint8Array(length);
    fs.readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Decodes a TensorProto; `root` enables external data. Errors name the tensor. */
export function hostTensor(t: TensorProto, modelFile: string, root?: ExternalDataRoot): HostTensor {
  const dims = (t.dims ?? []).map(Number);
  const dataType = t.data_type ?? 0;
  const n = sizeOf(dims);
  const name = t.name ?? '(unnamed)';
  if (t.segment) throw new OnnxImportError(`${modelFile}: tensor "${name}" is stored in segments, which is not supported`);
  if (QUANTISED_TYPES.has(dataType))
    throw new OnnxImportError(
      `${modelFile}: tensor "${name}" holds ${typeName(dataType)} (quantised) values; quantised models are not supported: export the float model instead`,
    );
  if (!FLOAT_TYPES.has(dataType) && !INT_TYPES.has(dataType))
    throw new OnnxImportError(`${modelFile}: tensor "${name}" has data type ${typeName(dataType)}, which is not supported`);
  let raw = t.raw_data;
  if (t.data_location === 1) {
    if (!root) throw new OnnxImportError(`${modelFile}: tensor "${name}" has external data, which is not allowed here`);
    raw = readExternal(t, root);
  }
  const bad = (got: number) =>
    new OnnxImportError(`${modelFile}: tensor "${name}" of shape [${dims.join(', ')}] holds ${got} values, expected ${n}`);
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const width = (bytes: number) => {
    if (raw!.byteLength !== n * bytes) throw bad(Math.floor(raw!.byteLength / bytes));
  };
  if (FLOAT_TYPES.has(dataType)) {
    const out = new Float32Array(n);
    if (view) {
      if (dataType === DataType.FLOAT) {
        width(4);
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      } else if (dataType === DataType.DOUBLE) {
        width(8);
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      } else {
        width(2);
        const conv = dataType === DataType.FLOAT16 ? halfToFloat : bf16ToFloat;
        for (let i = 0; i < n; i++) out[i] = conv(view.getUint16(i * 2, true));
      }
    } else {
      const src =
        dataType === DataType.FLOAT
          ? t.float_data
          : dataType === DataType.DOUBLE
            ? t.double_data
            : t.int32_data?.map(dataType === DataType.FLOAT16 ? halfToFloat : bf16ToFloat);
      const values = src ?? [];
      if (values.length !== n) throw bad(values.length);
      out.set(values);
    }
    return { dims, dataType, data: out };
  }
  let values: number[];
  if (view) {
    const w =
      dataType === DataType.INT64 || dataType === DataType.UINT64
        ? 8
        : dataType === DataType.BOOL
          ? 1
          : dataType === DataType.INT32 || dataType === DataType.UINT32
            ? 4
            : 2;
    width(w);
    values = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      if (w === 8) values[i] = Number(view.getBigInt64(i * 8, true));
      else if (w === 4) values[i] = dataType === DataType.UINT32 ? view.getUint32(i * 4, true) : view.getInt32(i * 4, true);
      else if (w === 2) values[i] = dataType === DataType.INT16 ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
      else values[i] = view.getUint8(i);
    }
  } else {
    values = (dataType === DataType.INT64 ? t.int64_data : dataType === DataType.UINT64 ? t.uint64_data : t.int32_data)?.map(Number) ?? [];
    if (values.length !== n) throw bad(values.length);
  }
  return { dims, dataType, data: values };
}

/** Encodes values back into a TensorProto of the given (original) data type, as raw_data. */
export function tensorProto(name: string, dims: number[], dataType: number, data: ArrayLike<number>): TensorProto {
  const n = sizeOf(dims);
  let bytes: Uint8Array;
  const mk = (w: number) => {
    bytes = new Uint8Array(n * w);
    return new DataView(bytes.buffer);
  };
  switch (dataType) {
    case DataType.FLOAT: {
      const v = mk(4);
      for (let i = 0; i < n; i++) v.setFloat32(i * 4, data[i]!, true);
      break;
    }
    case DataType.DOUBLE: {
      const v = mk(8);
      for (let i = 0; i < n; i++) v.setFloat64(i * 8, data[i]!, true);
      break;
    }
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      const v = mk(2);
      const conv = dataType === DataType.FLOAT16 ? floatToHalf : floatToBf16;
      for (let i = 0; i < n; i++) v.setUint16(i * 2, conv(data[i]!), true);
      break;
    }
    case DataType.INT64:
    case DataType.UINT64: {
      const v = mk(8);
      for (let i = 0; i < n; i++) v.setBigInt64(i * 8, BigInt(Math.trunc(data[i]!)), true);
      break;
    }
    case DataType.INT32:
    case DataType.UINT32: {
      const v = mk(4);
      for (let i = 0; i < n; i++) v.setInt32(i * 4, data[i]!, true);
      break;
    }
    case DataType.INT16:
    case DataType.UINT16: {
      const v = mk(2);
      for (let i = 0; i < n; i++) v.setInt16(i * 2, data[i]!, true);
      break;
    }
    case DataType.BOOL: {
      const v = mk(1);
      for (let i = 0; i < n; i++) v.setUint8(i, data[i] ? 1 : 0);
      break;
    }
    default:
      throw new Error(`cannot encode ONNX data type ${typeName(dataType)}`);
  }
  return { name, dims, data_type: dataType, raw_data: bytes! };
}
