// A model source as the page names it (structured-cloneable, so File objects and directory
// handles pass to the worker) and the one ModelFiles view it opens, plus the one-line message a
// download's progress reads as.

import { formatBytes } from '../../core/format';
import { folderFiles } from './folder';
import { hubFiles, urlFiles } from './remote';
import type { FolderEntry, ModelFiles, ReadAllProgress } from './types';

/** Where a model's files are. */
export type ModelSourceSpec =
  | { kind: 'hub'; repo: string; revision?: string; endpoint?: string; token?: string }
  | { kind: 'url'; url: string }
  | { kind: 'folder'; entries: FolderEntry[] | FileSystemDirectoryHandle; label?: string };

/**
 * The files of a source. `origin` is the app's own (the demo models): its files are not copied
 * into the Cache API, since the server has them and a copy would outlive a regeneration.
 */
export function modelFilesOf(source: ModelSourceSpec, origin: string): ModelFiles {
  switch (source.kind) {
    case 'hub':
      return hubFiles(source.repo, { revision: source.revision, endpoint: source.endpoint, token: source.token || undefined });
    case 'url':
      return urlFiles(source.url, { cache: new URL(source.url, origin).origin !== new URL(origin).origin });
    case 'folder':
      return folderFiles(source.entries, { label: source.label });
  }
}

/** A download's progress as one line: file, bytes, the meter's ETA, files done. */
export function downloadMessage(p: ReadAllProgress): string {
  if (p.fromCache && p.done) return `${p.filesTotal} weight file(s) from the browser cache`;
  const of = p.total !== null ? ` of ${formatBytes(p.total)}` : '';
  const eta = p.etaSeconds !== null && !p.done ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
  return `${p.file}: ${formatBytes(p.loaded)}${of}${eta} (${p.filesDone}/${p.filesTotal} files)`;
}
