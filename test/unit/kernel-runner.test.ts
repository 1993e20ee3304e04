// The kernel runner CLI end to end: a golden's inputs in, outputs out under the documented names,
// equal to the golden; and malformed input refused with a message before any browser starts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, writeSafetensors } from '../../src/tensor/safetensors';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const goldens = path.join(root, 'test/goldens');
const tmp = mkdtempSync(path.join(tmpdir(), 'medrank-runner-'));
const runner = (args: string[]) => run('npx', ['tsx', 'scripts/kernel.ts', ...args], { cwd: root, timeout: 180_000 });

describe('npm run kernel', () => {
  for (const op of ['maxsim', 's2attn'] as const)
    it(`${op}: writes the documented outputs, equal to the PyTorch golden`, async () => {
      const golden = readdirSync(goldens).find((f) => f.startsWith(`${op}_`) && f.endsWith('.safetensors'))!;
      const input = path.join(goldens, golden);
      const want = parseSafetensors(readFileSync(input));
      const output = path.join(tmp, `${op}.safetensors`);
      const ratio = want.metadata?.ratio ?? '1';
      const { stderr } = await runner([op, '--input', input, '--output', output, '--ratio', ratio]);
      expect(stderr).toMatch(new RegExp(`${op}: wrote`));
      const got = parseSafetensors(readFileSync(output));
      const names = op === 'maxsim' ? ['scores', 'dQ', 'dD'] : ['out', 'dq', 'dk', 'dv'];
      expect([...got.tensors.keys()].sort()).toEqual([...names].sort());
      for (const n of names) {
        const g = got.tensors.get(n)!,
          w = want.tensors.get(n)!;
        expect(g.shape).toEqual(w.shape);
        expect(g.dtype).toBe('F32');
        let worst = 0;
        for (let i = 0; i < w.data.length; i++)
          worst = Math.max(worst, Math.abs(g.data[i]! - w.data[i]!) - 1e-4 * Math.abs(w.data[i]!));
        expect(worst, `${op} ${n}`).toBeLessThan(1e-5);
      }
    }, 240_000);

  it('refuses an input with missing tensors, naming them, without starting a browser', async () => {
    const bad = path.join(tmp, 'bad.safetensors');
    writeFileSync(bad, writeSafetensors({ Q: { dtype: 'F32', shape: [1, 2, 2], data: new Float32Array(4) } }));
    const err = await runner(['maxsim', '--input', bad, '--output', path.join(tmp, 'x.safetensors')]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/missing tensor "D_offsets"/);
    expect(err.stderr).toMatch(/missing tensor "Q_mask"/);
  });

  it('refuses an unknown op and a truncated file with a clear message', async () => {
    const e1 = await runner(['attention', '--input', 'x', '--output', 'y']).catch((e) => e);
    expect(e1.code).toBe(2);
    expect(e1.stderr).toMatch(/unknown op "attention"/);
    const trunc = path.join(tmp, 'trunc.safetensors');
    const full = writeSafetensors({ Q: { dtype: 'F32', shape: [64], data: new Float32Array(64) } });
    writeFileSync(trunc, full.subarray(0, full.length - 100));
    const e2 = await runner(['maxsim', '--input', trunc, '--output', path.join(tmp, 'y.safetensors')]).catch((e) => e);
    expect(e2.code).not.toBe(0);
    expect(e2.stderr).toMatch(/truncat/i);
  });
});
