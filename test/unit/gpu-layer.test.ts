import { describe, expect, it } from 'vitest';
import { bucketSize } from '../../src/gpu/buffers';
import { packUniforms } from '../../src/gpu/device';
import { formatBytes } from '../../src/core/format';
import { grid } from '../../src/tensor/ops/common';
import { broadcastShape } from '../../src/tensor/ops/binary';

describe('GPU layer helpers', () => {
  it('bucketSize rounds small sizes to 256 B and large ones to eighths of a power of two', () => {
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(256)).toBe(256);
    expect(bucketSize(257)).toBe(512);
    expect(bucketSize(65536)).toBe(65536);
    expect(bucketSize(65537)).toBe(65536 + 8192);
    expect(bucketSize(3 * 2 ** 20)).toBe(3 * 2 ** 20);
    // A 655 MB corpus must not round up to 1 GiB (SwiftShader's maxBufferSize, which it then fails to allocate).
    const corpus = 10000 * 128 * 128 * 4;
    expect(bucketSize(corpus)).toBeLessThan(corpus * 1.125 + 1);
    expect(bucketSize(corpus)).toBeGreaterThanOrEqual(corpus);
    for (let b = 65537; b < 2 ** 28; b = Math.floor(b * 1.37)) {
      expect(bucketSize(b) % 4).toBe(0);
      expect(bucketSize(b) / b).toBeLessThanOrEqual(1.125);
    }
  });

  it('packUniforms writes typed words little-endian and pads to 16 bytes', () => {
    const buf = packUniforms([
      ['u32', 7],
      ['i32', -1],
      ['f32', 0.5],
    ]);
    expect(buf.byteLength).toBe(16);
    const dv = new DataView(buf);
    expect(dv.getUint32(0, true)).toBe(7);
    expect(dv.getInt32(4, true)).toBe(-1);
    expect(dv.getFloat32(8, true)).toBe(0.5);
    expect(packUniforms(Array.from({ length: 5 }, () => ['u32', 1] as ['u32', number])).byteLength).toBe(32);
  });

  it('grid stays under 65535 workgroups per dimension and covers every element', () => {
    expect(grid(256)).toEqual([1, 1]);
    expect(grid(257)).toEqual([2, 1]);
    const [x, y] = grid(65535 * 256 * 3 + 1);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y * 256).toBeGreaterThanOrEqual(65535 * 256 * 3 + 1);
  });

  it('broadcastShape follows NumPy rules', () => {
    expect(broadcastShape([4, 1, 5], [3, 1])).toEqual([4, 3, 5]);
    expect(broadcastShape([], [2])).toEqual([2]);
    expect(() => broadcastShape([2, 3], [4])).toThrow(/dim 1: 3 vs 4/);
  });

  it('formatBytes picks readable units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2 ** 30)).toBe('1.00 GiB');
    expect(formatBytes(1.5 * 2 ** 20)).toBe('1.5 MiB');
  });
});
