// Where model files come from: the single door for model file I/O. Whatever its origin (the
// Hugging Face hub, any base URL, or a local folder the user picked or dropped), a model folder is
// seen through one `ModelFiles` view: `read(path)` gives a file's bytes, `exists(path)` answers
// for optional files. This file only re-exports the public names (many modules, tests and tools
// import them from here); the code lives in src/models/sources/, one file per concern:
//   - stream.ts: reading one body into one array, with the one progress meter (bytes, total,
//     smoothed bytes/s, ETA) every read reports through; the buffer grows as bytes arrive, capped
//     by the announced length and the caller's maxBytes; short, long and over-cap bodies refused,
//   - remote.ts: the hub and plain URLs (the URL layout, HTTP failures, the Cache API copy),
//   - folder.ts: local folders (File System Access handles, <input webkitdirectory>, drag and drop),
//   - shards.ts: readAll (several files, one combined progress) and the safetensors shard list
//     (`weightFileNames`, from model.safetensors.index.json),
//   - types.ts, errors.ts, paths.ts: what they share (errors' messages say what to do next).
// It parses nothing else: config, tokenizer and safetensors parsing live in their own modules.
// Runs in pages, Web Workers and Node 20+ (platform APIs only).
//
// Cancellation: an aborted `signal` rejects with `ModelDownloadAbortedError` (a MedRankError, not a
// DOMException), for downloads and local reads alike, so callers test one class.

export type {
  DirectoryHandleLike,
  DownloadProgress,
  FetchLike,
  FolderEntry,
  FolderSource,
  HubOptions,
  ModelCache,
  ModelFiles,
  ReadAllOptions,
  ReadAllProgress,
  ReadOptions,
  RemoteOptions,
  WeightFiles,
} from './sources/types';
export {
  ModelDownloadAbortedError,
  ModelDownloadError,
  ModelFileMissingError,
  ModelFormatError,
  ModelSourceError,
} from './sources/errors';
export { MAX_READ_BYTES, PROGRESS_INTERVAL_MS } from './sources/stream';
export { hubFiles, MODEL_CACHE_NAME, urlFiles } from './sources/remote';
export { filesFromDataTransfer, folderFiles } from './sources/folder';
export { downloadMessage, modelFilesOf, type ModelSourceSpec } from './sources/spec';
export {
  MAX_INDEX_BYTES,
  MAX_INDEX_SHARDS,
  MAX_INDEX_TENSORS,
  readAll,
  SAFETENSORS_INDEX,
  weightFileNames,
} from './sources/shards';
