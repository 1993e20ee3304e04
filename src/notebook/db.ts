// The notebook's IndexedDB store (npm `idb`): database 'medrank-notebook' holds the notebooks, the
// current notebook's id, run metadata, per-step records (one row per [runId, step]) and the latest
// checkpoint of each run. The schema is versioned by MIGRATIONS (step i upgrades version i to i+1);
// every write that belongs together is one transaction, and storage failures become typed errors
// that say what to do (storage full, a newer MedRank's database, no IndexedDB at all).

import { wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from '../core/idb';
import { MedRankError } from '../core/errors';
import { heldRuns } from './locks';
import { addScoreAfter } from '../training/records';
import type { Cell, Notebook, NotebookFile, RunCheckpoint, RunMeta, StepRecord } from './schema';

export const NOTEBOOK_DB_NAME = 'medrank-notebook';
const NOTEBOOKS = 'notebooks';
const META = 'meta';
const RUNS = 'runs';
const RECORDS = 'records';
const CHECKPOINTS = 'checkpoints';
const CURRENT = 'current';

interface RecordRow {
  runId: string;
  step: number;
  record: StepRecord;
}

interface NotebookDbSchema extends DBSchema {
  notebooks: { key: string; value: Notebook };
  meta: { key: string; value: string };
  runs: { key: string; value: RunMeta; indexes: { notebookId: string } };
  records: { key: [string, number]; value: RecordRow };
  checkpoints: { key: string; value: RunCheckpoint };
}
type StoreName = 'notebooks' | 'meta' | 'runs' | 'records' | 'checkpoints';
type WriteTx<S extends StoreName> = IDBPTransaction<NotebookDbSchema, S[], 'readwrite'>;

// ---- schema ------------------------------------------------------------------------------

/** One schema step: upgrades the database from version i to i + 1 (index i of MIGRATIONS). */
export type Migration = (db: IDBPDatabase<unknown>, tx: IDBPTransaction<unknown, string[], 'versionchange'>) => void;

/** The schema steps in version order. Append new steps; never edit a released one. */
export const MIGRATIONS: Migration[] = [
  (db) => {
    db.createObjectStore(NOTEBOOKS, { keyPath: 'id' });
    db.createObjectStore(META);
    db.createObjectStore(RUNS, { keyPath: 'id' }).createIndex('notebookId', 'notebookId');
    db.createObjectStore(RECORDS, { keyPath: ['runId', 'step'] });
    db.createObjectStore(CHECKPOINTS);
  },
  // 2: candidates of step records saved before CandidateRecord.scoreAfter existed get scoreAfter:
  // null (what a step that did not re-score records), in the records and in each checkpoint's.
  (_db, tx) => {
    rewriteAll(tx, RECORDS, (row) => {
      if (typeof row !== 'object' || row === null || !('record' in row)) return row;
      const [record] = addScoreAfter([row.record]) as unknown[];
      return record === row.record ? row : { ...row, record };
    });
    rewriteAll(tx, CHECKPOINTS, (cp) => {
      if (typeof cp !== 'object' || cp === null || !('records' in cp)) return cp;
      const records = addScoreAfter(cp.records);
      return records === cp.records ? cp : { ...cp, records };
    });
  },
];

/**
 * Rewrite the values of a store within an upgrade (f returns the value itself to leave it). A
 * failure aborts the upgrade: the database stays at its old version, nothing half-rewritten.
 */
function rewriteAll(tx: IDBPTransaction<unknown, string[], 'versionchange'>, store: string, f: (v: unknown) => unknown): void {
  const run = async (): Promise<void> => {
    let cursor = await tx.objectStore(store).openCursor();
    while (cursor) {
      const next = f(cursor.value);
      if (next !== cursor.value) await cursor.update(next);
      cursor = await cursor.continue();
    }
  };
  run().catch(() => {
    try {
      tx.abort();
    } catch {
      // already finished or aborted
    }
  });
}

// ---- errors ------------------------------------------------------------------------------

/** A write hit the browser's storage quota; the transaction was rolled back. */
export class StorageFullError extends MedRankError {
  constructor(what: string) {
    super(
      `Browser storage is full, so ${what} could not be saved. Delete old runs or checkpoints under Storage, ` +
        'or export the notebook to a file; what is on screen is kept.',
    );
  }
}

/** The database on disk was made by a newer MedRank (a higher schema version than this page knows). */
export class NewerSchemaError extends MedRankError {
  constructor(
    readonly found: number | null,
    readonly supported: number,
  ) {
    super(
      found === null
        ? 'A newer MedRank opened this notebook in another tab, so this page stopped saving. ' +
            'Reload this page to use the newer version; nothing was deleted.'
        : `This notebook was saved by a newer MedRank (storage version ${found}; this page knows up to ${supported}). ` +
            'Reload the page (or open the newer MedRank) to use it; nothing was deleted.',
    );
  }
}

/** IndexedDB is missing or refused (private browsing, site data blocked, another tab holding an old version). */
export class StorageUnavailableError extends MedRankError {
  constructor(detail: string) {
    super(
      `Browser storage (IndexedDB) is not available here (${detail}). ` +
        'The notebook works but is not saved: export it to a file to keep it.',
    );
  }
}

const nameOf = (err: unknown): string | undefined => (err as { name?: unknown } | null)?.name as string | undefined;
const messageOf = (err: unknown): string => (err instanceof Error || err instanceof DOMException ? err.message : String(err));

// ---- opening -----------------------------------------------------------------------------

export interface OpenNotebookDbOptions {
  /** Database name (tests use their own). */
  name?: string;
  /** Where IndexedDB comes from (tests pass fake-indexeddb's); default: globalThis.indexedDB. */
  idbFactory?: IDBFactory;
  /** The schema steps (tests inject their own); default MIGRATIONS. */
  migrations?: Migration[];
  /** Runs another tab is training now (their Web Lock is held: locks.ts); default heldRuns(). */
  liveRuns?: () => Promise<Set<string>>;
}

/**
 * Open (creating or upgrading) the notebook database. Runs left 'running' by a closed tab become
 * 'interrupted'; their ids are `db.interrupted`. A run another tab is training (it holds the run's
 * lock) stays 'running'; its id is in `db.elsewhere`.
 */
export async function openNotebookDb(opts: OpenNotebookDbOptions = {}): Promise<NotebookDb> {
  const name = opts.name ?? NOTEBOOK_DB_NAME;
  const migrations = opts.migrations ?? MIGRATIONS;
  const factory = opts.idbFactory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) throw new StorageUnavailableError('this browser has no IndexedDB');
  const raw = await openRaw(factory, name, migrations);
  const db = new NotebookDb(raw as unknown as IDBPDatabase<NotebookDbSchema>, migrations.length);
  try {
    await db.markInterrupted(await (opts.liveRuns ?? heldRuns)());
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function openRaw(factory: IDBFactory, name: string, migrations: Migration[]): Promise<IDBPDatabase<unknown>> {
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name, migrations.length);
    } catch (err) {
      reject(new StorageUnavailableError(messageOf(err)));
      return;
    }
    let settled = false;
    let migrationError: unknown = null;
    const fail = (err: unknown): void => {
      if (!settled) reject(err);
      settled = true;
    };
    request.addEventListener('upgradeneeded', (event) => {
      const db = wrap(request.result) as IDBPDatabase<unknown>;
      const tx = wrap(request.transaction!) as unknown as IDBPTransaction<unknown, string[], 'versionchange'>;
      tx.done.catch(() => {}); // an aborted upgrade is reported through the open request
      try {
        for (let v = event.oldVersion; v < migrations.length; v++) migrations[v]!(db, tx);
      } catch (err) {
        migrationError = err; // the open fails with AbortError; report the migration's own error
        tx.abort();
      }
    });
    request.addEventListener('success', () => {
      const db = request.result;
      if (settled) {
        db.close(); // it opened after we gave up on it (a blocked open that went through later)
        return;
      }
      settled = true;
      // Another tab is upgrading the schema: let it, and stop using this connection.
      db.addEventListener('versionchange', () => db.close());
      resolve(wrap(db) as IDBPDatabase<unknown>);
    });
    request.addEventListener('error', (event) => {
      event.preventDefault();
      const err = request.error;
      if (migrationError) fail(migrationError);
      else if (nameOf(err) === 'VersionError')
        void storedVersion(factory, name).then((found) => fail(new NewerSchemaError(found, migrations.length)));
      else if (nameOf(err) === 'QuotaExceededError') fail(new StorageFullError('the notebook database'));
      else fail(new StorageUnavailableError(err ? `${nameOf(err)}: ${err.message}` : 'it refused to open'));
    });
    request.addEventListener('blocked', () =>
      fail(
        new StorageUnavailableError(
          'another MedRank tab is holding the notebook database open with an older version; close or reload the other tabs',
        ),
      ),
    );
  });
}

