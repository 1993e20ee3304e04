// Local model folders: a File System Access directory handle, the file list of
// <input webkitdirectory>, or the entries of a drop (filesFromDataTransfer), each seen as one
// ModelFiles view; a missing file's message lists what the folder holds.

import { formatBytes } from '../../core/format';
import { errorDetail, ModelDownloadAbortedError, ModelFileMissingError, ModelSourceError } from './errors';
import { missingHint, pathSegments } from './paths';
import { maxOf, ProgressMeter, readStream, tooLargeMessage, type StreamFailure } from './stream';
import type { DirectoryHandleLike, FolderEntry, FolderSource, ModelFiles, ReadOptions } from './types';

/** How many names a "file is missing" message lists. */
const LISTING_LIMIT = 20;

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
