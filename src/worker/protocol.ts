// The typed protocol between the page and the engine worker (which owns the GPU). Requests and
// responses are discriminated unions keyed by `kind`; every message carries the request `id` so
// the client can match replies. `EngineApi` is the interface both the worker-side engine and the
// page-side client implement, so code above this layer does not care which side it talks to.

import type { GpuInfo } from '../gpu/device';
import type { SelfTestResult } from '../tensor/selftest';

export type { GpuInfo, SelfTestResult };

// ---- requests ---------------------------------------------------------------------------------

export type EngineRequest = { kind: 'init'; id: number } | { kind: 'selftest'; id: number } | { kind: 'dispose'; id: number };

export type RequestKind = EngineRequest['kind'];

/** What each request resolves to. */
export interface ResultOf {
  init: GpuInfo;
  selftest: SelfTestResult[];
  dispose: null;
}

// ---- responses --------------------------------------------------------------------------------

export interface ProgressResponse {
  kind: 'progress';
  id: number;
  done: number;
  total: number;
  message: string;
  /** The self-test streams each case's result with its progress message. */
  case?: SelfTestResult;
}

export type ResultResponse = {
  [K in RequestKind]: { kind: 'result'; id: number; request: K; value: ResultOf[K] };
}[RequestKind];

export interface ErrorResponse {
  kind: 'error';
  id: number;
  /** The thrown error's class name (e.g. 'WebGpuUnavailableError', 'DeviceLostError'). */
  errorClass: string;
  message: string;
}

export type EngineResponse = ProgressResponse | ResultResponse | ErrorResponse;

export type ProgressCallback = (p: Omit<ProgressResponse, 'kind' | 'id'>) => void;

/** Implemented by the engine in the worker and by EngineClient on the page. */
export interface EngineApi {
  init(): Promise<GpuInfo>;
  selftest(onProgress?: ProgressCallback): Promise<SelfTestResult[]>;
  dispose(): Promise<null>;
}

/** Serialize any thrown value as an error response. */
export function errorResponse(id: number, err: unknown): ErrorResponse {
  if (err instanceof Error) return { kind: 'error', id, errorClass: err.name || err.constructor.name, message: err.message };
  return { kind: 'error', id, errorClass: 'Error', message: String(err) };
}
