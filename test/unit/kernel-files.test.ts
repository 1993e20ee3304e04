// House rules for kernels/, checked on the files Node tools load (src/gpu/node.ts): one kernel per
// file named op_direction, an entry point `main`, and a header comment saying what it computes.
import { describe, expect, it } from 'vitest';
import { loadKernelsFromDisk } from '../../src/gpu/node';
import { resolveKernel } from '../../src/gpu/pipelines';
import { KernelNotFoundError } from '../../src/gpu/errors';

const kernels = loadKernelsFromDisk();

describe('kernels/*.wgsl', () => {
  it('are found by the Node loader', () => {
    expect(Object.keys(kernels).length).toBeGreaterThan(20);
    expect(kernels.matmul_forward).toContain('fn main');
  });

  it('lib/ snippets are included, never compiled alone, and includes resolve once each', () => {
    const libs = Object.keys(kernels).filter((n) => n.startsWith('lib/'));
    expect(libs).toContain('lib/erf');
    for (const l of libs) expect(kernels[l]).not.toMatch(/@compute/);
    const fwd = resolveKernel('unary_forward', kernels);
    expect(fwd).not.toMatch(/\/\/!include/);
    expect(fwd.match(/fn one_plus_erf/g)?.length).toBe(1);
    const src = { a: '//!include lib/x\n//!include lib/x\nfn main() {}', 'lib/x': 'fn x() {}' };
    expect(resolveKernel('a', src).match(/fn x/g)?.length).toBe(1);
    expect(() => resolveKernel('a', { a: '//!include lib/missing' })).toThrow(KernelNotFoundError);
  });

  for (const [name, code] of Object.entries(kernels).filter(([n]) => !n.startsWith('lib/')))
    it(`${name}: named op_direction, one @compute entry point 'main', header comment`, () => {
      expect(name).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*_(forward|backward|step)$/);
      expect(code.match(/@compute/g)?.length).toBe(1);
      expect(code).toMatch(/@compute[^\n]*\n\s*fn main\(|@compute[^\n]*fn main\(/);
      expect(code.startsWith('//')).toBe(true);
    });
});
