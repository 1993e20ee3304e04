// EngineClient against a fake worker: every request kind is one `(payload, { onProgress, signal })`
// call, replies are matched by id, progress streams to the right caller, a signal cancels its own
// request only, worker-side errors arrive with their code and field (what the page branches on),
// and a dead worker rejects everything (no hangs).
import { describe, expect, it } from 'vitest';
import { EngineClient, EngineError, WorkerCrashedError } from '../../src/worker/client';
import { errorResponse, ResumeRefusedError, TrainingNotReadyError } from '../../src/worker/errors';
import {
  CALL_KINDS,
  type EngineRequest,
  type EngineResponse,
  type RunCheckpoint,
  type StepRecord,
} from '../../src/worker/protocol';
import { ConfigError } from '../../src/training/config';
import { CancelledError } from '../../src/core/errors';
import { DeviceLostError } from '../../src/gpu/errors';
import { IndexBuildCancelledError } from '../../src/retrieval/index';
import { EvaluationCancelledError } from '../../src/training/evaluate';

class FakeWorker extends EventTarget {
  sent: EngineRequest[] = [];
  terminated = false;
  postMessage(msg: EngineRequest): void {
    this.sent.push(msg);
  }
  reply(msg: EngineResponse): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: msg }));
  }
  crash(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message }));
  }
  terminate(): void {
    this.terminated = true;
  }
}

const setup = () => {
  const w = new FakeWorker();
  return { w, client: new EngineClient(w as unknown as Worker) };
};
const failed = (id: number, err: unknown): EngineResponse => errorResponse(id, err);

