// House rules for kernels/, checked on the files Node tools load (src/gpu/node.ts): one kernel per
// file named op_direction, an entry point `main`, and a header comment saying what it computes.
import { describe, expect, it } from 'vitest';
import { loadKernelsFromDisk } from '../../src/gpu/node';

const kernels = loadKernelsFromDisk();

describe('kernels/*.wgsl', () => {
  it('are found by the Node loader', () => {
    expect(Object.keys(kernels).length).toBeGreaterThan(20);
    expect(kernels.matmul_forward).toContain('fn main');
  });

  for (const [name, code] of Object.entries(kernels))
    it(`${name}: named op_direction, one @compute entry point 'main', header comment`, () => {
      expect(name).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*_(forward|backward|step)$/);
      expect(code.match(/@compute/g)?.length).toBe(1);
      expect(code).toMatch(/@compute[^\n]*\n\s*fn main\(|@compute[^\n]*fn main\(/);
      expect(code.startsWith('//')).toBe(true);
    });
});
