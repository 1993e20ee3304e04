// The store's one door to the GPU engine: a lazily created EngineClient (one worker per page).
// Tests can swap it with setEngineClient().

import { EngineClient } from '../worker/client';
import type { EngineApi } from '../worker/protocol';

let client: EngineApi | null = null;

export function engineClient(): EngineApi {
  client ??= EngineClient.create();
  return client;
}

export function setEngineClient(c: EngineApi | null): void {
  client = c;
}

/** navigator.gpu on the page: the worker's navigator has it exactly when the page's does. */
export function pageHasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}
