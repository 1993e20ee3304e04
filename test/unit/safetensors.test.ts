// The safetensors reader/writer: round trip, half-precision decoding of known bit patterns, and
// one test per way a file can be broken (each must throw SafetensorsError naming the problem).
import { describe, expect, it } from 'vitest';
import {
  duplicateKey,
  f16ToF32,
  parseSafetensors,
  parseSafetensorsHeader,
  SafetensorsError,
  writeSafetensors,
} from '../../src/tensor/safetensors';
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

  it('A1: a header nested 4,000 levels deep is a SafetensorsError, not a RangeError', () => {
    for (const deepValue of ['['.repeat(4000) + ']'.repeat(4000), '{"a":'.repeat(4000) + '0' + '}'.repeat(4000)]) {
      const text = `{"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":${deepValue}}}`;
      expectError(() => parseSafetensors(rawFile(text)), /the header nests deeper than 64 levels .*not a safetensors file/);
    }
    expectError(() => parseSafetensors(rawFile('['.repeat(4000) + ']'.repeat(4000))), /nests deeper than 64 levels/);
  });

  it('A2: the offsets must tile the data section: no gap, no bytes before the first or after the last tensor', () => {
    const f32 = (begin: number, n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [begin, begin + 4 * n] });
    expectError(
      () => parseSafetensors(rawFile({ a: f32(0, 2), b: f32(12, 1) }, new Uint8Array(16))),
      /the data section has 4 bytes between tensor "a" \(ending at byte 8\) and tensor "b" \(beginning at 12\) that belong to no tensor/,
    );
    expectError(
      () => parseSafetensors(rawFile({ a: f32(4, 1) }, new Uint8Array(8))),
      /the first tensor, "a", begins at byte 4 of the data section, not 0 that belong to no tensor/,
    );
    expectError(
      () => parseSafetensors(rawFile({ a: f32(0, 1) }, new Uint8Array(7))),
      /the data section has 3 bytes after the last tensor, "a" \(ending at byte 4\), that belong to no tensor; .*re-download or re-export/,
    );
    expectError(() => parseSafetensors(rawFile({}, new Uint8Array(5))), /the header names no tensor but 5 data bytes follow it/);
    // a valid file with one byte appended
    const good = writeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const longer = new Uint8Array(good.byteLength + 1);
    longer.set(good);
    expectError(() => parseSafetensors(longer), /1 byte after the last tensor, "x"/);
    // zero-length tensors may sit anywhere the tiling reaches
    const empties = rawFile({ a: f32(0, 1), e: f32(4, 0), z: f32(0, 0) }, new Uint8Array(4));
    expect([...parseSafetensors(empties).tensors.keys()]).toEqual(['z', 'a', 'e']);
  });

  it('A3: a header length one smaller than the truth (a padding space lost, every tensor read a byte early) is refused', () => {
    const good = writeSafetensors({
      w: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) },
      b: { dtype: 'F32', shape: [1], data: new Float32Array([4]) },
    });
    const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const n = view.getBigUint64(0, true);
    expect(good[8 + Number(n) - 1]).toBe(0x20); // the last header byte is padding, so the JSON still parses
    const off = good.slice();
    new DataView(off.buffer).setBigUint64(0, n - 1n, true);
    expectError(() => parseSafetensors(off), /the data section has 1 byte after the last tensor, "b" \(ending at byte 16\)/);
    expectError(() => parseSafetensorsHeader(off), /byte after the last tensor/);
    // one larger swallows the first data byte into the header
    const over = good.slice();
    new DataView(over.buffer).setBigUint64(0, n + 1n, true);
    expect(() => parseSafetensors(over)).toThrow(SafetensorsError);
  });

  it('A4: a tensor name (or any key of an entry) twice in the header is refused, not silently the last one', () => {
    const entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expectError(
      () => parseSafetensors(rawFile(`{"w":${entry},"w":${entry}}`, new Uint8Array(4))),
      /tensor "w" appears twice in the header, and a JSON reader keeps only one of the two/,
    );
    // the same name spelt with an escape is the same name
    expectError(
      () => parseSafetensors(rawFile(`{"w":${entry},"\\u0077":${entry}}`, new Uint8Array(4))),
      /tensor "w" appears twice/,
    );
    expectError(
      () => parseSafetensors(rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"shape":[2]}}', new Uint8Array(4))),
      /the header entry "w" has the key "shape" twice/,
    );
    expectError(
      () => parseSafetensors(rawFile('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}')),
      /"__metadata__" appears twice/,
    );
    // the same key in different objects is fine, and braces inside strings do not count
    const ok = rawFile(
      { __metadata__: { shape: '{"w":1,"w":2}' }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
      new Uint8Array(4),
    );
    expect(parseSafetensors(ok).metadata).toEqual({ shape: '{"w":1,"w":2}' });
    expect(duplicateKey('{"a":[{"b":1},{"b":2}],"c":{"a":1}}')).toBeNull();
    expect(duplicateKey('{"a":[{"b":1,"b":2}]}')).toEqual({ key: 'b', parent: 'a' });
  });

  it('messages name the tensor and what was found (describe), never undefined, and stay short', () => {
    const j = (v: unknown) => JSON.stringify(v);
    const cases: [string, RegExp][] = [
      [j({ w: { dtype: 'F32', data_offsets: [0, 0] } }), /tensor "w": shape nothing is not a list of non-negative integers/],
      ['{"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,0]}}', /shape \[Infinity\]/],
      [j({ w: { shape: [1], data_offsets: [0, 4] } }), /tensor "w": unknown dtype nothing/],
      [j({ w: { dtype: 'F32', shape: [0] } }), /tensor "w": data_offsets nothing is not a pair/],
      [j({ w: 3 }), /tensor "w": its header entry is 3, not an object/],
      [
        j({ w: { dtype: 'F32', shape: Array(1000).fill(1), data_offsets: [0, 0] } }),
        /span 0 bytes but shape \[1, 1, 1, 1, 1, 1, 1, 1, … \(1000 dims\)\]/,
      ],
      [j({ ['n'.repeat(5000)]: 3 }), /tensor "n+…/],
      [j({ __metadata__: [] }), /"__metadata__" is a list of 0, not an object of strings/],
      ['5', /the header is JSON but 5, not an object of tensors/],
    ];
    for (const [text, pattern] of cases) {
      let caught: unknown;
      try {
        parseSafetensors(rawFile(text));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SafetensorsError);
      const m = (caught as Error).message;
      expect(m).toMatch(pattern);
      expect(m).not.toMatch(/undefined|\bnull\b/);
      expect(m.length).toBeLessThan(400);
    }
    expectError(
      () => parseSafetensors(rawFile('{"__proto__":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')),
      /tensor "__proto__" is not a name MedRank reads/,
    );
    expectError(() => parseSafetensors(rawFile('{"__metadata__":{"__proto__":"x"}}')), /"__metadata__" has the key "__proto__"/);
  });

  it('header-only parsing: a prefix is checked as far as it goes, against the file size when given', () => {
    const good = writeSafetensors({
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      b: { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
    });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const prefix = good.subarray(0, 8 + n + 8);
    const h = parseSafetensorsHeader(prefix, { fileBytes: good.byteLength });
    expect(Array.from(h.decode('a').data)).toEqual([1, 2]);
    expectError(() => h.decode('b'), /tensor "b" lies past the \d+ bytes given .*read the whole file/);
    expect([...parseSafetensorsHeader(good.subarray(0, 8 + n), { fileBytes: null }).entries.keys()]).toEqual(['a', 'b']);
    expectError(() => parseSafetensorsHeader(prefix, { fileBytes: good.byteLength + 4 }), /4 bytes after the last tensor, "b"/);
    expectError(
      () => parseSafetensorsHeader(prefix, { fileBytes: good.byteLength - 4 }),
      /file is truncated: tensor "b" ends at byte 12/,
    );
    expectError(() => parseSafetensorsHeader(prefix, { fileBytes: 3 }), /fileBytes 3 is not the size of a file/);
    const gap = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } });
    expectError(() => parseSafetensorsHeader(gap, { fileBytes: null }), /begins at byte 4 of the data section, not 0/);
  });
});