describe('EngineClient', () => {
  it('has one method per request kind, each posting its payload with its kind and a fresh id', () => {
    const { w, client } = setup();
    for (const kind of CALL_KINDS) void (client[kind] as (p: object) => Promise<unknown>)({ marker: kind });
    expect(w.sent.map((m) => m.kind)).toEqual([...CALL_KINDS]);
    expect(w.sent.every((m) => (m as unknown as { marker: string }).marker === m.kind)).toBe(true);
    expect(new Set(w.sent.map((m) => m.id)).size).toBe(CALL_KINDS.length);
  });

  it('matches out-of-order replies to their requests by id', async () => {
    const { w, client } = setup();
    const a = client.init({});
    const b = client.dispose({});
    const [ia, ib] = w.sent.map((m) => m.id);
    w.reply({ kind: 'result', id: ib!, request: 'dispose', value: null });
    const info = { vendor: 'v' } as never;
    w.reply({ kind: 'result', id: ia!, request: 'init', value: info });
    await expect(a).resolves.toBe(info);
    await expect(b).resolves.toBeNull();
    expect(client.pendingCount).toBe(0);
  });

  it('streams progress to the caller; an error arrives with its code, field and class', async () => {
    const { w, client } = setup();
    const seen: number[] = [];
    const p = client.selftest({}, { onProgress: (pr) => seen.push(pr.done) });
    const id = w.sent[0]!.id;
    w.reply({ kind: 'progress', id, done: 1, total: 2, message: 'case 1' });
    w.reply({ kind: 'progress', id, done: 2, total: 2, message: 'case 2' });
    w.reply(failed(id, new DeviceLostError('destroyed', 'gone')));
    const err = (await p.catch((e: unknown) => e)) as EngineError;
    expect(seen).toEqual([1, 2]);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ code: 'device-lost', field: null, errorClass: 'DeviceLostError' });
    expect(err.message).toMatch(/lost/);
  });

  it('errors cross with a code by class and the config field as a field, never inside the message only', () => {
    expect(errorResponse(1, new ConfigError('generatorLora.r', 'too big'))).toMatchObject({
      code: 'config',
      field: 'generatorLora.r',
    });
    expect(errorResponse(1, new ResumeRefusedError('config.topM: differs', 'topM'))).toMatchObject({
      code: 'resume-refused',
      field: 'topM',
    });
    expect(errorResponse(1, new TrainingNotReadyError('no index'))).toMatchObject({ code: 'not-ready', field: null });
    for (const c of [new IndexBuildCancelledError(1, 2), new EvaluationCancelledError(1, 2), new CancelledError('x')])
      expect(errorResponse(1, c).code).toBe('cancelled');
    expect(errorResponse(1, new TypeError('x'))).toMatchObject({ code: 'failed', errorClass: 'TypeError' });
    expect(errorResponse(1, 'a string')).toMatchObject({ code: 'failed', message: 'a string' });
  });

  it('a signal cancels its own request: a cancel for that id, once, and nothing after the answer', async () => {
    const { w, client } = setup();
    const stop = new AbortController();
    const other = new AbortController();
    const ev = client.evaluate({ split: 'validation', limit: 5 }, { signal: stop.signal });
    void client.buildIndex({}, { signal: other.signal });
    stop.abort();
    stop.abort();
    expect(w.sent.filter((m) => m.kind === 'cancel')).toEqual([
      { kind: 'cancel', id: expect.any(Number), target: w.sent[0]!.id },
    ]);
    w.reply(failed(w.sent[0]!.id, new EvaluationCancelledError(0, 5)));
    await expect(ev).rejects.toMatchObject({ code: 'cancelled' });
    // An already aborted signal cancels at once.
    const pre = new AbortController();
    pre.abort();
    void client.train({ config: {} }, { signal: pre.signal });
    expect(w.sent.at(-1)).toMatchObject({ kind: 'cancel', target: w.sent.at(-2)!.id });
  });

  it('train sends runId and resume, and streams trainStep, trainRecord, trainEval and trainCheckpoint', async () => {
    const { w, client } = setup();
    const checkpoint = {
      step: 2,
      config: {},
      params: [new Float32Array([1, 2])],
      records: [],
      evals: [],
    } as unknown as RunCheckpoint;
    const got: { record?: StepRecord; checkpoint?: RunCheckpoint; step?: number; eval?: number }[] = [];
    const p = client.train(
      { config: { steps: 4 }, runId: 'r1', resume: checkpoint },
      {
        onProgress: (pr) =>
          got.push({
            ...(pr.trainRecord && { record: pr.trainRecord }),
            ...(pr.trainCheckpoint && { checkpoint: pr.trainCheckpoint }),
            ...(pr.trainStep && { step: pr.trainStep.step }),
            ...(pr.trainEval && { eval: pr.trainEval.step }),
          }),
      },
    );
    const req = w.sent[0]!;
    expect(req).toEqual({ kind: 'train', id: req.id, config: { steps: 4 }, runId: 'r1', resume: checkpoint });
    void client.train({ config: { steps: 1 } });
    expect(Object.keys(w.sent[1]!).sort()).toEqual(['config', 'id', 'kind']);
    const record = { step: 2 } as unknown as StepRecord;
    const summary = { step: 3, loss: { retriever: 0.5, generator: 2.25 }, alignment: { spearman: 0.1 }, recall: {}, ms: 9 };
    w.reply({ kind: 'progress', id: req.id, done: 3, total: 4, message: 'step 3/4', trainRecord: record, trainStep: summary });
    w.reply({ kind: 'progress', id: req.id, done: 3, total: 4, message: 'evaluated', trainEval: { step: 3 } as never });
    w.reply({ kind: 'progress', id: req.id, done: 4, total: 4, message: 'checkpoint', trainCheckpoint: checkpoint });
    const value = {
      evals: [],
      stopped: null,
      skipped: null,
      phaseMs: {} as never,
      steps: 4,
      start: { from: 'loaded' as const },
      models: { from: 'loaded' as const },
      indexMoved: false,
    };
    w.reply({ kind: 'result', id: req.id, request: 'train', value });
    await expect(p).resolves.toBe(value);
    expect(got).toEqual([{ record, step: 3 }, { eval: 3 }, { checkpoint }]);
  });

  it('a crashed worker rejects pending and later requests instead of hanging', async () => {
    const { w, client } = setup();
    const p = client.init({});
    w.crash('boom');
    await expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(client.selftest({})).rejects.toThrow(/Reload the page/);
    expect(w.sent.length).toBe(1); // nothing posted to a dead worker
  });

  it('terminate() stops the worker and rejects what is pending', async () => {
    const { w, client } = setup();
    const p = client.selftest({});
    client.terminate();
    expect(w.terminated).toBe(true);
    await expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
  });
});
