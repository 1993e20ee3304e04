// The public types of model file sources: the `ModelFiles` view every origin gives (hub, URL,
// local folder), the options of a read, the progress events of a download and of several, and
// the shapes a caller hands in (a cache, a fetch, a directory handle, dropped entries).

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
