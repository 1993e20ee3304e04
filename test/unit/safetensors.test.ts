// The safetensors reader/writer: round trip, half-precision decoding of known bit patterns, and
// one test per way a file can be broken (each must throw SafetensorsError naming the problem).
import { describe, expect, it } from 'vitest';
import { f16ToF32, parseSafetensors, SafetensorsError, writeSafetensors } from '../../src/tensor/safetensors';
import { MedRankError } from '../../src/core/errors';

/** Builds a file from a header object and a raw data section, exactly as given (no checks). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLen?: number): Uint8Array {
  const json = typeof header === 'string' ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint16(2 * i, x, true));
  return b;
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect(caught).toBeInstanceOf(MedRankError);
  expect((caught as Error).name).toBe('SafetensorsError');
  expect((caught as Error).message).toMatch(pattern);
}

describe('safetensors', () => {
  it('round trip: F32 and I32 tensors, metadata, 8-byte aligned data section, order kept', () => {
    const a = new Float32Array([1.5, -2.25, 3e-8, 65504, -0, 1e30]);
    const b = new Int32Array([0, -1, 2147483647, -2147483648]);
    const empty = new Float32Array(0);
    const bytes = writeSafetensors(
      {
        weight: { dtype: 'F32', shape: [2, 3], data: a },
        ids: { dtype: 'I32', shape: [4], data: b },
        e: { dtype: 'F32', shape: [0, 5], data: empty },
      },
      { format: 'pt', note: 'ünïcode' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    expect(bytes.byteLength).toBe(8 + n + 6 * 4 + 4 * 4);
    // Padding is spaces after the JSON, as the spec allows.
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(json).toMatch(/^\{.*\} *$/);
    expect(JSON.parse(json).weight.data_offsets).toEqual([0, 24]);
    expect(JSON.parse(json).ids.data_offsets).toEqual([24, 40]);
    expect(JSON.parse(json).e.data_offsets).toEqual([40, 40]);

    const { tensors, metadata } = parseSafetensors(bytes.buffer as ArrayBuffer);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...tensors.keys()]).toEqual(['weight', 'ids', 'e']);
    const w = tensors.get('weight')!;
    expect(w.dtype).toBe('F32');
    expect(w.shape).toEqual([2, 3]);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w.data)).toEqual(Array.from(a));
    expect(Object.is(w.data[4], -0)).toBe(true);
    const ids = tensors.get('ids')!;
    expect(ids.data).toBeInstanceOf(Int32Array);
    expect(Array.from(ids.data)).toEqual(Array.from(b));
    expect(tensors.get('e')!.shape).toEqual([0, 5]);
    expect(tensors.get('e')!.data.length).toBe(0);
  });

  it('reads from an unaligned Uint8Array view (tensors need not be 4-byte aligned in memory)', () => {
    const bytes = writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) } });
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const { tensors } = parseSafetensors(shifted.subarray(1));
    expect(Array.from(tensors.get('x')!.data)).toEqual([1, 2, 3]);
  });

  it('reads a Node Buffer (whose slice() shares memory) without picking up bytes around it', () => {
    const bytes = writeSafetensors({
      x: { dtype: 'F32', shape: [2], data: new Float32Array([4, 5]) },
      i: { dtype: 'I32', shape: [1], data: new Int32Array([9]) },
    });
    const pool = Buffer.alloc(bytes.byteLength + 64, 0xee);
    pool.set(bytes, 32);
    const { tensors } = parseSafetensors(pool.subarray(32, 32 + bytes.byteLength));
    expect(Array.from(tensors.get('x')!.data)).toEqual([4, 5]);
    expect(Array.from(tensors.get('i')!.data)).toEqual([9]);
    expect(tensors.get('x')!.data.buffer.byteLength).toBe(8);
  });

  it('decodes F16: 1.0, -2.5, 65504, the smallest subnormal, +inf, -inf, NaN', () => {
    const bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x03ff, 0x8000];
    const file = rawFile({ h: { dtype: 'F16', shape: [9], data_offsets: [0, 18] } }, u16le(bits));
    const t = parseSafetensors(file).tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.data).toBeInstanceOf(Float32Array);
    const v = Array.from(t.data);
    expect(v.slice(0, 6)).toEqual([1, -2.5, 65504, 2 ** -24, Infinity, -Infinity]);
    expect(v[6]).toBeNaN();
    expect(v[7]).toBe(1023 * 2 ** -24); // largest subnormal, exactly representable in f32
    expect(Object.is(v[8], -0)).toBe(true);
    expect(f16ToF32(0x3555)).toBeCloseTo(1 / 3, 3);
  });

  it('decodes BF16: 1.0, -2.5, 65280 (near 65504), a subnormal, +inf', () => {
    // bf16 = top 16 bits of the f32: 1.0 = 0x3f80, -2.5 = 0xc020, 65280 = 0x477f, inf = 0x7f80,
    // 0x0001 = 2^-133 (the smallest bf16 subnormal).
    const bits = [0x3f80, 0xc020, 0x477f, 0x0001, 0x7f80, 0xff80];
    const file = rawFile({ b: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 12] } }, u16le(bits));
    const t = parseSafetensors(file).tensors.get('b')!;
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, -2.5, 65280, 2 ** -133, Infinity, -Infinity]);
  });

  it('reads I64 into Int32Array, U8 and BOOL into Uint8Array', () => {
    const i64 = new Uint8Array(24);
    const v = new DataView(i64.buffer);
    v.setBigInt64(0, 7n, true);
    v.setBigInt64(8, -3n, true);
    v.setBigInt64(16, -2147483648n, true);
    const data = new Uint8Array([...i64, 0, 255, 1, 0]);
    const file = rawFile(
      {
        i: { dtype: 'I64', shape: [3], data_offsets: [0, 24] },
        u: { dtype: 'U8', shape: [2], data_offsets: [24, 26] },
        m: { dtype: 'BOOL', shape: [2], data_offsets: [26, 28] },
      },
      data,
    );
    const { tensors, metadata } = parseSafetensors(file);
    expect(metadata).toEqual({});
    expect(tensors.get('i')!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensors.get('i')!.data)).toEqual([7, -3, -2147483648]);
    expect(Array.from(tensors.get('u')!.data)).toEqual([0, 255]);
    expect(tensors.get('m')!.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(tensors.get('m')!.data)).toEqual([1, 0]);
  });

  it('rejects an I64 value outside int32, naming the tensor and the element', () => {
    const d = new Uint8Array(16);
    new DataView(d.buffer).setBigInt64(8, 2n ** 31n, true);
    expectError(
      () => parseSafetensors(rawFile({ pos: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, d)),
      /tensor "pos": I64 element 1 \(2147483648\) does not fit in int32/,
    );
  });

  it('rejects a truncated file: a tensor ends past the data section', () => {
    const full = writeSafetensors({ x: { dtype: 'F32', shape: [1024], data: new Float32Array(1024) } });
    const n = Number(new DataView(full.buffer).getBigUint64(0, true));
    const cut = full.subarray(0, 8 + n + 1000);
    expectError(
      () => parseSafetensors(cut),
      /file is truncated: tensor "x" ends at byte 4096 but the data section has 1000 bytes; re-download/,
    );
    expectError(() => parseSafetensors(full.subarray(0, 5)), /file is truncated: it has 5 bytes/);
  });

  it('rejects a bad header length: past the end of the file, or above 100 MB', () => {
    const good = rawFile({ x: { dtype: 'F32', shape: [0], data_offsets: [0, 0] } });
    const past = good.slice();
    new DataView(past.buffer).setBigUint64(0, BigInt(good.byteLength), true);
    expectError(
      () => parseSafetensors(past),
      /bad header length: the file declares a \d+-byte JSON header but only \d+ bytes follow/,
    );
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expectError(() => parseSafetensors(huge), /bad header length: .* above the 104857600-byte limit/);
    const big = good.slice();
    new DataView(big.buffer).setBigUint64(0, 200n * 1024n * 1024n, true);
    expectError(() => parseSafetensors(big), /above the 104857600-byte limit/);
  });

  it('rejects a header that is not JSON, or not an object', () => {
    expectError(() => parseSafetensors(rawFile('{"x": {"dtype": "F32",')), /header is not valid UTF-8 JSON/);
    expectError(() => parseSafetensors(rawFile('[1, 2]')), /not an object of tensors/);
    expectError(() => parseSafetensors(rawFile({ __metadata__: { a: 1 } })), /"__metadata__" key "a" holds 1, not a string/);
  });

  it('rejects an unknown dtype, naming the tensor and the dtypes MedRank reads', () => {
    expectError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
      /tensor "w": unknown dtype "F64"; MedRank reads F32, F16, BF16, I32, I64, U8, BOOL/,
    );
  });

  it('rejects bad shapes and malformed data_offsets', () => {
    expectError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } })),
      /tensor "w": shape \[2,-1\] is not a list of non-negative integers/,
    );
    expectError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 0] } })),
      /non-negative integers/,
    );
    expectError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4))),
      /tensor "w": data_offsets \[4,0\] is not a pair/,
    );
  });

  it('rejects data_offsets whose span does not match numel * dtype size', () => {
    expectError(
      () => parseSafetensors(rawFile({ w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }, new Uint8Array(8))),
      /tensor "w": data_offsets \[0, 8\] span 8 bytes but shape \[2, 3\] of F16 needs 12/,
    );
  });

  it('rejects overlapping tensors, naming both', () => {
    const header = {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
    };
    expectError(
      () => parseSafetensors(rawFile(header, new Uint8Array(20))),
      /tensors "a" \[0, 16\) and "b" \[12, 20\) overlap in the data section/,
    );
  });

  it('the writer rejects mismatched data, wrong array types and the reserved name', () => {
    expectError(
      () => writeSafetensors({ x: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      /tensor "x": shape \[2, 2\] has 4 elements but data has 3/,
    );
    expectError(
      () => writeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }),
      /tensor "x": dtype F32 needs a Float32Array, got Int32Array/,
    );
    expectError(
      () => writeSafetensors({ __metadata__: { dtype: 'I32', shape: [1], data: new Int32Array(1) } }),
      /"__metadata__" is reserved/,
    );
  });
});
