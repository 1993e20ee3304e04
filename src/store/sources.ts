// Where a notebook's cells fetch from, and which of those places the user has not confirmed. A
// notebook imported from a file may name any URL (a host on the user's network, a tracker): its
// Data and Models cells fetch nothing until the user has seen the list and confirmed it. The
// unconfirmed list is kept per notebook in localStorage, so a reload still asks.

import type { Cell } from '../notebook/schema';

/** The remote places a cell fetches from when it runs: URLs as written, a hub repo as its huggingface.co address. */
export function remoteSourcesOf(cell: Cell): string[] {
  if (cell.kind === 'data') return cell.source?.kind === 'url' ? Object.values(cell.source.urls) : [];
  if (cell.kind === 'models')
    return [cell.retriever, cell.generator].flatMap((r) =>
      r?.kind === 'url' ? [r.url] : r?.kind === 'hub' ? [`https://huggingface.co/${r.repo}`] : [],
    );
  return [];
}

const KEY = (notebookId: string): string => `medrank-unconfirmed:${notebookId}`;
/** Most sources remembered per notebook (a notebook has one Data and one Models cell in practice). */
const MAX_REMEMBERED = 64;

export function loadUnconfirmed(notebookId: string): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY(notebookId)) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX_REMEMBERED) : [];
  } catch {
    return [];
  }
}

export function saveUnconfirmed(notebookId: string, sources: string[]): void {
  try {
    if (sources.length) localStorage.setItem(KEY(notebookId), JSON.stringify(sources.slice(0, MAX_REMEMBERED)));
    else localStorage.removeItem(KEY(notebookId));
  } catch {
    // no localStorage (Node, private mode): the list lasts for this session
  }
}
