// The worker's own errors, and how any thrown error crosses to the page: as an error response
// whose `code` (and `field`) the page branches on. The mapping is by class here, once; nothing on
// the page reads a message or compares class names.

import { CancelledError, MedRankError } from '../core/errors';
import { AdapterUnavailableError, DeviceLostError, WebGpuUnavailableError } from '../gpu/errors';
import { ConfigError } from '../training/config';
import type { ErrorCode, ErrorResponse } from './protocol';

/** A cancellable request stopped by the page (its signal, or a cancel request). */
export class RequestCancelledError extends CancelledError {
  override name = 'RequestCancelledError';
}

/** generate / retrieve / search without a model, dataset or index on the GPU (never loaded, or lost with the device). */
export class ModelNotLoadedError extends MedRankError {
  override name = 'ModelNotLoadedError';
}

/** A training run or evaluation asked for before its parts (models, dataset, index) are there. */
export class TrainingNotReadyError extends MedRankError {
  override name = 'TrainingNotReadyError';
}

/** A resume the loaded models cannot take: another run trained them, or the config differs from the checkpoint's (`field`). */
export class ResumeRefusedError extends MedRankError {
  override name = 'ResumeRefusedError';
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

/** The code of a thrown value, by its class. */
export function errorCode(err: unknown): ErrorCode {
  if (err instanceof ConfigError) return 'config';
  if (err instanceof ResumeRefusedError) return 'resume-refused';
  if (err instanceof TrainingNotReadyError) return 'not-ready';
  if (err instanceof CancelledError) return 'cancelled';
  if (err instanceof ModelNotLoadedError) return 'model-not-loaded';
  if (err instanceof DeviceLostError) return 'device-lost';
  if (err instanceof WebGpuUnavailableError) return 'no-webgpu';
  if (err instanceof AdapterUnavailableError) return 'no-adapter';
  return 'failed';
}

/** Any thrown value as an error response. */
export function errorResponse(id: number, err: unknown): ErrorResponse {
  const field = err instanceof ConfigError ? err.field || null : err instanceof ResumeRefusedError ? err.field : null;
  if (err instanceof Error)
    return { kind: 'error', id, code: errorCode(err), field, errorClass: err.name || err.constructor.name, message: err.message };
  return { kind: 'error', id, code: 'failed', field: null, errorClass: 'Error', message: String(err) };
}