/** The version of the database on disk (null if it cannot be read). */
function storedVersion(factory: IDBFactory, name: string): Promise<number | null> {
  return new Promise((resolve) => {
    try {
      const r = factory.open(name);
      r.onsuccess = () => {
        const v = r.result.version;
        r.result.close();
        resolve(v);
      };
      r.onerror = (e) => {
        e.preventDefault();
        resolve(null);
      };
    } catch {
      resolve(null);
    }
  });
}

// ---- the store ---------------------------------------------------------------------------

/** A notebook as the Storage panel lists it. */
export interface NotebookEntry {
  id: string;
  title: string;
  updatedAt: number;
  runs: number;
}

export interface RunUsage {
  id: string;
  name: string;
  /** Estimate: JSON length of the meta and records, 4 bytes per float of the checkpoint. */
  bytes: number;
}

export interface StorageUsage {
  runs: RunUsage[];
  totalBytes: number;
  /** navigator.storage.estimate() for the whole site, where the browser has it. */
  quota: number | null;
  usage: number | null;
}

const recordRange = (runId: string): IDBKeyRange => IDBKeyRange.bound([runId, -Infinity], [runId, Infinity]);

const newId = (prefix: string): string =>
  `${prefix}-${globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`}`;

export class NotebookDb {
  /** Runs that were 'running' when the database was opened (now 'interrupted'). */
  interrupted: string[] = [];
  /** Runs that were 'running' when the database was opened and that another tab is training. */
  elsewhere: string[] = [];
  private upgradedElsewhere = false;

  constructor(
    private readonly db: IDBPDatabase<NotebookDbSchema>,
    readonly version: number,
  ) {
    db.addEventListener('versionchange', () => {
      this.upgradedElsewhere = true;
    });
  }

  close(): void {
    this.db.close();
  }

  /**
   * @internal Run at open: a 'running' run on disk whose lock no tab holds means its tab closed
   * mid-run; one in `live` is being trained by another tab.
   */
  async markInterrupted(live: Set<string> = new Set()): Promise<void> {
    this.elsewhere = [];
    this.interrupted = await this.write([RUNS], 'the run list', async (tx) => {
      const store = tx.objectStore(RUNS);
      const ids: string[] = [];
      for (const meta of await store.getAll()) {
        if (meta.status !== 'running') continue;
        if (live.has(meta.id)) {
          this.elsewhere.push(meta.id);
          continue;
        }
        ids.push(meta.id);
        await store.put({ ...meta, status: 'interrupted' });
      }
      return ids;
    });
  }

  // ---- notebooks ----

  async loadCurrentNotebook(): Promise<Notebook | null> {
    const tx = this.read([META, NOTEBOOKS]);
    const id = await tx.objectStore(META).get(CURRENT);
    const nb = id === undefined ? undefined : await tx.objectStore(NOTEBOOKS).get(id);
    await tx.done;
    return nb ?? null;
  }

  /** Save a notebook and make it the current one. */
  async saveNotebook(nb: Notebook): Promise<void> {
    await this.write([NOTEBOOKS, META], 'the notebook', async (tx) => {
      await all([() => tx.objectStore(NOTEBOOKS).put(nb), () => tx.objectStore(META).put(nb.id, CURRENT)]);
    });
  }

  /** Every notebook in this browser, most recently changed first, with how many runs each has. */
  async listNotebooks(): Promise<NotebookEntry[]> {
    const tx = this.read([NOTEBOOKS, RUNS]);
    const nbs: Notebook[] = await tx.objectStore(NOTEBOOKS).getAll();
    const out: NotebookEntry[] = [];
    for (const nb of nbs)
      out.push({
        id: nb.id,
        title: nb.title,
        updatedAt: nb.updatedAt,
        runs: await tx.objectStore(RUNS).index('notebookId').count(nb.id),
      });
    await tx.done;
    return out.sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async loadNotebook(id: string): Promise<Notebook | null> {
    return (await this.read([NOTEBOOKS]).objectStore(NOTEBOOKS).get(id)) ?? null;
  }

  /** Delete a notebook with all its runs (records and checkpoints), in one transaction. */
  async deleteNotebook(id: string): Promise<void> {
    await this.write([NOTEBOOKS, RUNS, RECORDS, CHECKPOINTS], 'the deletion', async (tx) => {
      const runIds = (await tx.objectStore(RUNS).index('notebookId').getAllKeys(id)) as string[];
      await all([
        () => tx.objectStore(NOTEBOOKS).delete(id),
        ...runIds.flatMap((r) => [
          () => tx.objectStore(RUNS).delete(r),
          () => tx.objectStore(RECORDS).delete(recordRange(r)),
          () => tx.objectStore(CHECKPOINTS).delete(r),
        ]),
      ]);
    });
  }

  // ---- runs ----

  /** A notebook's runs, oldest first. */
  async listRuns(notebookId: string): Promise<RunMeta[]> {
    const runs = await this.read([RUNS]).objectStore(RUNS).index('notebookId').getAll(notebookId);
    return runs.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * A run another tab was training, once its lock is free: still 'running' on disk means that tab
   * closed mid-run, so it becomes 'interrupted'. Returns the run as stored now (null: deleted).
   */
  async settleRun(id: string): Promise<RunMeta | null> {
    return this.write([RUNS], 'the run list', async (tx) => {
      const store = tx.objectStore(RUNS);
      const meta = await store.get(id);
      if (!meta) return null;
      if (meta.status !== 'running') return meta;
      const settled: RunMeta = { ...meta, status: 'interrupted' };
      await store.put(settled);
      return settled;
    });
  }

  /** One run's meta as stored, or null. */
  async getRun(id: string): Promise<RunMeta | null> {
    return (await this.read([RUNS]).objectStore(RUNS).get(id)) ?? null;
  }

  async putRun(meta: RunMeta): Promise<void> {
    await this.write([RUNS], `run "${meta.name}"`, (tx) => tx.objectStore(RUNS).put(meta));
  }

  /** Add step records to a run in one transaction (a step already stored is replaced). */
  async appendRecords(runId: string, records: StepRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.write([RECORDS], 'the step records', async (tx) => {
      const store = tx.objectStore(RECORDS);
      await all(records.map((record) => () => store.put({ runId, step: record.step, record })));
    });
  }

  /** Delete a run's records from step `fromStep` on (a resumed run recomputes them). */
  async truncateRecords(runId: string, fromStep: number): Promise<void> {
    await this.write([RECORDS], 'the step records', async (tx) => {
      await tx.objectStore(RECORDS).delete(IDBKeyRange.bound([runId, fromStep], [runId, Infinity]));
    });
  }

  /** A run's step records in step order. */
  async getRecords(runId: string): Promise<StepRecord[]> {
    const rows = await this.read([RECORDS]).objectStore(RECORDS).getAll(recordRange(runId));
    return rows.map((r) => r.record);
  }

  /** Replace a run's checkpoint and set its meta.checkpointStep, in one transaction. */
  async putCheckpoint(runId: string, cp: RunCheckpoint): Promise<void> {
    await this.write([RUNS, CHECKPOINTS], 'the checkpoint', async (tx) => {
      const runs = tx.objectStore(RUNS);
      const meta = await runs.get(runId);
      if (!meta) throw new MedRankError(`putCheckpoint: no run "${runId}" in storage; save the run (putRun) first`);
      await all([() => tx.objectStore(CHECKPOINTS).put(cp, runId), () => runs.put({ ...meta, checkpointStep: cp.step })]);
    });
  }

  async getCheckpoint(runId: string): Promise<RunCheckpoint | null> {
    return (await this.read([CHECKPOINTS]).objectStore(CHECKPOINTS).get(runId)) ?? null;
  }

  /** Drop a run's checkpoint only (its records stay; it can no longer resume). */
  async deleteCheckpoint(runId: string): Promise<void> {
    await this.write([RUNS, CHECKPOINTS], 'the run', async (tx) => {
      const runs = tx.objectStore(RUNS);
      const meta = await runs.get(runId);
      await all([() => tx.objectStore(CHECKPOINTS).delete(runId), () => meta && runs.put({ ...meta, checkpointStep: null })]);
    });
  }

  /** Delete a run: its meta, every record and its checkpoint, in one transaction. */
  async deleteRun(runId: string): Promise<void> {
    await this.write([RUNS, RECORDS, CHECKPOINTS], 'the deletion', async (tx) => {
      await all([
        () => tx.objectStore(RUNS).delete(runId),
        () => tx.objectStore(RECORDS).delete(recordRange(runId)),
        () => tx.objectStore(CHECKPOINTS).delete(runId),
      ]);
    });
  }

  /** What a notebook's runs take, per run (estimates), and the site's quota where the browser says. */
  async usage(notebookId: string): Promise<StorageUsage> {
    const runs: RunUsage[] = [];
    // One run at a time: a checkpoint can be large, so only one is held in memory.
    for (const meta of await this.listRuns(notebookId)) {
      const tx = this.read([RECORDS, CHECKPOINTS]);
      const rows = await tx.objectStore(RECORDS).getAll(recordRange(meta.id));
      const cp = await tx.objectStore(CHECKPOINTS).get(meta.id);
      await tx.done;
      let bytes = JSON.stringify(meta).length;
      for (const r of rows) bytes += JSON.stringify(r.record).length;
      if (cp) bytes += checkpointBytes(cp);
      runs.push({ id: meta.id, name: meta.name, bytes });
    }
    let quota: number | null = null,
      usage: number | null = null;
    try {
      const est = await (globalThis as { navigator?: Navigator }).navigator?.storage?.estimate?.();
      quota = est?.quota ?? null;
      usage = est?.usage ?? null;
    } catch {
      // no estimate in this browser or context
    }
    return { runs, totalBytes: runs.reduce((a, r) => a + r.bytes, 0), quota, usage };
  }

  // ---- import ----

  /**
   * Store an imported (already validated) notebook file: the notebook becomes current, its runs are
   * added with their records. Ids that are already taken get new ones, and the cells' references to
   * runs follow them; a reference to a run the file does not carry is dropped. Imported runs have no
   * checkpoint. One transaction: all of it or nothing. Returns the notebook as stored (its runs:
   * listRuns(notebook.id)).
   */
  async importNotebookFile(file: NotebookFile): Promise<Notebook> {
    return this.write([NOTEBOOKS, META, RUNS, RECORDS], 'the imported notebook', async (tx) => {
      const taken = async (store: typeof NOTEBOOKS | typeof RUNS, id: string): Promise<boolean> =>
        (await tx.objectStore(store).getKey(id)) !== undefined;
      const notebookId = (await taken(NOTEBOOKS, file.notebook.id)) ? newId('nb') : file.notebook.id;
      const runIds = new Map<string, string>();
      for (const r of file.runs)
        runIds.set(r.meta.id, (await taken(RUNS, r.meta.id)) || runIds.has(r.meta.id) ? newId('run') : r.meta.id);
      const ref = (id: string | null): string | null => (id === null ? null : (runIds.get(id) ?? null));
      const cells = file.notebook.cells.map((c): Cell => {
        if (c.kind === 'inspect') return { ...c, runId: ref(c.runId) };
        if (c.kind === 'compare') return { ...c, runIds: c.runIds.flatMap((id) => runIds.get(id) ?? []) };
        if (c.kind === 'evaluate' && c.last) return { ...c, last: { ...c.last, runId: ref(c.last.runId) } };
        return c;
      });
      const notebook: Notebook = { ...file.notebook, id: notebookId, cells };
      const metas = file.runs.map((r): RunMeta => ({
        ...r.meta,
        id: runIds.get(r.meta.id)!,
        notebookId,
        status: r.meta.status === 'running' ? 'interrupted' : r.meta.status,
        checkpointStep: null,
      }));
      const records = tx.objectStore(RECORDS);
      await all([
        () => tx.objectStore(NOTEBOOKS).put(notebook),
        () => tx.objectStore(META).put(notebookId, CURRENT),
        ...metas.map((m) => () => tx.objectStore(RUNS).put(m)),
        ...file.runs.flatMap((r, i) =>
          r.records.map((record) => () => records.put({ runId: metas[i]!.id, step: record.step, record })),
        ),
      ]);
      return notebook;
    });
  }

  /**
   * Add one run with all its step records (an imported results file) in one transaction: all of
   * it or nothing, and nothing else is touched. A run id already taken is refused.
   */
  async importRun(meta: RunMeta, records: StepRecord[]): Promise<void> {
    await this.write([RUNS, RECORDS], `the imported run "${meta.name}"`, async (tx) => {
      if ((await tx.objectStore(RUNS).getKey(meta.id)) !== undefined)
        throw new MedRankError(`importRun: a run "${meta.id}" is already stored; import it under a new id`);
      const store = tx.objectStore(RECORDS);
      await all([
        () => tx.objectStore(RUNS).put(meta),
        ...records.map((record) => () => store.put({ runId: meta.id, step: record.step, record })),
      ]);
    });
  }

  // ---- transactions ----

  private check(): void {
    if (this.upgradedElsewhere) throw new NewerSchemaError(null, this.version);
  }

  private read<S extends StoreName>(stores: S[]): IDBPTransaction<NotebookDbSchema, S[], 'readonly'> {
    this.check();
    return this.db.transaction(stores, 'readonly');
  }

  /** Run fn in one readwrite transaction; on any failure roll it all back and type quota errors. */
  private async write<S extends StoreName, T>(stores: S[], what: string, fn: (tx: WriteTx<S>) => Promise<T>): Promise<T> {
    this.check();
    let tx: WriteTx<S>;
    try {
      tx = this.db.transaction(stores, 'readwrite');
    } catch (err) {
      throw storageError(err, null, what);
    }
    try {
      const result = await fn(tx);
      await tx.done;
      return result;
    } catch (err) {
      try {
        tx.abort();
      } catch {
        // already aborted or finished
      }
      await tx.done.catch(() => {});
      throw storageError(err, tx.error, what);
    }
  }
}

/**
 * Start requests in order and wait for them all. If starting one throws (a full quota, an aborted
 * transaction), the ones already started still get a handler: the transaction aborts and rejects them.
 */
async function all(starts: (() => Promise<unknown> | null | undefined)[]): Promise<void> {
  const started: Promise<unknown>[] = [];
  try {
    for (const start of starts) {
      const p = start();
      if (p) started.push(p);
    }
  } catch (err) {
    for (const p of started) p.catch(() => {});
    throw err;
  }
  await Promise.all(started);
}

function storageError(err: unknown, txError: DOMException | null, what: string): unknown {
  if (nameOf(err) === 'QuotaExceededError' || nameOf(txError) === 'QuotaExceededError') return new StorageFullError(what);
  return err;
}

function checkpointBytes(cp: RunCheckpoint): number {
  let floats = 0;
  for (const p of cp.params) floats += p.length;
  for (const o of [cp.optimizers.retriever, cp.optimizers.generator])
    for (const m of o?.moments ?? []) if (m) floats += m.m.length + m.v.length;
  const rest = JSON.stringify({ step: cp.step, config: cp.config, records: cp.records, evals: cp.evals }).length;
  return 4 * floats + rest;
}
