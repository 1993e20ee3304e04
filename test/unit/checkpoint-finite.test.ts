// Checkpoint.read refuses weights holding NaN or an infinity (F32, F16 and BF16 alike), naming
// the tensor, its file and the first bad element; a finite tensor is scanned once.
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/models/checkpoint';
import { CheckpointMismatchError } from '../../src/models/errors';
import { writeSafetensors } from '../../src/tensor/safetensors';

/** A file of one 16-bit tensor (F16 or BF16) with the given bit patterns, written by hand. */
function half(dtype: 'F16' | 'BF16', name: string, bits: number[]): Uint8Array {
  const text = JSON.stringify({ [name]: { dtype, shape: [bits.length], data_offsets: [0, 2 * bits.length] } });
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.byteLength + 2 * bits.length);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(h.byteLength), true);
  out.set(h, 8);
  bits.forEach((b, i) => v.setUint16(8 + h.byteLength + 2 * i, b, true));
  return out;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointMismatchError);
    return (e as Error).message;
  }
  throw new Error('expected a CheckpointMismatchError');
}

describe('Checkpoint non-finite weights', () => {
  it('B: an F32 weight with NaN or Infinity is refused on read, naming the tensor, the file and the first bad element', () => {
    const data = new Float32Array([1, 2, NaN, 4, Infinity, -Infinity]);
    const file = writeSafetensors({ 'model.norm.weight': { dtype: 'F32', shape: [2, 3], data } });
    const ckpt = new Checkpoint(new Map([['model.safetensors', file]]));
    expect(() => ckpt.verify([{ name: 'model.norm.weight', shape: [2, 3] }], 'tiny')).not.toThrow(); // headers only
    const m = refusal(() => ckpt.read('model.norm.weight'));
    expect(m).toMatch(
      /tensor "model\.norm\.weight" in model\.safetensors \(F32, \[2, 3\]\) holds 3 non-finite value\(s\) \(the first, NaN, at element 2 of 6\)/,
    );
    expect(m).toMatch(/re-download it, or use an earlier checkpoint/);
    const inf = writeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([0, -Infinity]) } });
    expect(refusal(() => new Checkpoint(new Map([['x.safetensors', inf]])).read('w'))).toMatch(
      /holds 1 non-finite value\(s\) \(the first, -Infinity, at element 1 of 2\)/,
    );
  });

  it('B: F16 and BF16 infinities and NaNs are caught after widening', () => {
    const f16 = new Checkpoint(new Map([['a.safetensors', half('F16', 'h', [0x3c00, 0x7c00, 0x7e00])]]));
    expect(refusal(() => f16.read('h'))).toMatch(
      /tensor "h" in a\.safetensors \(F16, \[3\]\) holds 2 non-finite .*Infinity, at element 1/,
    );
    const bf16 = new Checkpoint(new Map([['b.safetensors', half('BF16', 'b', [0x3f80, 0xffc0])]]));
    expect(refusal(() => bf16.read('b'))).toMatch(
      /tensor "b" in b\.safetensors \(BF16, \[2\]\) holds 1 non-finite value\(s\) \(the first, NaN/,
    );
  });

  it('finite weights read as before (largest F16, -0, subnormals), and a long name is clipped', () => {
    const ok = new Checkpoint(new Map([['a.safetensors', half('F16', 'h', [0x7bff, 0x8000, 0x0001])]]));
    expect(Array.from(ok.read('h'))).toEqual([65504, -0, 2 ** -24]);
    expect(Array.from(ok.read('h'))).toEqual([65504, -0, 2 ** -24]); // the second read skips the scan
    const long = 'w'.repeat(500);
    const bad = writeSafetensors({ [long]: { dtype: 'F32', shape: [1], data: new Float32Array([NaN]) } });
    expect(refusal(() => new Checkpoint(new Map([['m.safetensors', bad]])).read(long)).length).toBeLessThan(500);
  });
});
