/**
 * A small Protocol Buffers wire-format codec driven by a schema table: enough for the ONNX
 * messages (onnxSchema.ts), with no generated code and no dependency. Decoding keeps byte fields
 * as views into the file's buffer (an ONNX file's weights are one large `raw_data` each), skips
 * unknown fields, accepts packed and unpacked repeated numbers, and reports a truncated or
 * malformed file as a ProtobufError with the byte offset.
 */

export type FieldType = 'int64' | 'int32' | 'uint64' | 'enum' | 'float' | 'double' | 'string' | 'bytes' | 'message';

export interface FieldSpec {
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** For `message` fields: the sub-message's schema (a function, so schemas can refer to each other). */
  message?: () => MessageSchema;
}

/** Field number → field. */
export type MessageSchema = Record<number, FieldSpec>;

export class ProtobufError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ProtobufError';
  }
}

/** A decoded message: field name → value (arrays for repeated fields; absent fields are undefined). */
export type Decoded = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Enc = new TextEncoder();

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  private fail(what: string): never {
    throw new ProtobufError(`${what} at byte ${this.pos}`, this.pos);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data');
    return this.buf[this.pos++]!;
  }

  /** A varint as a JS number; 64-bit values beyond 2^53 lose precision, negatives are two's complement. */
  varint(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (i < 7) {
        result += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) return result;
      } else {
        // Bits beyond 49: redo exactly with BigInt (rare: large or negative int64 values).
        this.pos = start;
        return this.bigVarint();
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  private bigVarint(): number {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return Number(BigInt.asIntN(64, v));
    }
    return this.fail('varint longer than 10 bytes');
  }

  length(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) this.fail(`length ${n} runs past the end of the data`);
    return n;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) this.fail('unexpected end of data');
    this.pos += n;
  }

  f32(): number {
    this.advance(4);
    return new DataView(this.buf.buffer, this.buf.byteOffset + this.pos - 4, 4).getFloat32(0, true);
  }

  f64(): number {
    this.advance(8);
    return new DataView(this.buf.buffer, this.buf.byteOffset + this.pos - 8, 8).getFloat64(0, true);
  }
}

const WIRE_OF: Record<FieldType, number> = {
  int64: 0,
  int32: 0,
  uint64: 0,
  enum: 0,
  float: 5,
  double: 1,
  string: 2,
  bytes: 2,
  message: 2,
};

function readScalar(r: Reader, type: FieldType): number {
  if (type === 'float') return r.f32();
  if (type === 'double') return r.f64();
  const v = r.varint();
  // int32 fields are sign-extended to 64 bits on the wire; varint() already returns them signed.
  return type === 'int32' || type === 'enum' ? v | 0 : v;
}

/** Decodes one message of `schema` from `buf[start, end)`. */
export function decodeMessage(schema: MessageSchema, buf: Uint8Array, start = 0, end = buf.length): Decoded {
  const r = new Reader(buf, start, end);
  const out: Decoded = {};
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    const spec = schema[field];
    if (!spec) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    if (spec.type === 'message' || spec.type === 'string' || spec.type === 'bytes') {
      if (wire !== 2) throw new ProtobufError(`field ${spec.name} has wire type ${wire}, expected 2`, r.pos);
      const n = r.length();
      const s = r.pos;
      r.pos += n;
      if (spec.type === 'message') value = decodeMessage(spec.message!(), buf, s, s + n);
      else if (spec.type === 'string') value = utf8.decode(buf.subarray(s, s + n));
      else value = buf.subarray(s, s + n);
    } else if (wire === 2 && spec.repeated) {
      // Packed repeated numbers.
      const n = r.length();
      const stop = r.pos + n;
      const arr = (out[spec.name] as number[] | undefined) ?? [];
      const sub = new Reader(buf, r.pos, stop);
      while (sub.pos < stop) arr.push(readScalar(sub, spec.type));
      r.pos = stop;
      out[spec.name] = arr;
      continue;
    } else {
      if (wire !== WIRE_OF[spec.type]) throw new ProtobufError(`field ${spec.name} has wire type ${wire}`, r.pos);
      value = readScalar(r, spec.type);
    }
    if (spec.repeated) ((out[spec.name] as unknown[] | undefined) ?? (out[spec.name] = [])).push(value);
    else out[spec.name] = value;
  }
  if (r.pos !== end) throw new ProtobufError('message runs past its end', r.pos);
  return out;
}

/** A growable byte buffer. */
class Writer {
  buf = new Uint8Array(1024);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(v: number): void {
    if (v >= 0 && v < 2 ** 53) {
      this.ensure(10);
      while (v >= 128) {
        this.buf[this.pos++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      this.buf[this.pos++] = v;
      return;
    }
    // Negative (two's complement, 10 bytes) or huge values.
    let b = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    this.ensure(10);
    while (b >= 128n) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  f32(v: number): void {
    this.ensure(4);
    new DataView(this.buf.buffer, this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    new DataView(this.buf.buffer, this.pos, 8).setFloat64(0, v, true);
    this.pos += 8;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function writeScalar(w: Writer, type: FieldType, v: number): void {
  if (type === 'float') w.f32(v);
  else if (type === 'double') w.f64(v);
  else w.varint(v);
}

/**
 * Encodes a message. Fields are written in field-number order; repeated numbers are packed (what
 * proto3 writers emit and every reader accepts). Undefined fields are omitted.
 */
export function encodeMessage(schema: MessageSchema, msg: Decoded): Uint8Array {
  const w = new Writer();
  const numbers = Object.keys(schema)
    .map(Number)
    .sort((a, b) => a - b);
  for (const num of numbers) {
    const spec = schema[num]!;
    const value = msg[spec.name];
    if (value === undefined || value === null) continue;
    const values = spec.repeated ? (value as unknown[]) : [value];
    if (spec.repeated && values.length === 0) continue;
    if (spec.repeated && spec.type !== 'message' && spec.type !== 'string' && spec.type !== 'bytes') {
      const inner = new Writer();
      for (const v of values) writeScalar(inner, spec.type, v as number);
      w.varint(num * 8 + 2);
      w.bytes(inner.result());
      continue;
    }
    for (const v of values) {
      w.varint(num * 8 + WIRE_OF[spec.type]);
      if (spec.type === 'message') w.bytes(encodeMessage(spec.message!(), v as Decoded));
      else if (spec.type === 'string') w.bytes(utf8Enc.encode(v as string));
      else if (spec.type === 'bytes') w.bytes(v as Uint8Array);
      else writeScalar(w, spec.type, v as number);
    }
  }
  return w.result();
}
