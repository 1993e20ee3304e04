// The errors model file sources throw, each a MedRankError whose message says what to do next,
// and errorDetail, which words a platform error (with its cause) for those messages.

import { CancelledError, MedRankError } from '../../core/errors';

/** A file the model needs is not there (HTTP 404, or not in the local folder). */
export class ModelFileMissingError extends MedRankError {
  constructor(
    readonly path: string,
    readonly source: string,
    message: string,
  ) {
    super(message);
  }
}

/** A download failed: HTTP error, refused access, network failure, or a body cut off. */
export class ModelDownloadError extends MedRankError {
  constructor(
    message: string,
    readonly url: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** A file is there but malformed (e.g. model.safetensors.index.json). */
export class ModelFormatError extends MedRankError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** The read was cancelled through its AbortSignal. */
export class ModelDownloadAbortedError extends CancelledError {
  constructor(
    readonly path: string,
    readonly source: string,
  ) {
    super(
      `Reading ${path} from ${source} was cancelled. Nothing partial was kept; start it again when you are ready ` +
        '(files that finished downloading are cached and will not be downloaded again).',
    );
  }
}

/** The source itself is invalid: a malformed repo id, base URL or file path. */
export class ModelSourceError extends MedRankError {}

/** A thrown value's message for one of these errors' texts, its cause's message appended when it differs. */
export function errorDetail(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const inner = cause instanceof Error && cause.message && cause.message !== e.message ? `: ${cause.message}` : '';
    return `${e.message}${inner}`;
  }
  return String(e);
}
