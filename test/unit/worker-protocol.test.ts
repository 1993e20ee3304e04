// The notebook's part of the engine protocol on the page side, against a fake worker: train sends
// its run id and checkpoint and passes full step records and checkpoints to the caller; lookup,
// maxsim, evaluate and exportWeights post their payloads; cancel reaches a running evaluation.
// And the merge of chunked evaluations (eval-merge.ts) weighs each metric by its own denominator.
import { describe, expect, it } from 'vitest';
import type { EvalResult } from '../../src/training/evaluate';
import { EngineClient } from '../../src/worker/client';
import { mergeEvalResults } from '../../src/worker/eval-merge';
import type { EngineRequest, EngineResponse, RunCheckpoint, StepRecord } from '../../src/worker/protocol';

class FakeWorker extends EventTarget {
  sent: EngineRequest[] = [];
  postMessage(msg: EngineRequest): void {
    this.sent.push(msg);
  }
  reply(msg: EngineResponse): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: msg }));
  }
  terminate(): void {}
}

const setup = () => {
  const w = new FakeWorker();
  return { w, client: new EngineClient(w as unknown as Worker) };
};

describe('EngineClient for the notebook', () => {
  it('train sends runId and resume, and streams trainRecord and trainCheckpoint', async () => {
    const { w, client } = setup();
    const checkpoint = {
      step: 2,
      config: {},
      params: [new Float32Array([1, 2])],
      records: [],
      evals: [],
    } as unknown as RunCheckpoint;
    const got: { record?: StepRecord; checkpoint?: RunCheckpoint }[] = [];
    const p = client.train({ steps: 4 }, (pr) => got.push({ record: pr.trainRecord, checkpoint: pr.trainCheckpoint }), {
      runId: 'r1',
      resume: checkpoint,
    });
    const req = w.sent[0]!;
    expect(req).toEqual({ kind: 'train', id: req.id, config: { steps: 4 }, runId: 'r1', resume: checkpoint });
    // Without run options the request carries no undefined fields.
    void client.train({ steps: 1 });
    expect(Object.keys(w.sent[1]!).sort()).toEqual(['config', 'id', 'kind']);
    const record = { step: 2 } as unknown as StepRecord;
    w.reply({ kind: 'progress', id: req.id, done: 3, total: 4, message: 'step 3/4', trainRecord: record });
    w.reply({ kind: 'progress', id: req.id, done: 4, total: 4, message: 'checkpoint', trainCheckpoint: checkpoint });
    const value = { evals: [], stopped: null, phaseMs: {} as never, steps: 4, index: null };
    w.reply({ kind: 'result', id: req.id, request: 'train', value });
    await expect(p).resolves.toBe(value);
    expect(got).toEqual([{ record }, { checkpoint }]);
  });

  it('lookup, maxsim, evaluate and exportWeights post their payloads; cancel reaches an evaluation', async () => {
    const { w, client } = setup();
    void client.lookup({ questionIds: ['q1'], docIds: ['p1'], seed: 3 });
    void client.maxsim({ query: 'q', docId: 'p1' });
    const ev = client.evaluate({ split: 'validation', limit: 5 });
    const ex = client.exportWeights({ role: 'generator' });
    expect(w.sent.map(({ id: _, ...m }) => m)).toEqual([
      { kind: 'lookup', questionIds: ['q1'], docIds: ['p1'], seed: 3 },
      { kind: 'maxsim', query: 'q', docId: 'p1' },
      { kind: 'evaluate', split: 'validation', limit: 5 },
      { kind: 'exportWeights', role: 'generator' },
    ]);
    client.cancel('evaluate');
    expect(w.sent[4]).toMatchObject({ kind: 'cancel', target: w.sent[2]!.id });
    w.reply({ kind: 'error', id: w.sent[2]!.id, errorClass: 'RequestCancelledError', message: 'cancelled by the user' });
    await expect(ev).rejects.toMatchObject({ name: 'RequestCancelledError' });
    const bytes = new Uint8Array([1, 2, 3]);
    w.reply({ kind: 'result', id: w.sent[3]!.id, request: 'exportWeights', value: { fileName: 'model.safetensors', bytes } });
    await expect(ex).resolves.toEqual({ fileName: 'model.safetensors', bytes });
  });
});

describe('mergeEvalResults', () => {
  const result = (r: Partial<EvalResult>): EvalResult => ({
    questions: 0,
    scored: 0,
    accuracy: { none: 0, retrieved: 0, oracle: 0 },
    recall: {},
    mrr10: 0,
    alignment: { spearman: 0, kendall: 0 },
    ms: 0,
    ...r,
  });
  it('weighs accuracy by questions scored, recall and MRR by questions with gold, alignment by questions', () => {
    const gold = (n: number, without: number) => [
      ...Array.from({ length: n }, () => ({ goldDocIds: ['d'] })),
      ...Array.from({ length: without }, () => ({ goldDocIds: [] })),
    ];
    const merged = mergeEvalResults([
      {
        // 3 questions, 2 with options, 1 with gold
        result: result({
          questions: 3,
          scored: 2,
          accuracy: { none: 0.5, retrieved: 1, oracle: 0 },
          recall: { 1: 1, 5: 1 },
          mrr10: 1,
          alignment: { spearman: 0.3, kendall: 0.3 },
          ms: 5,
        }),
        questions: gold(1, 2),
      },
      {
        // 1 question, with options and gold
        result: result({
          questions: 1,
          scored: 1,
          accuracy: { none: 1, retrieved: 0, oracle: 1 },
          recall: { 1: 0, 5: 1 },
          mrr10: 0.5,
          alignment: { spearman: -0.5, kendall: -0.1 },
          ms: 7,
        }),
        questions: gold(1, 0),
      },
    ]);
    expect(merged.questions).toBe(4);
    expect(merged.scored).toBe(3);
    expect(merged.accuracy.none).toBeCloseTo(2 / 3, 12);
    expect(merged.accuracy.retrieved).toBeCloseTo(2 / 3, 12);
    expect(merged.accuracy.oracle).toBeCloseTo(1 / 3, 12);
    expect(merged.recall[1]).toBeCloseTo(0.5, 12);
    expect(merged.recall[5]).toBeCloseTo(1, 12);
    expect(merged.mrr10).toBeCloseTo(0.75, 12);
    expect(merged.alignment.spearman).toBeCloseTo((3 * 0.3 - 0.5) / 4, 12);
    expect(merged.alignment.kendall).toBeCloseTo((3 * 0.3 - 0.1) / 4, 12);
    expect(merged.ms).toBe(12);
  });

  it('is all zeros where nothing had a denominator', () => {
    const merged = mergeEvalResults([{ result: result({ questions: 1 }), questions: [{ goldDocIds: [] }] }]);
    expect(merged.accuracy).toEqual({ none: 0, retrieved: 0, oracle: 0 });
    expect(merged.mrr10).toBe(0);
  });
});
