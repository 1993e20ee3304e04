// Remote model folders: the Hugging Face hub (or a mirror) and any base URL. Owns the URL layout
// (`${endpoint}/${repo}/resolve/${revision}/${path}` for the hub), the HTTP failures' messages,
// Content-Length (and when it can be trusted), and the Cache API copy of downloaded files (cache
// MODEL_CACHE_NAME, keyed by the full URL; injectable as a ModelCache where there is none).

import type { MedRankError } from '../../core/errors';
import { formatBytes } from '../../core/format';
import { errorDetail, ModelDownloadAbortedError, ModelDownloadError, ModelFileMissingError, ModelSourceError } from './errors';
import { missingHint, pathSegments } from './paths';
import { maxOf, ProgressMeter, readStream, tooLargeMessage, type StreamFailure } from './stream';
import type { FetchLike, HubOptions, ModelCache, ModelFiles, RemoteOptions } from './types';

/** The Cache API cache that holds downloaded model files. Delete it to free the space. */
export const MODEL_CACHE_NAME = 'medrank-models-v1';

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
