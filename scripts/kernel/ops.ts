// The kernel runner's contract (documented in kernels/README.md): which tensors each op reads
// and writes. Shared by the Node CLI (to validate before starting a browser) and the page.

export interface TensorSpec {
  name: string;
  dtype: 'F32' | 'I32';
  rank: number;
}

export const RUNNER_OPS = {
  maxsim: {
    inputs: [
      { name: 'Q', dtype: 'F32', rank: 3 },
      { name: 'Q_mask', dtype: 'F32', rank: 2 },
      { name: 'D', dtype: 'F32', rank: 2 },
      { name: 'D_offsets', dtype: 'I32', rank: 1 },
      { name: 'dScores', dtype: 'F32', rank: 2 },
    ],
    outputs: ['scores', 'dQ', 'dD'],
  },
  s2attn: {
    inputs: [
      { name: 'q', dtype: 'F32', rank: 4 },
      { name: 'k', dtype: 'F32', rank: 4 },
      { name: 'v', dtype: 'F32', rank: 4 },
      { name: 'dout', dtype: 'F32', rank: 4 },
    ],
    outputs: ['out', 'dq', 'dk', 'dv'],
  },
} as const satisfies Record<string, { inputs: TensorSpec[]; outputs: readonly string[] }>;

export type RunnerOp = keyof typeof RUNNER_OPS;

export interface RunnerOptions {
  ratio: number;
  shift: 'roll' | 'split' | 'none';
}

/** Problems with the input's tensor names, dtypes and ranks, as messages that say what to fix. */
export function checkInputs(op: RunnerOp, tensors: Map<string, { dtype: string; shape: number[] }>): string[] {
  const problems: string[] = [];
  for (const spec of RUNNER_OPS[op].inputs) {
    const t = tensors.get(spec.name);
    if (!t) problems.push(`missing tensor "${spec.name}" (${spec.dtype}, rank ${spec.rank})`);
    else {
      // I64 offsets are accepted: the reader narrows them to I32 with a range check.
      const dtypeOk = spec.dtype === 'I32' ? ['I32', 'I64'].includes(t.dtype) : ['F32', 'F16', 'BF16'].includes(t.dtype);
      if (!dtypeOk) problems.push(`tensor "${spec.name}" has dtype ${t.dtype}; expected ${spec.dtype}`);
      if (t.shape.length !== spec.rank) problems.push(`tensor "${spec.name}" has shape [${t.shape}]; expected rank ${spec.rank}`);
    }
  }
  return problems;
}
