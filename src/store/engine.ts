// The store's one door to the GPU engine: a lazily created EngineClient (one worker per page).
// Tests can swap it with setEngineClient().

import { WebGpuUnavailableError } from '../gpu/errors';
import { EngineClient, EngineError, WorkerCrashedError } from '../worker/client';
import { ERROR_CODES, type EngineApi, type ErrorCode, type IndexSummary } from '../worker/protocol';

let client: EngineApi | null = null;
let indexListener: ((summary: IndexSummary) => void) | null = null;

export function engineClient(): EngineApi {
  client ??= (() => {
    const c = EngineClient.create();
    c.onIndex = (summary) => indexListener?.(summary);
    return c;
  })();
  return client;
}

/** Tell `f` whenever a request reopened or rebuilt the index (after the retriever moved), whichever cell asked. */
export function onIndexChanged(f: ((summary: IndexSummary) => void) | null): void {
  indexListener = f;
}

export function setEngineClient(c: EngineApi | null): void {
  client = c;
}

/** navigator.gpu on the page: the worker's navigator has it exactly when the page's does. */
export function pageHasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}

/** What the store branches on for a failure: the engine's code, 'crashed' for a dead worker. */
export type FailureCode = ErrorCode | 'crashed';

/** The code of anything an engine call (or the page's own WebGPU check) threw. */
export function failureCode(err: unknown): FailureCode {
  if (err instanceof EngineError) return err.code;
  if (err instanceof WorkerCrashedError) return 'crashed';
  if (err instanceof WebGpuUnavailableError) return 'no-webgpu';
  // Test doubles and page-side errors may carry a code of their own.
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'failed';
}

/** The config field a failure names (EngineError's field), or null. */
export const failureField = (err: unknown): string | null => {
  const f = (err as { field?: unknown } | null)?.field;
  return typeof f === 'string' && f ? f : null;
};
