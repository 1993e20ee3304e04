// f32 -> f16 rounding and the packed layout of frozen weights (src/tensor/f16.ts), and the memory
// plan's bytes for packed frozen matrices (src/models/memory.ts).
import { describe, expect, it } from 'vitest';
import { f16ToF32 } from '../../src/tensor/safetensors';
import { F16PackError, f32ToF16Bits, packedBytes, packF16, unpackF16 } from '../../src/tensor/f16';
import { planMemory } from '../../src/models/memory';
import { storedDtype } from '../../src/models/weights';

const f32 = (v: number): number => Math.fround(v);
/** The f32 just above or below v. */
function nextF32(v: number, dir: 1 | -1): number {
  const a = new Float32Array([v]);
  const u = new Uint32Array(a.buffer);
  u[0]! += v >= 0 ? dir : -dir;
  return a[0]!;
}

describe('f32ToF16Bits', () => {
  it('is exact on every finite half and keeps inf and NaN', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaNs
      if (f32ToF16Bits(f16ToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(Number.isNaN(f16ToF32(f32ToF16Bits(NaN)))).toBe(true);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
  });

  it('rounds to nearest with ties to even between every pair of neighbouring halves (subnormals included)', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const lo = f16ToF32(h),
        hi = f16ToF32(h + 1);
      const mid = (lo + hi) / 2; // 12 significant bits: exact in f32
      const even = h & 1 ? h + 1 : h;
      if (
        f32(mid) !== mid ||
        f32ToF16Bits(mid) !== even ||
        f32ToF16Bits(-mid) !== (0x8000 | even) ||
        f32ToF16Bits(nextF32(mid, -1)) !== h ||
        f32ToF16Bits(nextF32(mid, 1)) !== h + 1
      )
        wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('known values: 1/3, the largest half, overflow, and values below the smallest subnormal', () => {
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the tie above the largest half rounds to inf
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even (0)
    expect(f32ToF16Bits(3 * 2 ** -26)).toBe(1);
    expect(f32ToF16Bits(2 ** -30)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1e-40)).toBe(0); // f32 subnormal
  });

  it('relative rounding error is at most 2^-11 over the normal range', () => {
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const v = f32(Math.exp((i / 20000) * 20 - 9) * (i % 2 ? 1 : -1));
      worst = Math.max(worst, Math.abs(f16ToF32(f32ToF16Bits(v)) - v) / Math.abs(v));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(2 ** -12);
  });
});

describe('packF16 / unpackF16', () => {
  it('rows of odd length end in a +0 padding half; unpacking drops it', () => {
    const data = Float32Array.from([1, 2, 3, -1, 0.5, 65504]);
    const words = packF16(data, [2, 3]);
    expect(words.length).toBe(4); // 2 rows x ceil(3 / 2) words
    expect(packedBytes([2, 3])).toBe(16);
    expect(words[0]).toBe(0x3c00 | (0x4000 << 16)); // 1 (low), 2 (high)
    expect(words[1]).toBe(0x4200); // 3, then padding 0
    expect(words[2]).toBe((0xbc00 | (0x3800 << 16)) >>> 0); // -1, 0.5
    expect(words[3]).toBe(0x7bff);
    expect(unpackF16(words, [2, 3])).toEqual(data);
  });

  it('refuses a value beyond the largest half, naming the tensor and the element', () => {
    const data = new Float32Array(10);
    data[7] = 70000;
    expect(() => packF16(data, [2, 5], 'model.layers.0.mlp.up_proj.weight')).toThrow(F16PackError);
    expect(() => packF16(data, [2, 5], 'model.layers.0.mlp.up_proj.weight')).toThrow(
      /weight "model.layers.0.mlp.up_proj.weight" cannot be stored as f16: element 7 is 70000/,
    );
    expect(() => packF16([1, 2, 3], [2, 2])).toThrow(F16PackError);
  });
});

describe('planMemory with frozenDtype f16', () => {
  const specs = [
    { name: 'model.embed_tokens.weight', shape: [100, 33] },
    { name: 'model.layers.0.self_attn.q_proj.weight', shape: [32, 33] },
    { name: 'model.layers.0.input_layernorm.weight', shape: [33] },
  ];
  it('counts 2 bytes per frozen matrix value (rows padded to a word), 4 for vectors and trained weights', () => {
    const f32plan = planMemory(specs, () => false);
    expect(f32plan.paramBytes).toBe((3300 + 1056 + 33) * 4);
    expect(f32plan.packedParams).toBe(0);
    const plan = planMemory(specs, () => false, { frozenDtype: 'f16' });
    expect(plan.paramBytes).toBe(100 * 17 * 4 + 32 * 17 * 4 + 33 * 4);
    expect(plan.packedParams).toBe(3300 + 1056);
    expect(plan.largest).toEqual({ name: 'model.layers.0.self_attn.q_proj.weight', bytes: 32 * 17 * 4 });
    // A trained embedding stays f32 and gets a gradient and two moments; the frozen q_proj is packed.
    const lora = planMemory(specs, (n) => n === 'model.embed_tokens.weight', { frozenDtype: 'f16' });
    expect(lora.paramBytes).toBe(3300 * 4 + 32 * 17 * 4 + 33 * 4);
    expect(lora.gradBytes).toBe(3300 * 4);
    expect(lora.optimizerBytes).toBe(3300 * 8);
    expect(storedDtype(specs[2]!, { frozenDtype: 'f16' })).toBe('f32');
  });

  it('a 1B-parameter model under LoRA: about 4 GB of f32 weights, about 2 GB packed', () => {
    // Llama-3.2-1B's shapes: 16 layers, hidden 2048, MLP 8192, 8 KV heads of 64, vocab 128256, tied head.
    const H = 2048,
      I = 8192,
      KV = 512;
    const s: { name: string; shape: number[] }[] = [{ name: 'model.embed_tokens.weight', shape: [128256, H] }];
    for (let l = 0; l < 16; l++) {
      const p = `model.layers.${l}.`;
      s.push(
        { name: `${p}self_attn.q_proj.weight`, shape: [H, H] },
        { name: `${p}self_attn.k_proj.weight`, shape: [KV, H] },
        { name: `${p}self_attn.v_proj.weight`, shape: [KV, H] },
        { name: `${p}self_attn.o_proj.weight`, shape: [H, H] },
        { name: `${p}mlp.gate_proj.weight`, shape: [I, H] },
        { name: `${p}mlp.up_proj.weight`, shape: [I, H] },
        { name: `${p}mlp.down_proj.weight`, shape: [H, I] },
        { name: `${p}input_layernorm.weight`, shape: [H] },
        { name: `${p}post_attention_layernorm.weight`, shape: [H] },
      );
    }
    s.push({ name: 'model.norm.weight', shape: [H] });
    const full = planMemory(s, () => false);
    const packed = planMemory(s, () => false, { frozenDtype: 'f16' });
    expect(full.totalParams).toBe(1_235_814_400);
    expect(full.paramBytes).toBe(full.totalParams * 4); // 4.94 GB
    expect(packed.paramBytes).toBe((full.totalParams - packed.packedParams) * 4 + packed.packedParams * 2); // 2.47 GB
    expect(packed.paramBytes / full.paramBytes).toBeCloseTo(0.5, 4);
  });
});
