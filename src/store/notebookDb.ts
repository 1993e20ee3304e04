// The store's one door to the notebook's IndexedDB (src/notebook/db.ts): opened once per page,
// lazily. When IndexedDB is missing or refuses (private mode, a newer schema on disk) the notebook
// still works for the session; the reason is kept so the page can say it and offer export.

import { openNotebookDb, type NotebookDb } from '../notebook/db';

let pending: Promise<NotebookDb> | null = null;

export function notebookDb(): Promise<NotebookDb> {
  pending ??= openNotebookDb();
  return pending;
}

/** Tests swap the database (e.g. a fake-indexeddb one), or null to reopen. */
export function setNotebookDb(db: Promise<NotebookDb> | null): void {
  pending = db;
}
