// Where model files come from: the single door for model file I/O. Whatever its origin (the
// Hugging Face hub, any base URL, or a local folder the user picked or dropped), a model folder is
// seen through one `ModelFiles` view: `read(path)` gives a file's bytes, `exists(path)` answers
// for optional files. This module owns:
//   - the URL layout (`${endpoint}/${repo}/resolve/${revision}/${path}` for the hub),
//   - streaming downloads with throttled progress (bytes, total, smoothed bytes/s, ETA),
//   - checking that a body is as long as its Content-Length (a cut-off download is an error and is
//     never cached, a longer one is refused), with a buffer that grows as bytes arrive (never
//     reserved from a Content-Length) up to a cap the caller gives (an announced length over it
//     is refused before reading),
//   - the Cache API copy of downloaded files (cache 'medrank-models-v1', keyed by the full URL;
//     injectable as `ModelCache` where there is no Cache API, e.g. Node),
//   - local folders (File System Access handles, <input webkitdirectory> file lists, drag and drop),
//   - the safetensors shard list (`weightFileNames`, from model.safetensors.index.json, read
//     depth-bounded, own keys only, shard names plain .safetensors files, counts bounded),
//   - typed errors whose messages say what to do next.
// It parses nothing else: config, tokenizer and safetensors parsing live in their own modules.
// Runs in pages, Web Workers and Node 20+ (platform APIs only).
//
// Cancellation: an aborted `signal` rejects with `ModelDownloadAbortedError` (a MedRankError, not a
// DOMException), for downloads and local reads alike, so callers test one class.

import { MedRankError } from '../core/errors';
import { clip, describe, formatBytes } from '../core/format';
import { JsonInputError, MAX_JSON_DEPTH, parseJson } from '../core/json';

/** The Cache API cache that holds downloaded model files. Delete it to free the space. */
export const MODEL_CACHE_NAME = 'medrank-models-v1';
/** Progress events come at most this often (plus the first and the final one). */
export const PROGRESS_INTERVAL_MS = 100;
/** Time constant of the bytes/s smoothing. */
const RATE_SMOOTHING_MS = 1500;
/** How many names a "file is missing" message lists. */
const LISTING_LIMIT = 20;
/** The most bytes one read holds unless the caller says otherwise (the default GPU memory budget). */
export const MAX_READ_BYTES = 4 * 1024 ** 3;
/** A download's buffer starts this small and doubles as bytes arrive. */
const FIRST_CHUNK_BYTES = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Public types

export interface ModelFiles {
  /** 'hub:org/name@rev', the base URL, or the folder name. */
  readonly label: string;
  readonly kind: 'hub' | 'url' | 'folder';
  /**
   * Bytes of a file relative to the model root ('config.json', 'onnx/model.json').
   * Throws ModelFileMissingError when absent. The array always spans its whole ArrayBuffer
   * (byteOffset 0), so `.buffer` can be handed to parsers.
   */
  read(path: string, opts?: ReadOptions): Promise<Uint8Array>;
  /** Whether the file exists (for optional files such as model.safetensors.index.json). */
  exists(path: string): Promise<boolean>;
}

export interface ReadOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /**
   * The most bytes this read may hold (default MAX_READ_BYTES): a file announced (Content-Length,
   * or a local file's size) above it is refused before any byte is read, and a body of unknown
   * length is refused once it grows past it.
   */
  maxBytes?: number;
}

export interface DownloadProgress {
  file: string;
  /** Bytes received so far; never decreases. */
  loaded: number;
  /** From Content-Length (or the file size); null when unknown. On the final event it equals `loaded`. */
  total: number | null;
  /** Smoothed; on the final event the average over the whole file. */
  bytesPerSecond: number;
  etaSeconds: number | null;
  fromCache: boolean;
  done: boolean;
}

/** The part of the Cache API this module uses; a `Cache` from `caches.open()` is one. */
export interface ModelCache {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
}

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface RemoteOptions {
  /**
   * true (default): the Cache API cache MODEL_CACHE_NAME where the runtime has one (pages and
   * workers in secure contexts; not Node), else no caching. false: never cache. Or a ModelCache.
   */
  cache?: boolean | ModelCache;
  /** Replaces globalThis.fetch (tests, Node tools with a proxy). */
  fetch?: FetchLike;
  /** Extra request headers (e.g. Authorization for a private server). */
  headers?: Readonly<Record<string, string>>;
}

export interface HubOptions extends RemoteOptions {
  /** Branch, tag or commit. Default 'main'. Pin a commit to make the cache exact. */
  revision?: string;
  /** Default 'https://huggingface.co' (a mirror or a test server may stand in). */
  endpoint?: string;
  /** A Hugging Face access token, for gated and private repos. */
  token?: string;
}

/** One file of a local folder, with its path relative to the folder that was picked or dropped. */
export interface FolderEntry {
  readonly path: string;
  readonly file: Blob;
}

