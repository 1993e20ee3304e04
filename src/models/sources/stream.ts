// Reading one body (a download or a local file) into one array, with the one progress meter
// every read reports through: throttled events (bytes, total, smoothed bytes/s, ETA), whose ETA
// is the only estimate the app shows. The buffer starts small and doubles as bytes arrive, never
// past the announced length nor the caller's cap; an announced length over the cap is refused
// before reading, and a body shorter or longer than announced is refused.

import { formatBytes } from '../../core/format';
import type { DownloadProgress } from './types';

/** Progress events come at most this often (plus the first and the final one). */
export const PROGRESS_INTERVAL_MS = 100;
/** Time constant of the bytes/s smoothing. */
const RATE_SMOOTHING_MS = 1500;
/** The most bytes one read holds unless the caller says otherwise (the default GPU memory budget). */
export const MAX_READ_BYTES = 4 * 1024 ** 3;
/** A download's buffer starts this small and doubles as bytes arrive. */
const FIRST_CHUNK_BYTES = 64 * 1024;

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Turns byte counts into throttled DownloadProgress events with a smoothed rate. */
export class ProgressMeter {
  private total: number | null = null;
  private tStart = now();
  private lastEmit = -Infinity;
  private lastT = this.tStart;
  private lastLoaded = 0;
  private rate = 0;
  private samples = 0;
  fromCache = false;

  constructor(
    private readonly file: string,
    private readonly sink: ((p: DownloadProgress) => void) | undefined,
  ) {}

  /** Call when the size is known (or known to be unknown); emits loaded 0. */
  begin(total: number | null): void {
    this.total = total;
    this.tStart = this.lastT = now();
    this.emit(0, false);
  }

  /** Size learnt later (readAll). */
  setTotal(total: number | null): void {
    this.total = total;
  }

  update(loaded: number, file = this.file): void {
    if (this.sink && now() - this.lastEmit >= PROGRESS_INTERVAL_MS) this.emit(loaded, false, file);
  }

  finish(loaded: number, file = this.file): void {
    this.total = loaded;
    this.emit(loaded, true, file);
  }

  private emit(loaded: number, done: boolean, file = this.file): void {
    const t = now();
    if (loaded > 0 && t > this.lastT) {
      const dt = t - this.lastT;
      const inst = ((loaded - this.lastLoaded) * 1000) / dt;
      this.rate = this.samples++ === 0 ? inst : this.rate + (1 - Math.exp(-dt / RATE_SMOOTHING_MS)) * (inst - this.rate);
      this.lastT = t;
      this.lastLoaded = loaded;
    }
    this.lastEmit = t;
    if (!this.sink) return;
    // A body longer than Content-Length means the transport decoded it (gzip): the total was the encoded size.
    if (this.total !== null && loaded > this.total) this.total = null;
    const elapsed = t - this.tStart;
    const bytesPerSecond = done ? (elapsed > 0 ? (loaded * 1000) / elapsed : this.rate) : this.rate;
    const etaSeconds = done ? 0 : this.total !== null && this.rate > 0 ? Math.max(0, (this.total - loaded) / this.rate) : null;
    this.sink({ file, loaded, total: this.total, bytesPerSecond, etaSeconds, fromCache: this.fromCache, done });
  }
}

export interface StreamFailure {
  /** The stream ended or broke before the expected length; `cause` when it broke. */
  cutOff(loaded: number, total: number | null, cause?: unknown): Error;
  aborted(): Error;
  /**
   * More than the read may hold: `announced` when the size was given before reading (refused
   * unread), else the body grew past `max`; `max` null when memory itself ran out.
   */
  tooLarge(bytes: number, max: number | null, announced: boolean): Error;
  /** The body went on past the length it announced as its own. */
  overLength(announced: number): Error;
}

