// The `notebook` slice: the notebook document (ordered cells with their configs), restored from
// IndexedDB on load (the built-in demo notebook the first time), autosaved a moment after every
// change and when the page hides, exported and imported as a JSON file. An import is parsed and
// validated field by field (src/notebook/file.ts) before anything is replaced: a bad file leaves
// the notebook as it was and says what is wrong.

import type { StateCreator } from 'zustand';
import { RECORDED_RUNS, demoNotebook, emptyCell, newCellId, parseRecordedRuns } from '../notebook/demo';
import { asImported, parseNotebookFile, serializeNotebookFile, toNotebookFile } from '../notebook/file';
import type { NotebookEntry } from '../notebook/db';
import type { Cell, CellKind, DataRef, ModelRef, Notebook, RunFile } from '../notebook/schema';
import type { ModelRole } from '../worker/protocol';
import type { AppState } from './index';
import { keptNote } from './kept';
import { notebookDb } from './notebookDb';
import { loadUnconfirmed, remoteSourcesOf, saveUnconfirmed } from './sources';

export type SaveState = 'idle' | 'pending' | 'saving' | 'saved' | 'error';

export interface NotebookSlice {
  notebook: {
    doc: Notebook;
    /** False until openNotebook has restored the saved notebook (or chosen the demo). */
    restored: boolean;
    save: { state: SaveState; at: number | null; error: string | null };
    /** Why nothing is being saved in this browser, when so (no IndexedDB, a newer schema on disk). */
    storageProblem: string | null;
    /** The last import's outcome: an error that names what is wrong, or what was imported. */
    importError: string | null;
    importMessage: string | null;
    /** After another notebook opened (Storage, an import, a new demo): what stays loaded in this tab, and how it differs. */
    openMessage: string | null;
    /** Every notebook saved in this browser (the Storage panel opens or deletes them). */
    list: NotebookEntry[];
    /** Remote sources of an imported notebook's cells the user has not confirmed yet (store/sources.ts). */
    unconfirmed: string[];
  };
  /** The user has seen these sources and lets the cells fetch from them. */
  confirmSources: (sources: string[]) => void;
  /** Restore the current notebook and its runs from IndexedDB; the demo notebook when there is none. */
  openNotebook: () => Promise<void>;
  updateCell: (id: string, patch: Partial<Cell>) => void;
  addCell: (kind: CellKind, afterId: string | null) => void;
  removeCell: (id: string) => void;
  moveCell: (id: string, by: -1 | 1) => void;
  setTitle: (title: string) => void;
  /** Open a new copy of the demo notebook (the open one stays saved, listed under Storage). */
  resetToDemo: () => void;
  /** Remember where the dataset / a model came from in the notebook's Data / Models cell. */
  rememberData: (ref: DataRef) => void;
  rememberModel: (role: ModelRole, ref: ModelRef) => void;
  /** Save now (autosave does it a moment after each change). */
  flushSave: () => Promise<void>;
  /** The notebook and its runs (with their step records) as a notebook file. */
  exportNotebook: () => Promise<Blob>;
  importNotebook: (file: Blob) => Promise<void>;
  refreshNotebooks: () => Promise<void>;
  /** Open another saved notebook (the open one is saved first); not while a run goes. */
  switchNotebook: (id: string) => Promise<void>;
  /** Delete a saved notebook that is not the open one, with its runs. */
  deleteNotebook: (id: string) => Promise<void>;
  /** The user has read openMessage. */
  dismissOpenMessage: () => void;
}

const AUTOSAVE_MS = 400;
/**
 * localStorage key of an edit not yet in IndexedDB when the page went away: pagehide cannot wait
 * for an IndexedDB transaction, but a synchronous localStorage write always lands. The next open
 * takes it when it is newer than the saved notebook, saves it, and removes it.
 */
const STASH_KEY = 'medrank-notebook-unsaved';