/**
 * The parts of a FileSystemDirectoryHandle this module uses (a real one from
 * `showDirectoryPicker()` or `navigator.storage.getDirectory()` is one).
 */
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string): Promise<DirectoryHandleLike>;
  getFileHandle(name: string): Promise<{ getFile(): Promise<File> }>;
  values(): AsyncIterable<{ readonly kind: 'file' | 'directory'; readonly name: string }>;
}

export type FolderSource =
  FileSystemDirectoryHandle | DirectoryHandleLike | FileList | Iterable<File | FolderEntry> | ArrayLike<File | FolderEntry>;

export interface ReadAllOptions {
  /** Combined progress over all files: loaded and total are sums (total null until every size is known). */
  onProgress?: (p: ReadAllProgress) => void;
  signal?: AbortSignal;
  /** Files read at the same time. Default 4. */
  concurrency?: number;
  /** The most bytes each file may hold (see ReadOptions.maxBytes). */
  maxBytes?: number;
}

export interface ReadAllProgress extends DownloadProgress {
  /** `file` is the file whose progress caused this event. */
  filesDone: number;
  filesTotal: number;
}

export interface WeightFiles {
  /** Safetensors files to read, sorted (shards are numbered: model-00001-of-00003.safetensors, ...). */
  readonly files: readonly string[];
  /** Tensor name -> file, from model.safetensors.index.json; null for a single model.safetensors. */
  readonly weightMap: ReadonlyMap<string, string> | null;
  /** The index's metadata (e.g. total_size); null without an index or metadata. */
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

// ---------------------------------------------------------------------------------------------
// Errors

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
export class ModelDownloadAbortedError extends MedRankError {
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

// ---------------------------------------------------------------------------------------------
// Paths

const SAFETENSORS_HINT =
  ' MedRank loads safetensors weights: if the model only has pytorch_model.bin, convert it first ' +
  '(e.g. the "Convert to Safetensors" space on huggingface.co) or pick a model that ships model.safetensors.';

/** Splits a relative model path into segments; throws ModelSourceError for absolute or escaping paths. */
function pathSegments(path: string): string[] {
  const segments = typeof path === 'string' ? path.split('/') : [];
  if (
    typeof path !== 'string' ||
    path === '' ||
    path.includes('\\') ||
    segments.some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new ModelSourceError(
      `"${String(path)}" is not a valid model file path: use a path relative to the model folder with "/" ` +
        'between folders and no "..", e.g. "config.json" or "onnx/model.json".',
    );
  }
  return segments;
}

function missingHint(path: string): string {
  return path.endsWith('.safetensors') ? SAFETENSORS_HINT : '';
}

// ---------------------------------------------------------------------------------------------
// Progress

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Turns byte counts into throttled DownloadProgress events with a smoothed rate. */
class ProgressMeter {
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

// ---------------------------------------------------------------------------------------------
// Streaming a body

interface StreamFailure {
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
interface StreamLength {
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

function maxOf(maxBytes: number | undefined): number {
  return maxBytes !== undefined && Number.isFinite(maxBytes) && maxBytes >= 0 ? Math.floor(maxBytes) : MAX_READ_BYTES;
}

/**
 * Reads a stream into one array, reporting progress. The buffer starts small and doubles as bytes
 * arrive, never past the announced length (while it holds) nor past `length.max`, so a server
 * announcing gigabytes for a short body costs nothing. An announced length over the max is
 * refused before reading; a body shorter than announced is `fail.cutOff`, a longer one
 * `fail.overLength` (when the announcement is exact).
 */
async function readStream(
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

// ---------------------------------------------------------------------------------------------
// Caches

async function openDefaultCache(): Promise<ModelCache | null> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return null;
  try {
    return await storage.open(MODEL_CACHE_NAME);
  } catch {
    return null; // opaque origins, private modes that deny storage: work without a cache
  }
}

/** Opened per operation, so a `caches.delete(MODEL_CACHE_NAME)` is seen at once. */
function cacheGetter(option: boolean | ModelCache | undefined): () => Promise<ModelCache | null> {
  if (option === false) return async () => null;
  if (option === undefined || option === true) return openDefaultCache;
  return async () => option;
}

async function cacheMatch(cache: ModelCache, url: string): Promise<Response | null> {
  try {
    const hit = await cache.match(url);
    return hit && hit.ok ? hit : null;
  } catch {
    return null;
  }
}

async function cachePut(cache: ModelCache, url: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  try {
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength) };
    await cache.put(url, new Response(bytes, { status: 200, headers }));
  } catch {
    // Quota exceeded or storage unavailable: the download itself succeeded; it just will not be cached.
  }
}

// ---------------------------------------------------------------------------------------------
// Remote sources (hub and URL)

interface RemoteSpec {
  kind: 'hub' | 'url';
  label: string;
  urlFor(path: string): string;
  headers: Record<string, string>;
  fetch: FetchLike;
  cache: () => Promise<ModelCache | null>;
  /** Message for a 404 of `path`; `code` is the hub's X-Error-Code when readable. */
  notFound(path: string, url: string, code: string | null): string;
  /** Message for a 401/403. */
  refused(path: string, url: string, status: number): string;
  /** Whether a 404 with this X-Error-Code means the source as a whole is wrong (not just the file). */
  sourceMissing(code: string | null): boolean;
}

function errorDetail(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const inner = cause instanceof Error && cause.message && cause.message !== e.message ? `: ${cause.message}` : '';
    return `${e.message}${inner}`;
  }
  return String(e);
}

/**
 * Why a file is too large to read: announced (by `by`: '' for a local file's own size) above
 * `max`, grown past `max` (by null), or past what memory allows (max null).
 */
function tooLargeMessage(path: string, bytes: number, max: number | null, by: string | null): string {
  const advice = ' Use a smaller model, or one whose weights are split into shards (model.safetensors.index.json).';
  if (max === null) return `${path} (${formatBytes(bytes)}) is too large to hold in memory here.${advice}`;
  if (by === null) return `${path} grew past ${formatBytes(max)}, the most this read may hold.${advice}`;
  const what = by === '' ? `${path} (${formatBytes(bytes)}) is` : `${path}: ${by} ${formatBytes(bytes)} (Content-Length),`;
  return `${what} more than the ${formatBytes(max)} this read may hold.${advice}`;
}

function networkError(spec: RemoteSpec, path: string, url: string, e: unknown): ModelDownloadError {
  return new ModelDownloadError(
    `Could not download ${path}: the request to ${url} failed (${errorDetail(e)}). Check your internet connection ` +
      (spec.kind === 'url' ? '(and that the server allows cross-origin requests from this page) ' : '') +
      'and retry, or download the files yourself and open them as a local folder.',
    url,
  );
}

function statusError(spec: RemoteSpec, path: string, url: string, res: Response): MedRankError {
  const status = res.status;
  if (status === 404 || status === 410) {
    return new ModelFileMissingError(path, spec.label, spec.notFound(path, url, res.headers.get('x-error-code')));
  }
  if (status === 401 || status === 403) return new ModelDownloadError(spec.refused(path, url, status), url, status);
  const statusText = res.statusText ? ` ${res.statusText}` : '';
  const advice =
    status === 429
      ? 'The server is rate-limiting requests: wait a minute and retry, or download the files yourself and open them as a local folder.'
      : status >= 500
        ? 'The server had a problem: retry in a few minutes, or download the files yourself and open them as a local folder.'
        : 'Check your connection and the model address and retry, or download the files yourself and open them as a local folder.';
  return new ModelDownloadError(
    `Downloading ${path} failed: ${url} answered HTTP ${status}${statusText}. ${advice}`,
    url,
    status,
  );
}

function contentLength(res: Response): number | null {
  const encoding = res.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return null; // the header counts encoded bytes
  const raw = res.headers.get('content-length');
  if (raw === null || !/^\d+$/.test(raw.trim())) return null;
  const n = Number(raw.trim());
  return Number.isSafeInteger(n) ? n : null;
}

function remoteFiles(spec: RemoteSpec): ModelFiles {
  const request = (
    url: string,
    method: string,
    signal: AbortSignal | undefined,
    cached: boolean,
    extra?: Record<string, string>,
  ) =>
    spec.fetch(url, {
      method,
      headers: { ...spec.headers, ...extra },
      ...(signal ? { signal } : {}),
      // The file is kept in the Cache API: the HTTP cache need not hold a second copy of gigabytes.
      ...(cached ? { cache: 'no-store' as const } : {}),
    });

  const failures = (path: string, url: string): StreamFailure => ({
    cutOff: (loaded, total, cause) =>
      new ModelDownloadError(
        `The download of ${path} from ${spec.label} was cut off after ${formatBytes(loaded)}` +
          (total !== null ? ` of ${formatBytes(total)}` : '') +
          (cause !== undefined ? ` (${errorDetail(cause)})` : '') +
          `. Nothing was cached; retry the download (${url}). If it keeps failing, check your connection ` +
          'or download the files yourself and open them as a local folder.',
        url,
      ),
    aborted: () => new ModelDownloadAbortedError(path, spec.label),
    tooLarge: (bytes, max, announced) =>
      new ModelDownloadError(tooLargeMessage(path, bytes, max, announced ? 'the server announces' : null), url),
    overLength: (announced) =>
      new ModelDownloadError(
        `${path}: the server sent more than the ${formatBytes(announced)} it announced (Content-Length), so the answer is ` +
          `not the file. Nothing was cached; retry the download (${url}). If it keeps happening the server or a proxy ` +
          'is misconfigured: download the files yourself and open them as a local folder.',
        url,
      ),
  });

  return {
    label: spec.label,
    kind: spec.kind,

    async read(path, opts = {}) {
      pathSegments(path);
      const { signal, onProgress } = opts;
      const max = maxOf(opts.maxBytes);
      const url = spec.urlFor(path);
      if (signal?.aborted) throw new ModelDownloadAbortedError(path, spec.label);
      const cache = await spec.cache();
      const meter = new ProgressMeter(path, onProgress);
      if (cache) {
        const hit = await cacheMatch(cache, url);
        if (hit) {
          const size = contentLength(hit);
          if (size !== null && size > max) {
            await hit.body?.cancel().catch(() => {});
            throw failures(path, url).tooLarge(size, max, true);
          }
          const bytes = new Uint8Array(await hit.arrayBuffer());
          meter.fromCache = true;
          meter.finish(bytes.byteLength);
          return bytes;
        }
      }
      let res: Response;
      try {
        res = await request(url, 'GET', signal, cache !== null);
      } catch (e) {
        if (signal?.aborted) throw new ModelDownloadAbortedError(path, spec.label);
        throw networkError(spec, path, url, e);
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw statusError(spec, path, url, res);
      }
      // A cross-origin answer hides Content-Encoding, so its Content-Length may count compressed bytes.
      const length = { announced: contentLength(res), exact: res.type !== 'cors', trusted: false, max };
      const bytes = await readStream(res.body, length, meter, signal, failures(path, url));
      if (cache) await cachePut(cache, url, bytes);
      return bytes;
    },

    async exists(path) {
      pathSegments(path);
      const url = spec.urlFor(path);
      const cache = await spec.cache();
      if (cache && (await cacheMatch(cache, url))) return true;
      const ask = async (method: string, extra?: Record<string, string>): Promise<Response> => {
        try {
          const res = await request(url, method, undefined, cache !== null, extra);
          await res.body?.cancel().catch(() => {});
          return res;
        } catch (e) {
          throw networkError(spec, path, url, e);
        }
      };
      let res = await ask('HEAD');
      // Servers without HEAD: ask for the first byte instead.
      if (res.status === 405 || res.status === 501) res = await ask('GET', { Range: 'bytes=0-0' });
      if (res.ok) return true;
      if ((res.status === 404 || res.status === 410) && !spec.sourceMissing(res.headers.get('x-error-code'))) return false;
      throw statusError(spec, path, url, res);
    },
  };
}

function defaultFetch(): FetchLike {
  // Called through globalThis: an unbound `fetch` throws "Illegal invocation" in browsers.
  return (url, init) => globalThis.fetch(url, init);
}

/** `segment/segment` with each segment percent-encoded, as the hub and plain servers expect. */
function encodePath(path: string): string {
  return pathSegments(path).map(encodeURIComponent).join('/');
}

const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

function checkRepoId(repo: string): void {
  const parts = typeof repo === 'string' ? repo.split('/') : [];
  const ok = parts.length === 2 && parts.every((p) => REPO_PART.test(p) && !p.includes('--') && !p.includes('..'));
  if (ok) return;
  const text = String(repo);
  let hint = '';
  if (/^https?:\/\//i.test(text.trim())) hint = ' Paste only the id part of the address (owner/name), not the whole URL.';
  else if (parts.length === 1 && text.trim() !== '') {
    hint = ' Ids without an owner (like "gpt2") now live under one (e.g. "openai-community/gpt2").';
  } else if (text !== text.trim()) hint = ' Remove the spaces around it.';
  throw new ModelSourceError(
    `"${text}" is not a Hugging Face model id. Use the form owner/name, with letters, digits, "-", "_" and "." ` +
      `(e.g. "sentence-transformers/all-MiniLM-L6-v2").${hint}`,
  );
}

function checkBaseUrl(raw: string, what: string): string {
  const trimmed = String(raw).trim().replace(/\/+$/, '');
  try {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const url = new URL(trimmed, base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(url.protocol);
    return url.href.replace(/\/+$/, '');
  } catch {
    throw new ModelSourceError(
      `"${String(raw)}" is not a valid ${what}: use an http(s) address such as https://example.org/models/my-model.`,
    );
  }
}

/**
 * A model repo on the Hugging Face hub (or a mirror): files at
 * `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`.
 */
export function hubFiles(repo: string, opts: HubOptions = {}): ModelFiles {
  checkRepoId(repo);
  const revision = opts.revision ?? 'main';
  if (typeof revision !== 'string' || revision.trim() === '') {
    throw new ModelSourceError('The revision must be a branch, tag or commit hash, e.g. "main".');
  }
  const endpoint = checkBaseUrl(opts.endpoint ?? 'https://huggingface.co', 'hub endpoint');
  const token = opts.token?.trim();
  const label = `hub:${repo}@${revision}`;
  const repoAt = `hub repo ${repo} at revision "${revision}"`;
  return remoteFiles({
    kind: 'hub',
    label,
    urlFor: (path) => `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`,
    headers: { ...opts.headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    fetch: opts.fetch ?? defaultFetch(),
    cache: cacheGetter(opts.cache),
    notFound: (path, _url, code) => {
      if (code === 'RepoNotFound') {
        return (
          `Hub repo ${repo} was not found (HTTP 404, while fetching ${path}). Check the model id (owner/name) for typos; ` +
          'a private repo also needs an access token.'
        );
      }
      if (code === 'RevisionNotFound') {
        return `Revision "${revision}" of hub repo ${repo} was not found (HTTP 404, while fetching ${path}). Check the revision: a branch, tag or commit hash of that repo.`;
      }
      return (
        `${path} was not found in ${repoAt} (HTTP 404). Check the model id and the revision; if they are right, ` +
        `the repo does not ship ${path}.${missingHint(path)}`
      );
    },
    refused: (path, _url, status) =>
      `The hub refused access to ${path} in ${repoAt} (HTTP ${status}). ` +
      (token
        ? 'The access token was not accepted for this repo: check that it is valid and has read access, and that you accepted the repo’s terms on huggingface.co if it is gated.'
        : 'The repo may be gated or private: accept its terms on huggingface.co and give an access token (the Token field of the Models panel; hubFiles(repo, { token }) in code). ' +
          'Also check the id for typos: the hub answers 401 for repos that do not exist.'),
    sourceMissing: (code) => code === 'RepoNotFound' || code === 'RevisionNotFound',
  });
}

/** A model folder on any web server: files at `${baseUrl}/${path}`. Same caching and progress as hubFiles. */
export function urlFiles(baseUrl: string, opts: RemoteOptions = {}): ModelFiles {
  const base = checkBaseUrl(baseUrl, 'model URL');
  return remoteFiles({
    kind: 'url',
    label: base,
    urlFor: (path) => `${base}/${encodePath(path)}`,
    headers: { ...opts.headers },
    fetch: opts.fetch ?? defaultFetch(),
    cache: cacheGetter(opts.cache),
    notFound: (path, url) =>
      `${path} was not found at ${url} (HTTP 404). Check the base URL: files are read from ${base}/<file>.${missingHint(path)}`,
    refused: (path, url, status) =>
      `The server refused access to ${path} (${url}, HTTP ${status}). It needs credentials: pass them with ` +
      "urlFiles(url, { headers: { Authorization: '...' } }), or download the files and open them as a local folder.",
    sourceMissing: () => false,
  });
}

// ---------------------------------------------------------------------------------------------
// Local folders

function isDirectoryHandle(x: unknown): x is DirectoryHandleLike {
  const h = x as Partial<DirectoryHandleLike> | null;
  return typeof h === 'object' && h !== null && h.kind === 'directory' && typeof h.getFileHandle === 'function';
}

/** Duck-typed, so Files from another realm (an iframe, a structured clone) pass too. */
function isBlob(x: unknown): x is Blob {
  const b = x as Partial<Blob> | null;
  return typeof b === 'object' && b !== null && typeof b.size === 'number' && typeof b.stream === 'function';
}

function isFolderEntry(x: unknown): x is FolderEntry {
  const e = x as Partial<FolderEntry> | null;
  return typeof e === 'object' && e !== null && typeof e.path === 'string' && isBlob(e.file);
}

function relativePath(f: File): string {
  const rel = (f as { webkitRelativePath?: unknown }).webkitRelativePath;
  return typeof rel === 'string' && rel !== '' ? rel : f.name;
}

function listing(names: readonly string[], more: boolean): string {
  if (names.length === 0) return 'The folder is empty.';
  const shown = names.slice(0, LISTING_LIMIT);
  const rest = names.length - shown.length;
  return `It contains: ${shown.join(', ')}${rest > 0 ? ` (and ${rest}${more ? '+' : ''} more)` : more ? ' (and more)' : ''}.`;
}

function folderMissing(path: string, label: string, names: readonly string[], more: boolean): ModelFileMissingError {
  const nested = names.find((n) => n.endsWith(`/${path}`));
  const nestedHint = nested
    ? ` There is a "${nested}": pick the folder "${nested.slice(0, -path.length - 1)}" itself instead.`
    : ' Pick the folder that holds the model’s config.json and weights.';
  return new ModelFileMissingError(
    path,
    label,
    `${path} is not in the folder "${label}". ${listing(names, more)}${nestedHint}${missingHint(path)}`,
  );
}

function domErrorName(e: unknown): string {
  return typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : '';
}

function blobReader(label: string, path: string): StreamFailure {
  return {
    cutOff: (loaded, total, cause) =>
      new ModelFileMissingError(
        path,
        label,
        `Reading ${path} from the folder "${label}" failed after ${formatBytes(loaded)}` +
          (total !== null ? ` of ${formatBytes(total)}` : '') +
          (cause !== undefined ? ` (${errorDetail(cause)})` : '') +
          '. The file may have changed or moved since the folder was picked: pick the folder again.',
      ),
    aborted: () => new ModelDownloadAbortedError(path, `the folder "${label}"`),
    tooLarge: (bytes, max, announced) =>
      new ModelFileMissingError(path, label, tooLargeMessage(path, bytes, max, announced ? '' : null)),
    overLength: (size) =>
      new ModelFileMissingError(
        path,
        label,
        `${path} in the folder "${label}" grew past its ${formatBytes(size)} while it was read: it changed after the folder ` +
          'was picked. Pick the folder again.',
      ),
  };
}

async function readBlob(blob: Blob, path: string, label: string, opts: ReadOptions): Promise<Uint8Array<ArrayBuffer>> {
  if (opts.signal?.aborted) throw new ModelDownloadAbortedError(path, `the folder "${label}"`);
  const meter = new ProgressMeter(path, opts.onProgress);
  const fail = blobReader(label, path);
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = blob.stream() as ReadableStream<Uint8Array>;
  } catch (e) {
    throw fail.cutOff(0, blob.size, e);
  }
  const length = { announced: blob.size, exact: true, trusted: true, max: maxOf(opts.maxBytes) };
  return readStream(stream, length, meter, opts.signal, fail);
}

/** Local files from a list: paths relative to the picked folder (its own name stripped). */
function listFolder(items: readonly (File | FolderEntry)[], labelOpt: string | undefined): ModelFiles {
  const raw = items.map((x) =>
    isFolderEntry(x) ? { path: x.path.replace(/^\/+/, ''), file: x.file } : { path: relativePath(x), file: x },
  );
  const firsts = new Set(raw.map((r) => (r.path.includes('/') ? r.path.slice(0, r.path.indexOf('/')) : null)));
  const top = firsts.size === 1 ? [...firsts][0] : null; // every path starts with the same folder
  const files = new Map<string, Blob>();
  for (const r of raw) {
    const path = top ? r.path.slice(top.length + 1) : r.path;
    if (path !== '' && !files.has(path)) files.set(path, r.file);
  }
  const label = labelOpt ?? top ?? 'local files';
  const names = [...files.keys()].sort();
  return {
    label,
    kind: 'folder',
    async read(path, opts = {}) {
      pathSegments(path);
      const blob = files.get(path);
      if (!blob) throw folderMissing(path, label, names, false);
      return readBlob(blob, path, label, opts);
    },
    async exists(path) {
      pathSegments(path);
      return files.has(path);
    },
  };
}

/** Names under a directory handle, breadth first, at most `limit` (+ whether there were more). */
async function listHandle(root: DirectoryHandleLike, limit: number): Promise<{ names: string[]; more: boolean }> {
  const names: string[] = [];
  const queue: { dir: DirectoryHandleLike; prefix: string }[] = [{ dir: root, prefix: '' }];
  while (queue.length > 0) {
    const { dir, prefix } = queue.shift()!;
    const here: { kind: string; name: string }[] = [];
    for await (const entry of dir.values()) here.push({ kind: entry.kind, name: entry.name });
    here.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of here) {
      if (entry.kind === 'directory') {
        queue.push({ dir: await dir.getDirectoryHandle(entry.name), prefix: `${prefix}${entry.name}/` });
      } else {
        if (names.length >= limit) return { names, more: true };
        names.push(`${prefix}${entry.name}`);
      }
    }
  }
  return { names, more: false };
}

function handleFolder(root: DirectoryHandleLike, labelOpt: string | undefined): ModelFiles {
  const label = labelOpt ?? root.name;
  /** The file, or null when it (or a folder on its path) is not there. */
  const open = async (path: string): Promise<File | null> => {
    const segments = pathSegments(path);
    const name = segments.pop()!;
    try {
      let dir = root;
      for (const s of segments) dir = await dir.getDirectoryHandle(s);
      return await (await dir.getFileHandle(name)).getFile();
    } catch (e) {
      const kind = domErrorName(e);
      if (kind === 'NotFoundError' || kind === 'TypeMismatchError') return null;
      if (kind === 'NotAllowedError' || kind === 'SecurityError') {
        throw new ModelFileMissingError(
          path,
          label,
          `The browser did not grant access to the folder "${label}" (reading ${path}). Pick the folder again and allow access when asked.`,
        );
      }
      throw new ModelFileMissingError(
        path,
        label,
        `Could not open ${path} in the folder "${label}" (${errorDetail(e)}). The folder may have changed since it was picked: pick it again.`,
      );
    }
  };
  return {
    label,
    kind: 'folder',
    async read(path, opts = {}) {
      const file = await open(path);
      if (!file) {
        const { names, more } = await listHandle(root, 4 * LISTING_LIMIT).catch(() => ({ names: [] as string[], more: true }));
        throw folderMissing(path, label, names, more);
      }
      return readBlob(file, path, label, opts);
    },
    async exists(path) {
      return (await open(path)) !== null;
    },
  };
}

/**
 * A local model folder, from:
 *  - a FileSystemDirectoryHandle (`showDirectoryPicker()`, OPFS `navigator.storage.getDirectory()`),
 *  - the FileList / File[] of `<input type="file" webkitdirectory>` (paths from webkitRelativePath,
 *    the picked folder's own name stripped),
 *  - the entries of `filesFromDataTransfer(dt)` (drag and drop).
 * `opts.label` overrides the folder name shown in messages.
 */
export function folderFiles(source: FolderSource, opts: { label?: string } = {}): ModelFiles {
  if (isDirectoryHandle(source)) return handleFolder(source, opts.label);
  const items =
    typeof (source as Iterable<File | FolderEntry>)[Symbol.iterator] === 'function'
      ? Array.from(source as Iterable<File | FolderEntry>)
      : Array.from(source as ArrayLike<File | FolderEntry>);
  for (const item of items) {
    if (!isFolderEntry(item) && !isBlob(item)) {
      throw new ModelSourceError(
        'folderFiles() takes a directory handle, a FileList or File[] from <input webkitdirectory>, or the entries of ' +
          'filesFromDataTransfer(); got a list with something else in it.',
      );
    }
  }
  return listFolder(items, opts.label);
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walkEntry(entry: FileSystemEntry, out: FolderEntry[]): Promise<void> {
  if (entry.isFile) {
    out.push({ path: entry.fullPath.replace(/^\/+/, ''), file: await entryFile(entry as FileSystemFileEntry) });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most ~100 entries per call: call it until it returns none.
  for (;;) {
    const batch = await readEntries(reader);
    if (batch.length === 0) break;
    for (const child of batch) await walkEntry(child, out);
  }
}

/**
 * The files of a drop (folders walked recursively through webkitGetAsEntry; plain files when the
 * browser gives no entries), for folderFiles(). Call it synchronously inside the drop handler, before
 * any await: the DataTransfer's items are only readable during the event.
 */
export async function filesFromDataTransfer(dt: DataTransfer): Promise<FolderEntry[]> {
  // Everything from `dt` is taken before the first await.
  const roots: FileSystemEntry[] = [];
  const loose: File[] = [];
  const items = dt.items ? Array.from(dt.items) : [];
  for (const item of items) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) roots.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  if (items.length === 0 && dt.files) loose.push(...Array.from(dt.files));
  const out: FolderEntry[] = loose.map((f) => ({ path: relativePath(f), file: f }));
  try {
    for (const root of roots) await walkEntry(root, out);
  } catch (e) {
    throw new ModelSourceError(
      `Could not read the dropped folder (${errorDetail(e)}). Drop it again, or pick it with the folder button instead.`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Several files

/**
 * Reads `paths` (duplicates once) with combined progress, for sharded checkpoints. On the first
 * failure the other reads are cancelled and that failure is thrown. Result keyed by path, in order.
 */
export async function readAll(
  files: ModelFiles,
  paths: readonly string[],
  opts: ReadAllOptions = {},
): Promise<Map<string, Uint8Array>> {
  const unique = [...new Set(paths)];
  const { signal, onProgress } = opts;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const state = unique.map(() => ({ loaded: 0, total: null as number | null, started: false, done: false, fromCache: true }));
  const sink = onProgress
    ? (p: DownloadProgress) => onProgress({ ...p, filesDone: state.filter((s) => s.done).length, filesTotal: unique.length })
    : undefined;
  const meter = new ProgressMeter(unique[0] ?? '', sink);
  const sumTotal = (): number | null =>
    state.every((s) => s.started && s.total !== null) ? state.reduce((a, s) => a + (s.total ?? 0), 0) : null;
  meter.begin(unique.length === 0 ? 0 : null);

  const results: (Uint8Array | undefined)[] = unique.map(() => undefined);
  const inner = new AbortController();
  const onAbort = (): void => inner.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) inner.abort();
  let failed = false;
  let failure: unknown;
  let next = 0;

  const lane = async (): Promise<void> => {
    while (!failed && next < unique.length) {
      const i = next++;
      const path = unique[i]!;
      const s = state[i]!;
      try {
        results[i] = await files.read(path, {
          signal: inner.signal,
          ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
          onProgress: (p) => {
            s.started = true;
            s.loaded = p.loaded;
            s.total = p.total ?? (p.done ? p.loaded : null);
            s.fromCache &&= p.fromCache;
            s.done = p.done;
            meter.fromCache = state.every((x) => !x.started || x.fromCache);
            meter.setTotal(sumTotal());
            if (!state.every((x) => x.done))
              meter.update(
                state.reduce((a, x) => a + x.loaded, 0),
                path,
              );
          },
        });
        s.done = true;
      } catch (e) {
        if (!failed) {
          failed = true;
          failure = e;
          inner.abort();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, unique.length) }, lane));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failed) throw failure;
  meter.fromCache = state.every((x) => x.fromCache);
  meter.finish(
    results.reduce((a, r) => a + (r?.byteLength ?? 0), 0),
    unique[unique.length - 1] ?? '',
  );
  return new Map(unique.map((p, i) => [p, results[i]!]));
}

// ---------------------------------------------------------------------------------------------
// Safetensors shard list

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
/** Largest index read (real ones are a few MB even for models with ~100k tensors). */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Most tensors an index may map. */
export const MAX_INDEX_TENSORS = 1_000_000;
/** Most shard files an index may name. */
export const MAX_INDEX_SHARDS = 10_000;
/** Longest shard file name. */
const MAX_SHARD_NAME = 255;
/** Keys that name a JavaScript prototype: never a tensor, a field or a metadata key. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A plain file name (no folder, no "\\", no control character) ending in .safetensors; else why not. */
function shardNameProblem(file: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (file.length > MAX_SHARD_NAME || file.includes('/') || file.includes('\\') || /[\u0000-\u001f\u007f]/.test(file))
    return `which is not a file name inside the model folder (a shard is a plain name of at most ${MAX_SHARD_NAME} characters, with no "/", "\\" or control characters)`;
  if (!file.endsWith('.safetensors') || file === '.safetensors') return 'which is not a .safetensors file';
  return null;
}

/** Where in `metadata` a non-finite number or a prototype key sits (walked without recursion; depth is bounded). */
function metadataProblem(metadata: Record<string, unknown>): string | null {
  const stack: [unknown, string][] = [[metadata, '']];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return `"metadata" holds ${describe(v)} at ${clip(at.slice(1))}`;
    if (typeof v !== 'object' || v === null) continue;
    for (const k of Object.keys(v)) {
      if (PROTOTYPE_KEYS.has(k)) return `the key "${k}" in "metadata" names a JavaScript prototype, not a field`;
      stack.push([(v as Record<string, unknown>)[k], `${at}.${k}`]);
    }
  }
  return null;
}

/**
 * The safetensors files of a model: the shards named by model.safetensors.index.json
 * (`{ metadata?, weight_map: { tensorName: fileName } }`) when it exists, else ['model.safetensors'].
 * The index is read depth-bounded (parseJson) and at most MAX_INDEX_BYTES; only its own keys
 * count, prototype keys are refused, every shard is a plain .safetensors file name in the model
 * folder, and the counts are bounded. A malformed index is a ModelFormatError naming the problem.
 */
export async function weightFileNames(files: ModelFiles, opts: ReadOptions = {}): Promise<WeightFiles> {
  if (!(await files.exists(SAFETENSORS_INDEX))) return { files: ['model.safetensors'], weightMap: null, metadata: null };
  const bytes = await files.read(SAFETENSORS_INDEX, { ...opts, maxBytes: Math.min(maxOf(opts.maxBytes), MAX_INDEX_BYTES) });
  const bad = (reason: string): ModelFormatError =>
    new ModelFormatError(
      SAFETENSORS_INDEX,
      `${SAFETENSORS_INDEX} in ${clip(files.label)} is malformed: ${reason}. Re-download the model (or fix the file); ` +
        'it must be {"metadata": {...}, "weight_map": {"tensor name": "shard file name"}}.',
    );
  let parsed: unknown;
  try {
    parsed = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes), SAFETENSORS_INDEX);
  } catch (e) {
    if (e instanceof JsonInputError)
      throw bad(
        e.reason === 'depth'
          ? `it nests deeper than ${MAX_JSON_DEPTH} levels (an index nests 2)`
          : `it is ${e.message.slice(e.what.length + 2)}`,
      );
    throw bad('it is not valid JSON (its bytes are not UTF-8)');
  }
  if (!isPlainObject(parsed)) throw bad(`the top level is not a JSON object (it is ${describe(parsed)})`);
  for (const k of Object.keys(parsed))
    if (PROTOTYPE_KEYS.has(k)) throw bad(`the key "${k}" at the top level names a JavaScript prototype, not a field`);
  const own = (key: string): unknown => (Object.hasOwn(parsed, key) ? parsed[key] : undefined);
  const metadata = own('metadata');
  if (metadata !== undefined && metadata !== null && !isPlainObject(metadata))
    throw bad(`"metadata" is ${describe(metadata)}, not an object`);
  const mdProblem = isPlainObject(metadata) ? metadataProblem(metadata) : null;
  if (mdProblem) throw bad(mdProblem);
  const map = own('weight_map');
  if (map === undefined) throw bad('"weight_map" is missing');
  if (!isPlainObject(map)) throw bad(`"weight_map" is ${describe(map)}, not an object`);
  const names = Object.keys(map);
  if (names.length > MAX_INDEX_TENSORS)
    throw bad(`"weight_map" maps ${names.length} tensors; MedRank reads at most ${MAX_INDEX_TENSORS}`);
  const weightMap = new Map<string, string>();
  const shards = new Set<string>();
  for (const tensor of names) {
    if (PROTOTYPE_KEYS.has(tensor)) throw bad(`the key "${tensor}" in "weight_map" names a JavaScript prototype, not a tensor`);
    const file = map[tensor];
    if (typeof file !== 'string') throw bad(`the file of tensor ${describe(tensor)} is ${describe(file)}, not a string`);
    const problem = shardNameProblem(file);
    if (problem) throw bad(`tensor ${describe(tensor)} points to ${describe(file)}, ${problem}`);
    weightMap.set(tensor, file);
    shards.add(file);
    if (shards.size > MAX_INDEX_SHARDS)
      throw bad(`"weight_map" names ${shards.size}+ shard files; MedRank reads at most ${MAX_INDEX_SHARDS}`);
  }
  if (shards.size === 0) throw bad('"weight_map" is empty');
  return { files: [...shards].sort(), weightMap, metadata: isPlainObject(metadata) ? metadata : null };
}
