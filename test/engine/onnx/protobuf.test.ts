import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { decodeModel, encodeModel } from '../../../src/engine/onnx/onnxSchema';
import { decodeMessage, encodeMessage, ProtobufError, type MessageSchema } from '../../../src/engine/onnx/protobuf';
import { floatToHalf, halfToFloat } from '../../../src/engine/onnx/tensor';
import { fixture } from './helpers';

/** The wire-format codec and the half-precision conversions, on cases worked out by hand. */
const schema: MessageSchema = {
  1: { name: 'i', type: 'int64' },
  2: { name: 'ints', type: 'int64', repeated: true },
  3: { name: 's', type: 'string' },
  4: { name: 'f', type: 'float', repeated: true },
  5: { name: 'sub', type: 'message', message: () => ({ 1: { name: 'x', type: 'int32' } }) },
};

test('varints: negative and 64-bit values round-trip, as protobuf writes them', () => {
  // INT64_MIN (what PyTorch writes for an open Slice end) is exact as a double.
  for (const v of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1, -1, -(2 ** 63)]) {
    const bytes = encodeMessage(schema, { i: v });
    assert.equal(decodeMessage(schema, bytes).i, v);
  }
  // 300 is [0xac, 0x02] after the tag 0x08 (field 1, varint); −1 takes ten bytes.
  assert.deepEqual(Array.from(encodeMessage(schema, { i: 300 })), [0x08, 0xac, 0x02]);
  assert.equal(encodeMessage(schema, { i: -1 }).length, 11);
});

test('repeated numbers: packed (what we write) and unpacked (what old writers emit) both decode', () => {
  const packed = encodeMessage(schema, { ints: [1, -2, 3], f: [0.5, -1.25] });
  assert.deepEqual(decodeMessage(schema, packed), { ints: [1, -2, 3], f: [0.5, -1.25] });
  // Field 2 unpacked: tag 0x10 then the varint, three times.
  assert.deepEqual(decodeMessage(schema, Uint8Array.from([0x10, 1, 0x10, 2, 0x10, 3])).ints, [1, 2, 3]);
  // Unknown fields are skipped; nested messages decode.
  const withUnknown = Uint8Array.from([0x78, 5, 0x2a, 2, 0x08, 7, 0x1a, 2, 0x68, 0x69]);
  assert.deepEqual(decodeMessage(schema, withUnknown), { sub: { x: 7 }, s: 'hi' });
});

test('truncated and malformed data are ProtobufErrors with the byte offset', () => {
  assert.throws(
    () => decodeMessage(schema, Uint8Array.from([0x1a, 10, 0x68])),
    (e: Error) => e instanceof ProtobufError && /byte/.test(e.message),
  );
  assert.throws(() => decodeMessage(schema, Uint8Array.from([0x08, 0x80])), ProtobufError);
  assert.throws(() => decodeMessage(schema, Uint8Array.from([0x0f])), /wire type/);
});

test('a PyTorch export decodes, re-encodes and decodes to the same message', () => {
  // Not byte for byte: PyTorch writes some empty packed fields, which the encoder omits.
  const bytes = new Uint8Array(fs.readFileSync(fixture('resnet_bn_norm_op17.onnx')));
  const norm = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => !(Array.isArray(x) && x.length === 0))
          .map(([k, x]) => [k, norm(x)]),
      );
    return v;
  };
  const once = decodeModel(bytes);
  assert.deepEqual(norm(decodeModel(encodeModel(once))), norm(once));
  assert.ok(encodeModel(once).length >= bytes.length - 16);
});

test('half precision: exact values, rounding to nearest even, overflow, subnormals', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [0.5, 0x3800],
    [2 ** -24, 0x0001],
    [0, 0x0000],
    [Infinity, 0x7c00],
  ];
  for (const [v, h] of cases) {
    assert.equal(floatToHalf(v), h, `${v}`);
    assert.equal(halfToFloat(h), v);
  }
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even (down)');
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even (up)');
  assert.equal(floatToHalf(70000), 0x7c00, 'overflow is infinity');
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  for (let h = 0; h < 0x7c00; h += 97) assert.equal(floatToHalf(halfToFloat(h)), h, `half ${h} round-trips`);
});
