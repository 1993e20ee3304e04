// Kernel runner: `npm run kernel -- <maxsim|s2attn> --input IN.safetensors --output OUT.safetensors
// [--ratio 0.25] [--shift roll|split|none]`. Runs the op forward and backward with MedRank's WGSL
// kernels and writes f32 outputs, so other implementations (PyTorch, CUDA ports) can be checked
// against MedRank and vice versa. The contract (tensor names and shapes) is in kernels/README.md.
// Runs in headless Chromium's WebGPU (see docs/testing.md for why not Node's Dawn).

import { readFile, writeFile } from 'node:fs/promises';
import { log, withChromiumPage } from './lib/browser-session';
import { checkInputs, RUNNER_OPS, type RunnerOp, type RunnerOptions } from './kernel/ops';
import { parseSafetensors } from '../src/tensor/safetensors';

function usage(msg: string): never {
  log(`error: ${msg}`);
  log(
    `usage: npm run kernel -- <${Object.keys(RUNNER_OPS).join('|')}> --input IN.safetensors --output OUT.safetensors [--ratio 0.25] [--shift roll|split|none]`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { op: RunnerOp; input: string; output: string; opts: RunnerOptions } {
  const op = argv[0];
  if (!op || !(op in RUNNER_OPS)) usage(op ? `unknown op "${op}"` : 'no op given');
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const input = flag('input') ?? usage('--input is required');
  const output = flag('output') ?? usage('--output is required');
  const ratio = Number(flag('ratio') ?? 0.25);
  if (!(ratio > 0 && ratio <= 1)) usage(`--ratio must be in (0, 1], got ${flag('ratio')}`);
  const shift = (flag('shift') ?? 'roll') as RunnerOptions['shift'];
  if (!['roll', 'split', 'none'].includes(shift)) usage(`--shift must be roll, split or none, got ${shift}`);
  return { op: op as RunnerOp, input, output, opts: { ratio, shift } };
}

async function main(): Promise<void> {
  const { op, input, output, opts } = parseArgs(process.argv.slice(2));
  const bytes = await readFile(input).catch((e: NodeJS.ErrnoException) => usage(`cannot read ${input}: ${e.code ?? e.message}`));
  // Validate in Node first: a malformed file fails in milliseconds, before a browser starts.
  const { tensors } = parseSafetensors(new Uint8Array(bytes));
  const problems = checkInputs(op, tensors);
  if (problems.length) usage(`${input} is not a valid ${op} input:\n  ${problems.join('\n  ')}`);

  await withChromiumPage(
    '/scripts/kernel/index.html',
    async ({ page }) => {
      await page.waitForFunction(() => window.__runKernel !== undefined, null, { timeout: 60_000 });
      const res = await page.evaluate(([o, b64, ro]) => window.__runKernel!(o, b64, ro), [
        op,
        Buffer.from(bytes).toString('base64'),
        opts,
      ] as const);
      await writeFile(output, Buffer.from(res.output, 'base64'));
      const outNames = RUNNER_OPS[op].outputs.join(', ');
      log(`${op}: wrote ${outNames} to ${output} (${res.ms.toFixed(1)} ms on ${res.adapter})`);
    },
    { quiet: true },
  );
}

main().catch((e: Error) => {
  log(`error: ${e.message.replace(/^page\.evaluate: /, '')}`);
  process.exit(1);
});