function readStash(): Notebook | null {
  try {
    const text = globalThis.localStorage?.getItem(STASH_KEY);
    // Validated like an imported file: it is data from the page, but still only data.
    return text ? parseNotebookFile(serializeNotebookFile(toNotebookFile(JSON.parse(text) as Notebook, []))).notebook : null;
  } catch {
    return null;
  }
}
const clearStash = (): void => {
  try {
    globalThis.localStorage?.removeItem(STASH_KEY);
  } catch {
    // no localStorage: nothing was stashed
  }
};

export const createNotebookSlice: StateCreator<AppState, [], [], NotebookSlice> = (set, get) => {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const patch = (p: Partial<NotebookSlice['notebook']>): void => set((s) => ({ notebook: { ...s.notebook, ...p } }));
  const patchSave = (p: Partial<NotebookSlice['notebook']['save']>): void =>
    set((s) => ({ notebook: { ...s.notebook, save: { ...s.notebook.save, ...p } } }));

  const save = async (): Promise<void> => {
    timer = null;
    const { doc, storageProblem } = get().notebook;
    if (storageProblem) return;
    patchSave({ state: 'saving' });
    try {
      const db = await notebookDb();
      await db.saveNotebook(doc);
      // An edit made while this one was written is still pending (its own save is scheduled).
      if (get().notebook.doc !== doc) return;
      clearStash();
      patchSave({ state: 'saved', at: Date.now(), error: null });
    } catch (err) {
      // Nothing on screen is lost: the next change tries again; the user can export meanwhile.
      patchSave({ state: 'error', error: (err as Error).message });
    }
  };
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void save(), AUTOSAVE_MS);
  };
  const edit = (f: (nb: Notebook) => Notebook): void => {
    if (!get().notebook.restored) return; // the saved notebook is not in yet: an edit would overwrite it
    set((s) => ({
      notebook: {
        ...s.notebook,
        doc: { ...f(s.notebook.doc), updatedAt: Date.now() },
        // Not saved in this browser at all (storageProblem): nothing is pending, the banner says so.
        save: { ...s.notebook.save, state: s.notebook.storageProblem ? s.notebook.save.state : 'pending' },
      },
    }));
    schedule();
  };
  const mapCells = (nb: Notebook, f: (c: Cell) => Cell): Notebook => ({ ...nb, cells: nb.cells.map(f) });

  /**
   * A fresh demo notebook opens with the recorded runs (imported like any results.json, into its
   * Train cell), shown in its Compare and Inspect cells, so the alignment story is there before
   * anything trains. Without the files (a build without them, offline dev) it opens without them.
   */
  const importRecordedRuns = async (): Promise<void> => {
    const nb = get().notebook.doc;
    const train = nb.cells.find((c) => c.kind === 'train');
    if (!train) return;
    // Once per notebook: a run of that name already there (an earlier call) is not added again.
    const have = new Set(
      get()
        .runs.list.filter((m) => m.notebookId === nb.id)
        .map((m) => m.name),
    );
    let index: URL, list;
    try {
      // Inside the try: no document (tests in Node) or no fetch means no recorded runs.
      index = new URL(RECORDED_RUNS, document.baseURI);
      const r = await fetch(index);
      if (!r.ok) return;
      list = parseRecordedRuns(await r.json());
    } catch {
      return;
    }
    const ids: string[] = [];
    for (const run of list) {
      if (have.has(run.name)) continue;
      try {
        const r = await fetch(new URL(run.file, index)); // beside the index
        if (!r.ok) continue;
        const id = await get().importResults(train.id, await r.blob(), run.file, run.name);
        if (id) ids.push(id);
      } catch {
        // one missing file leaves the others
      }
    }
    if (!ids.length || get().notebook.doc.id !== nb.id) return;
    edit((doc) =>
      mapCells(doc, (c) =>
        c.kind === 'compare' && c.runIds.length === 0
          ? { ...c, runIds: ids }
          : c.kind === 'inspect' && c.runId === null
            ? { ...c, runId: ids[0]! }
            : c,
      ),
    );
  };

  const openOnce = async (): Promise<void> => {
    try {
      const db = await notebookDb();
      const saved = await db.loadCurrentNotebook();
      const stash = readStash();
      const newer = stash && (!saved || (stash.id === saved.id && stash.updatedAt > saved.updatedAt)) ? stash : null;
      const doc = newer ?? saved ?? demoNotebook();
      patch({ doc, restored: true, storageProblem: null, unconfirmed: loadUnconfirmed(doc.id) });
      if (doc !== saved) await db.saveNotebook(doc);
      clearStash();
      await get().loadRuns(doc.id);
      if (!saved && !newer) await addRecordedRuns();
      await get().refreshNotebooks();
    } catch (err) {
      // No IndexedDB (private mode, blocked) or a newer schema: the notebook works unsaved.
      patch({ restored: true, storageProblem: (err as Error).message });
    }
  };

  // Calls that overlap (the page opening twice at once, as React's strict mode does) share one import.
  let recording: Promise<void> | null = null;
  const addRecordedRuns = (): Promise<void> =>
    (recording ??= importRecordedRuns().finally(() => {
      recording = null;
    }));
  let opening: Promise<void> | null = null;

  if (typeof window !== 'undefined')
    window.addEventListener('pagehide', () => {
      const { state } = get().notebook.save;
      if (!get().notebook.restored || (state !== 'pending' && state !== 'saving' && state !== 'error')) return;
      try {
        localStorage.setItem(STASH_KEY, JSON.stringify(get().notebook.doc));
      } catch {
        // no room or no localStorage: the IndexedDB save below may still land
      }
      void save();
    });

  return {
    notebook: {
      doc: demoNotebook(),
      restored: false,
      save: { state: 'idle', at: null, error: null },
      storageProblem: null,
      importError: null,
      importMessage: null,
      openMessage: null,
      list: [],
      unconfirmed: [],
    },

    confirmSources: (sources) => {
      const { doc, unconfirmed } = get().notebook;
      const left = unconfirmed.filter((x) => !sources.includes(x));
      saveUnconfirmed(doc.id, left);
      patch({ unconfirmed: left });
    },

    // Overlapping calls (React's strict mode opens the page twice) share one opening.
    openNotebook: () =>
      (opening ??= openOnce().finally(() => {
        opening = null;
      })),

    updateCell: (id, p) => edit((nb) => mapCells(nb, (c) => (c.id === id ? ({ ...c, ...p, id, kind: c.kind } as Cell) : c))),
    addCell: (kind, afterId) =>
      edit((nb) => {
        const cell = emptyCell(kind, newCellId(nb));
        const at = afterId === null ? nb.cells.length : nb.cells.findIndex((c) => c.id === afterId) + 1;
        return { ...nb, cells: [...nb.cells.slice(0, at), cell, ...nb.cells.slice(at)] };
      }),
    removeCell: (id) => edit((nb) => ({ ...nb, cells: nb.cells.filter((c) => c.id !== id) })),
    moveCell: (id, by) =>
      edit((nb) => {
        const i = nb.cells.findIndex((c) => c.id === id),
          j = i + by;
        if (i < 0 || j < 0 || j >= nb.cells.length) return nb;
        const cells = [...nb.cells];
        [cells[i], cells[j]] = [cells[j]!, cells[i]!];
        return { ...nb, cells };
      }),
    setTitle: (title) => edit((nb) => ({ ...nb, title })),
    resetToDemo: () => {
      // A new notebook beside the others (a fresh id: the first demo, edited or not, stays as it is).
      const fresh = { ...demoNotebook(), id: `demo-${Date.now().toString(36)}` };
      const before = get().notebook.doc;
      edit(() => fresh);
      patch({ unconfirmed: [], openMessage: keptNote(get(), before, fresh) });
      void get().loadRuns(fresh.id).then(addRecordedRuns);
      void get()
        .flushSave()
        .then(() => get().refreshNotebooks());
    },
    rememberData: (ref) => edit((nb) => mapCells(nb, (c) => (c.kind === 'data' ? { ...c, source: ref } : c))),
    rememberModel: (role, ref) => edit((nb) => mapCells(nb, (c) => (c.kind === 'models' ? { ...c, [role]: ref } : c))),
    flushSave: async () => {
      if (timer) clearTimeout(timer);
      await save();
    },

    exportNotebook: async () => {
      const doc = get().notebook.doc;
      const runs: RunFile[] = [];
      for (const meta of get().runs.list) runs.push({ meta, records: await get().loadRecords(meta.id) });
      return new Blob([serializeNotebookFile(toNotebookFile(doc, runs))], { type: 'application/json' });
    },

    importNotebook: async (blob) => {
      patch({ importError: null, importMessage: null });
      let file;
      try {
        file = parseNotebookFile(await blob.text());
      } catch (err) {
        patch({ importError: (err as Error).message });
        return;
      }
      if (get().runs.active) {
        patch({ importError: 'a run is in progress: stop it (or let it finish) before importing a notebook' });
        return;
      }
      await get().flushSave(); // the current notebook stays saved, under its own id
      const before = get().notebook.doc;
      const taken = await notebookDb()
        .then((db) => db.listNotebooks())
        .then((l) => l.map((n) => n.title))
        .catch(() => get().notebook.list.map((n) => n.title));
      file = asImported(file, Date.now(), [...taken, before.title]);
      const note = keptNote(get(), before, file.notebook);
      let doc = file.notebook;
      try {
        const db = await notebookDb();
        doc = await db.importNotebookFile(file);
        await get().loadRuns(doc.id);
      } catch (err) {
        // Not saved (storage full or unavailable): show it for this session anyway.
        patch({ importError: `imported for this session only: ${(err as Error).message}` });
        set((s) => ({
          runs: {
            ...s.runs,
            list: file.runs.map((r) => r.meta),
            records: Object.fromEntries(file.runs.map((r) => [r.meta.id, r.records])),
          },
        }));
      }
      const unconfirmed = [...new Set(doc.cells.flatMap(remoteSourcesOf))];
      saveUnconfirmed(doc.id, unconfirmed);
      patch({
        doc,
        unconfirmed,
        importMessage: `imported “${doc.title}”: ${doc.cells.length} cells, ${file.runs.length} run${file.runs.length === 1 ? '' : 's'}`,
        openMessage: note,
      });
      void get().refreshNotebooks();
    },

    refreshNotebooks: async () => {
      try {
        patch({ list: await (await notebookDb()).listNotebooks() });
      } catch {
        patch({ list: [] });
      }
    },

    switchNotebook: async (id) => {
      if (get().runs.active || id === get().notebook.doc.id) return;
      await get().flushSave(); // the open notebook stays saved, under its own id
      const db = await notebookDb();
      const doc = await db.loadNotebook(id);
      if (!doc) return;
      await db.saveNotebook(doc); // it becomes the current one: a reload opens it
      const openMessage = keptNote(get(), get().notebook.doc, doc);
      patch({ doc, importError: null, importMessage: null, openMessage, unconfirmed: loadUnconfirmed(doc.id) });
      patchSave({ state: 'saved', at: Date.now(), error: null });
      await get().loadRuns(id);
      await get().refreshNotebooks();
    },

    dismissOpenMessage: () => patch({ openMessage: null }),

    deleteNotebook: async (id) => {
      if (id === get().notebook.doc.id) return;
      await (await notebookDb()).deleteNotebook(id);
      await get().refreshNotebooks();
      void get().refreshUsage();
    },
  };
};
