// Which checkpoints a run can resume from exactly, and which config changes a resume refuses
// (src/training/run.ts); the PyTorch twin follows the same rules (python/medrank_torch/run.py).

import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/training/config';
import { checkpointConfigDiff, resumableAt, type RunCheckpoint } from '../../src/training/run';

const ckpt = (config: ReturnType<typeof resolveConfig>): RunCheckpoint => ({
  step: 2,
  config,
  params: [],
  optimizers: { retriever: null, generator: null },
  records: [],
  evals: [],
});

describe('resuming', () => {
  it('resumes exactly only where the index it searched is rebuilt: before the first refresh or at a refresh step', () => {
    const both = resolveConfig({ retrieverSide: 'both', refreshIndexEvery: 4, checkpointEvery: 4 });
    expect([1, 3, 4, 5, 7, 8].map((s) => resumableAt(both, s))).toEqual([true, true, true, false, false, true]);
    const query = resolveConfig({ retrieverSide: 'query', refreshIndexEvery: 4, checkpointEvery: 4 });
    expect(resumableAt(query, 5)).toBe(true); // the index never changes
    expect(resumableAt(resolveConfig({ ...both, schedule: 'frozen-retriever', retrieverLoss: 'none' }), 5)).toBe(true);
  });

  it('lets steps change on resume, except under a staged schedule whose phases it places', () => {
    const sync = resolveConfig({ steps: 10 });
    expect(checkpointConfigDiff(ckpt(sync), { ...sync, steps: 20 })).toEqual([]);
    const staged = resolveConfig({ steps: 10, schedule: 'staged', retrieverLoss: 'jomed' });
    expect(checkpointConfigDiff(ckpt(staged), { ...staged, steps: 20 })).toEqual(['steps']);
    expect(checkpointConfigDiff(ckpt(sync), { ...sync, lrRetriever: 1 })).toEqual(['lrRetriever']);
  });
});
