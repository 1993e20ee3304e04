// Where a dataset's files come from, and reading them: the built-in demo (served beside the app),
// URLs, or File objects the user picked, streamed with one combined byte progress and cancelled by
// a signal. The worker calls it; the structured-cloneable spec crosses the engine protocol as is.

import { MedRankError } from '../core/errors';
import { formatBytes } from '../core/format';
import type { DatasetFormat } from './datasets';
import { readText } from './jsonl';

/** Where a dataset's files are: the built-in demo, URLs, or File objects, by the keys of DATASET_FILES. */
export type DatasetSourceSpec =
  | { kind: 'demo' }
  | { kind: 'url'; format: DatasetFormat; urls: Record<string, string> }
  | { kind: 'files'; format: DatasetFormat; files: Record<string, Blob> };

/**
 * The files of a source as the user picked them, by key: a picked file's own name, a URL as
 * typed. Problems with a file name it (parseDataset's fileNames). The demo's files are MedRank's.
 */
export function datasetFileNames(source: DatasetSourceSpec): Record<string, string> {
  if (source.kind === 'url') return { ...source.urls };
  if (source.kind === 'files')
    return Object.fromEntries(
      Object.entries(source.files).flatMap(([k, f]) => {
        const name = (f as Blob & { name?: unknown }).name;
        return typeof name === 'string' && name ? [[k, name]] : [];
      }),
    );
  return {};
}

/** The files of a dataset source, read with combined byte progress. */
export async function readDatasetFiles(
  source: DatasetSourceSpec,
  signal: AbortSignal,
  onProgress?: (p: { done: number; total: number; message: string }) => void,
): Promise<Record<string, string>> {
  const entries: [string, () => Promise<{ body: ReadableStream<Uint8Array>; size: number | null }>][] = [];
  const fromUrl = (url: string) => async () => {
    const res = await fetch(url, { signal });
    if (!res.ok || !res.body)
      throw new MedRankError(`${url} answered HTTP ${res.status}; check the address (the server must allow this origin)`);
    const len = Number(res.headers.get('Content-Length'));
    return { body: res.body, size: res.headers.get('Content-Encoding') || !len ? null : len };
  };
  if (source.kind === 'demo') {
    const base = new URL('/demo/', self.location.origin);
    entries.push(
      ['questions', fromUrl(new URL('questions.jsonl', base).href)],
      ['corpus', fromUrl(new URL('corpus.jsonl', base).href)],
    );
  } else if (source.kind === 'url') {
    for (const [key, url] of Object.entries(source.urls)) entries.push([key, fromUrl(url)]);
  } else {
    for (const [key, blob] of Object.entries(source.files))
      entries.push([key, async () => ({ body: blob.stream(), size: blob.size })]);
  }
  const out: Record<string, string> = {};
  let before = 0;
  for (const [i, [key, open]] of entries.entries()) {
    const { body, size } = await open();
    let read = 0;
    out[key] = await readText(body, {
      total: size ?? undefined,
      signal,
      onProgress: (p) => {
        read = p.loaded;
        onProgress?.({
          done: before + p.loaded,
          total: before + (p.total ?? p.loaded),
          message: `${key} (${i + 1}/${entries.length}): ${formatBytes(p.loaded)}${p.total ? ` of ${formatBytes(p.total)}` : ''}`,
        });
      },
    });
    before += read;
  }
  return out;
}