/** How long a body says it is, and how far to trust it. */
export interface StreamLength {
  /** Content-Length or the file's size; null when unknown. */
  announced: number | null;
  /**
   * The announced length counts the body's own bytes, so a longer body is refused. False where it
   * may count encoded bytes (a cross-origin response hides Content-Encoding): a longer body then
   * only means the announcement was of the compressed size, and the read goes on within `max`.
   */
  exact: boolean;
  /** Allocate `announced` at once: the size of a local file, not a server's word. */
  trusted: boolean;
  /** The most bytes the read may hold. */
  max: number;
}

function allocate(n: number, fail: StreamFailure): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(n);
  } catch {
    throw fail.tooLarge(n, null, false);
  }
}

export function maxOf(maxBytes: number | undefined): number {
  return maxBytes !== undefined && Number.isFinite(maxBytes) && maxBytes >= 0 ? Math.floor(maxBytes) : MAX_READ_BYTES;
}

/**
 * Reads a stream into one array, reporting progress. The buffer starts small and doubles as bytes
 * arrive, never past the announced length (while it holds) nor past `length.max`, so a server
 * announcing gigabytes for a short body costs nothing. An announced length over the max is
 * refused before reading; a body shorter than announced is `fail.cutOff`, a longer one
 * `fail.overLength` (when the announcement is exact).
 */
export async function readStream(
  stream: ReadableStream<Uint8Array> | null,
  length: StreamLength,
  meter: ProgressMeter,
  signal: AbortSignal | undefined,
  fail: StreamFailure,
): Promise<Uint8Array<ArrayBuffer>> {
  const { exact, max } = length;
  let total = length.announced;
  let buf: Uint8Array<ArrayBuffer>;
  try {
    if (total !== null && total > max) throw fail.tooLarge(total, max, true);
    buf = allocate(length.trusted && total !== null ? total : Math.min(FIRST_CHUNK_BYTES, total ?? max, max), fail);
  } catch (e) {
    await stream?.cancel().catch(() => {});
    throw e;
  }
  meter.begin(total);
  let loaded = 0;
  if (stream) {
    const reader = stream.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) throw fail.aborted();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (signal?.aborted) throw fail.aborted();
          throw fail.cutOff(loaded, total, e);
        }
        if (chunk.done) break;
        const bytes = chunk.value;
        const need = loaded + bytes.byteLength;
        if (total !== null && need > total) {
          if (exact) throw fail.overLength(total);
          total = null; // the announcement counted encoded bytes: the size is unknown after all
        }
        if (need > max) throw fail.tooLarge(need, max, false);
        if (need > buf.length) {
          const grown = allocate(Math.min(Math.max(need, buf.length * 2), total ?? max, max), fail);
          grown.set(buf.subarray(0, loaded));
          buf = grown;
        }
        buf.set(bytes, loaded);
        loaded = need;
        meter.update(loaded);
      }
      if (signal?.aborted) throw fail.aborted();
    } catch (e) {
      await reader.cancel().catch(() => {});
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      reader.releaseLock();
    }
  }
  if (total !== null && loaded < total) throw fail.cutOff(loaded, total);
  const out = loaded === buf.length ? buf : buf.slice(0, loaded);
  meter.finish(loaded);
  return out;
}

/**
 * Why a file is too large to read: announced (by `by`: '' for a local file's own size) above
 * `max`, grown past `max` (by null), or past what memory allows (max null).
 */
export function tooLargeMessage(path: string, bytes: number, max: number | null, by: string | null): string {
  const advice = ' Use a smaller model, or one whose weights are split into shards (model.safetensors.index.json).';
  if (max === null) return `${path} (${formatBytes(bytes)}) is too large to hold in memory here.${advice}`;
  if (by === null) return `${path} grew past ${formatBytes(max)}, the most this read may hold.${advice}`;
  const what = by === '' ? `${path} (${formatBytes(bytes)}) is` : `${path}: ${by} ${formatBytes(bytes)} (Content-Length),`;
  return `${what} more than the ${formatBytes(max)} this read may hold.${advice}`;
}
