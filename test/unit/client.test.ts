// EngineClient against a fake worker: replies are matched by id, progress streams to the right
// caller, worker-side errors keep their class, and a dead worker rejects everything (no hangs).
import { describe, expect, it } from 'vitest';
import { EngineClient, EngineError, WorkerCrashedError } from '../../src/worker/client';
import type { EngineRequest, EngineResponse } from '../../src/worker/protocol';

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

describe('EngineClient', () => {
  it('matches out-of-order replies to their requests by id', async () => {
    const { w, client } = setup();
    const a = client.init();
    const b = client.dispose();
    expect(w.sent.map((m) => m.kind)).toEqual(['init', 'dispose']);
    const [ia, ib] = w.sent.map((m) => m.id);
    expect(ia).not.toBe(ib);
    w.reply({ kind: 'result', id: ib!, request: 'dispose', value: null });
    const info = { vendor: 'v' } as never;
    w.reply({ kind: 'result', id: ia!, request: 'init', value: info });
    await expect(a).resolves.toBe(info);
    await expect(b).resolves.toBeNull();
    expect(client.pendingCount).toBe(0);
  });

  it('streams progress to the caller and rejects with the worker-side error class', async () => {
    const { w, client } = setup();
    const seen: number[] = [];
    const p = client.selftest((pr) => seen.push(pr.done));
    const id = w.sent[0]!.id;
    w.reply({ kind: 'progress', id, done: 1, total: 2, message: 'case 1' });
    w.reply({ kind: 'progress', id, done: 2, total: 2, message: 'case 2' });
    w.reply({ kind: 'error', id, errorClass: 'DeviceLostError', message: 'The GPU device was lost' });
    const err = await p.catch((e: unknown) => e);
    expect(seen).toEqual([1, 2]);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).name).toBe('DeviceLostError');
    expect((err as Error).message).toMatch(/lost/);
  });

  it('a crashed worker rejects pending and later requests instead of hanging', async () => {
    const { w, client } = setup();
    const p = client.init();
    w.crash('boom');
    await expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(client.selftest()).rejects.toThrow(/Reload the page/);
    expect(w.sent.length).toBe(1); // nothing posted to a dead worker
  });

  it('terminate() stops the worker and rejects what is pending', async () => {
    const { w, client } = setup();
    const p = client.selftest();
    client.terminate();
    expect(w.terminated).toBe(true);
    await expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
  });

  it('train streams step scalars and evaluations, and cancel targets the running run', async () => {
    const { w, client } = setup();
    const steps: number[] = [];
    const evals: number[] = [];
    const p = client.train({ steps: 2, batchSize: 1 }, (pr) => {
      if (pr.trainStep) steps.push(pr.trainStep.loss.generator!);
      if (pr.trainEval) evals.push(pr.trainEval.step);
    });
    const req = w.sent[0]!;
    expect(req).toEqual({ kind: 'train', id: req.id, config: { steps: 2, batchSize: 1 } });
    const summary = { step: 1, loss: { retriever: 0.5, generator: 2.25 }, alignment: { spearman: 0.1 }, recall: { 4: 1 }, ms: 9 };
    w.reply({ kind: 'progress', id: req.id, done: 1, total: 2, message: 'step 1/2', trainStep: summary });
    const entry = { step: 2, split: 'validation', result: {} } as never;
    w.reply({ kind: 'progress', id: req.id, done: 2, total: 2, message: 'evaluated', trainEval: entry });
    client.cancel('train');
    expect(w.sent[1]).toMatchObject({ kind: 'cancel', target: req.id });
    const value = {
      evals: [entry],
      stopped: { step: 1, message: 'stopped by the user' },
      phaseMs: {} as never,
      steps: 1,
      index: null,
    };
    w.reply({ kind: 'result', id: req.id, request: 'train', value });
    await expect(p).resolves.toBe(value);
    expect(steps).toEqual([2.25]);
    expect(evals).toEqual([2]);
  });
});
