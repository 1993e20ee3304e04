// IEEE half precision for frozen weights stored two to a u32 (dtype 'f16'): the f32 -> f16
// conversion (round to nearest, ties to even, as the GPU's unpack2x16float expects), packing and
// unpacking a tensor's rows.
//
// Layout: a tensor of shape [..., C] is `rows` = size / C rows of C halves; each row takes
// CW = ceil(C / 2) u32 words, element c of row r in word r * CW + floor(c / 2), the low 16 bits
// for even c and the high 16 bits for odd c (unpack2x16float's .x and .y). A row of odd length
// ends in one padding half, +0, so every row starts on a word and a kernel may read a whole word
// past the row's last element and multiply zero. Why f16 and not bf16: the weights of the models
// this app loads sit far inside f16's range (|w| < 65504; bf16's extra range buys nothing there),
// f16 keeps 3 more mantissa bits (relative rounding 2^-11 against bf16's 2^-8), and WGSL unpacks
// it natively; a value that would overflow is refused, not clamped.

import { MedRankError } from '../core/errors';
import { f16ToF32 } from './safetensors';

/** A weight that cannot be stored as f16 (a value beyond its range), or data that does not fill the shape. */
export class F16PackError extends MedRankError {}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern nearest to v (ties to even); beyond the largest half (65504 + half a step) gives ±inf. */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf stays inf, NaN stays a (quiet) NaN
  const e = exp - 112; // the f16 exponent field (bias 15 against f32's 127)
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: h * 2^-24 = (1.mant) * 2^(exp - 127), so h = mant24 >> (14 - e).
    const shift = 14 - e;
    if (shift > 24) return sign; // below half the smallest subnormal: rounds to zero
    const m24 = mant | 0x800000;
    let h = m24 >>> shift;
    const rem = m24 & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is the right rounding
  return sign | h;
}

/** f32 rounded to the nearest half, as a number. */
export function roundToF16(v: number): number {
  return f16ToF32(f32ToF16Bits(v));
}

/** Row length C (the last dim; 1 for a scalar), rows and words per row of a packed tensor. */
export function packedLayout(shape: readonly number[]): { rows: number; C: number; CW: number; words: number } {
  const C = shape.length ? shape[shape.length - 1]! : 1;
  const size = shape.reduce((a, b) => a * b, 1);
  const rows = C === 0 ? 0 : size / C;
  const CW = Math.ceil(C / 2);
  return { rows, C, CW, words: rows * CW };
}

/** Bytes of a packed tensor of this shape (rows padded to a whole word). */
export const packedBytes = (shape: readonly number[]): number => packedLayout(shape).words * 4;

/**
 * f32 values of a tensor of `shape` packed two halves per u32. A finite value that rounds to ±inf
 * (|v| >= 65520) is refused with an error naming the tensor and the element, as is a NaN or inf.
 */
export function packF16(data: ArrayLike<number>, shape: readonly number[], name = ''): Uint32Array {
  const { rows, C, CW, words } = packedLayout(shape);
  if (data.length !== rows * C)
    throw new F16PackError(`packF16: ${data.length} values do not fill shape [${shape}] (${rows * C} values)`);
  const out = new Uint32Array(words);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const v = data[r * C + c]!;
      const h = f32ToF16Bits(v);
      if ((h & 0x7c00) === 0x7c00)
        throw new F16PackError(
          `${name ? `weight "${name}"` : `a tensor [${shape}]`} cannot be stored as f16: element ${r * C + c} is ${v}, ` +
            `${Number.isFinite(v) ? 'beyond the largest half (65504)' : 'not finite'}. Load it with frozenDtype 'f32'`,
        );
      out[r * CW + (c >> 1)]! |= c & 1 ? h << 16 : h;
    }
  return out;
}

let table: Float32Array | null = null;

/** The f32 values of packed words (padding halves dropped). */
export function unpackF16(words: Uint32Array, shape: readonly number[]): Float32Array {
  const { rows, C, CW } = packedLayout(shape);
  const f = (table ??= Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h)));
  const out = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const w = words[r * CW + (c >> 1)]!;
      out[r * C + c] = f[c & 1 ? w >>> 16 : w & 0xffff]!;
    }
  return out;
}
