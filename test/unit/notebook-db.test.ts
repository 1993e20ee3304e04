// The notebook's IndexedDB store on fake-indexeddb (a fresh factory per test): round trips,
// transactions that go all or nothing, the migration runner, newer schemas, quota errors and import.
import 'fake-indexeddb/auto'; // IDB* globals, which idb's wrappers test values against
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MIGRATIONS,
  NewerSchemaError,
  openNotebookDb,
  StorageFullError,
  StorageUnavailableError,
  type Migration,
  type NotebookDb,
} from '../../src/notebook/db';
import { toNotebookFile } from '../../src/notebook/file';
import { checkpoint, fullNotebook, runMeta, stepRecord } from './notebook-fixtures';

let factory: IDBFactory;
const open = (migrations?: Migration[]): Promise<NotebookDb> => openNotebookDb({ idbFactory: factory, name: 'test', migrations });
const fresh = (): Promise<NotebookDb> => {
  factory = new IDBFactory();
  return open();
};

/** Store names, index names and version of the database on disk, read without the module under test. */
function rawSchema(): Promise<{ version: number; stores: string[]; runIndexes: string[] }> {
  return new Promise((resolve, reject) => {
    const r = factory.open('test');
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const db = r.result;
      const tx = db.transaction('runs', 'readonly');
      const out = {
        version: db.version,
        stores: [...db.objectStoreNames].sort(),
        runIndexes: [...tx.objectStore('runs').indexNames].sort(),
      };
      db.close();
      resolve(out);
    };
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('notebook db: round trips', () => {
  it('saves and loads the current notebook; saving another makes it current', async () => {
    const db = await fresh();
    expect(await db.loadCurrentNotebook()).toBeNull();
    const a = fullNotebook('a');
    await db.saveNotebook(a);
    expect(await db.loadCurrentNotebook()).toEqual(a);
    const b = { ...fullNotebook('b'), title: 'second' };
    await db.saveNotebook(b);
    expect(await db.loadCurrentNotebook()).toEqual(b);
    db.close();
    const again = await open();
    expect((await again.loadCurrentNotebook())?.title).toBe('second');
    again.close();
  });

  it('lists a notebook’s runs by createdAt; records come back in numeric step order; truncate drops a tail', async () => {
    const db = await fresh();
    await db.putRun(runMeta('late', 'nb', { createdAt: 30 }));
    await db.putRun(runMeta('early', 'nb', { createdAt: 10 }));
    await db.putRun(runMeta('other', 'nb2', { createdAt: 20 }));
    expect((await db.listRuns('nb')).map((r) => r.id)).toEqual(['early', 'late']);
    expect(await db.listRuns('nb2')).toEqual([runMeta('other', 'nb2', { createdAt: 20 })]);

    // 10 sorts after 2 as a number (not as the string "10").
    await db.appendRecords('early', [stepRecord(10), stepRecord(2)]);
    await db.appendRecords('early', [stepRecord(0), stepRecord(1)]);
    await db.appendRecords('late', [stepRecord(0, { gpuBytes: 7 })]);
    const recs = await db.getRecords('early');
    expect(recs.map((r) => r.step)).toEqual([0, 1, 2, 10]);
    expect(recs[2]).toEqual(stepRecord(2));
    // Appending a step again replaces it.
    await db.appendRecords('early', [stepRecord(1, { gpuBytes: 99 })]);
    expect((await db.getRecords('early'))[1]!.gpuBytes).toBe(99);

    await db.truncateRecords('early', 2);
    expect((await db.getRecords('early')).map((r) => r.step)).toEqual([0, 1]);
    expect(await db.getRecords('late')).toEqual([stepRecord(0, { gpuBytes: 7 })]);
    db.close();
  });

  it('stores a checkpoint with its Float32Arrays and sets the run’s checkpointStep in the same write', async () => {
    const db = await fresh();
    await db.putRun(runMeta('r1', 'nb'));
    const cp = checkpoint(3, 2);
    await db.putCheckpoint('r1', cp);
    const back = (await db.getCheckpoint('r1'))!;
    expect(back.params[0]).toBeInstanceOf(Float32Array);
    expect(Array.from(back.params[0]!)).toEqual(Array.from(cp.params[0]!));
    expect(Array.from(back.params[1]!)).toEqual(Array.from(cp.params[1]!));
    expect(Array.from(back.optimizers.retriever!.moments[0]!.v)).toEqual(Array.from(cp.optimizers.retriever!.moments[0]!.v));
    expect(back).toEqual(cp);
    expect((await db.listRuns('nb'))[0]!.checkpointStep).toBe(3);
    expect(await db.getCheckpoint('nope')).toBeNull();
    await expect(db.putCheckpoint('nope', cp)).rejects.toThrow(/no run "nope"/);
    expect(await db.getCheckpoint('nope')).toBeNull(); // the failed write left nothing

    await db.deleteCheckpoint('r1');
    expect(await db.getCheckpoint('r1')).toBeNull();
    expect((await db.listRuns('nb'))[0]!.checkpointStep).toBeNull();
    db.close();
  });

  it('deleteRun removes the run’s meta, records and checkpoint, and nothing of another run', async () => {
    const db = await fresh();
    for (const id of ['r1', 'r2']) {
      await db.putRun(runMeta(id, 'nb', { createdAt: id === 'r1' ? 1 : 2 }));
      await db.appendRecords(id, [stepRecord(0), stepRecord(1)]);
      await db.putCheckpoint(id, checkpoint(2));
    }
    // A run id that is a prefix of another must not catch the other's records.
    await db.putRun(runMeta('r10', 'nb', { createdAt: 3 }));
    await db.appendRecords('r10', [stepRecord(0)]);
    await db.deleteRun('r1');
    expect((await db.listRuns('nb')).map((r) => r.id)).toEqual(['r2', 'r10']);
    expect(await db.getRecords('r1')).toEqual([]);
    expect(await db.getCheckpoint('r1')).toBeNull();
    expect(await db.getRecords('r2')).toHaveLength(2);
    expect(await db.getRecords('r10')).toHaveLength(1);
    expect((await db.getCheckpoint('r2'))?.step).toBe(2);
    db.close();
  });

  it('reports usage per run: records by JSON length, checkpoints at 4 bytes a float', async () => {
    const db = await fresh();
    await db.putRun(runMeta('r1', 'nb'));
    await db.putRun(runMeta('r2', 'nb', { createdAt: 5000 }));
    await db.appendRecords('r1', [stepRecord(0)]);
    const cp = checkpoint(1);
    await db.putCheckpoint('r1', cp);
    const u = await db.usage('nb');
    const meta1 = (await db.listRuns('nb'))[0]!;
    const floats = 5 + 3 + 5 + 5;
    const cpJson = JSON.stringify({ step: cp.step, config: cp.config, records: cp.records, evals: cp.evals }).length;
    expect(u.runs.map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(u.runs[0]!.bytes).toBe(JSON.stringify(meta1).length + JSON.stringify(stepRecord(0)).length + 4 * floats + cpJson);
    expect(u.runs[1]!.bytes).toBe(JSON.stringify(runMeta('r2', 'nb', { createdAt: 5000 })).length);
    expect(u.totalBytes).toBe(u.runs[0]!.bytes + u.runs[1]!.bytes);
    expect(u.quota).toBeNull(); // Node has no navigator.storage
    db.close();
  });
});

describe('notebook db: opening', () => {
  it('a run left "running" loads as "interrupted", and its id is reported once', async () => {
    const db = await fresh();
    expect(db.interrupted).toEqual([]);
    await db.putRun(runMeta('live', 'nb', { status: 'running' }));
    await db.putRun(runMeta('fine', 'nb', { status: 'done', createdAt: 2000 }));
    db.close();
    const again = await open();
    expect(again.interrupted).toEqual(['live']);
    expect((await again.listRuns('nb')).map((r) => [r.id, r.status])).toEqual([
      ['live', 'interrupted'],
      ['fine', 'done'],
    ]);
    again.close();
    const third = await open();
    expect(third.interrupted).toEqual([]);
    third.close();
  });

  it('runs each migration once, in order, and keeps the data through an upgrade', async () => {
    factory = new IDBFactory();
    const ran: string[] = [];
    const m1: Migration = (db, tx) => {
      ran.push('m1');
      MIGRATIONS[0]!(db, tx);
    };
    const m2: Migration = (db, tx) => {
      ran.push('m2');
      tx.objectStore('runs').createIndex('status', 'status');
      db.createObjectStore('extra');
    };
    const v1 = await open([m1]);
    await v1.saveNotebook(fullNotebook());
    await v1.putRun(runMeta('r1', 'nb1'));
    await v1.appendRecords('r1', [stepRecord(0)]);
    v1.close();
    expect(await rawSchema()).toMatchObject({ version: 1, runIndexes: ['notebookId'] });

    const v2 = await open([m1, m2]);
    expect(ran).toEqual(['m1', 'm2']);
    expect(await v2.loadCurrentNotebook()).toEqual(fullNotebook());
    expect(await v2.getRecords('r1')).toEqual([stepRecord(0)]);
    v2.close();
    expect(await rawSchema()).toEqual({
      version: 2,
      stores: ['checkpoints', 'extra', 'meta', 'notebooks', 'records', 'runs'],
      runIndexes: ['notebookId', 'status'],
    });

    (await open([m1, m2])).close();
    expect(ran).toEqual(['m1', 'm2']);
  });

  it('a migration that throws fails the open with its own error and leaves the old version in place', async () => {
    factory = new IDBFactory();
    const v1 = await open();
    await v1.saveNotebook(fullNotebook());
    v1.close();
    const bad: Migration = () => {
      throw new Error(`migration ${MIGRATIONS.length + 1} broke`);
    };
    await expect(open([...MIGRATIONS, bad])).rejects.toThrow(`migration ${MIGRATIONS.length + 1} broke`);
    expect((await rawSchema()).version).toBe(MIGRATIONS.length);
    const again = await open();
    expect(await again.loadCurrentNotebook()).toEqual(fullNotebook());
    again.close();
  });

  it('a database from a newer MedRank is refused with NewerSchemaError, and nothing is deleted', async () => {
    factory = new IDBFactory();
    const m2: Migration = (db) => void db.createObjectStore('future');
    const newer = await open([...MIGRATIONS, m2]);
    await newer.saveNotebook(fullNotebook());
    await newer.putRun(runMeta('r1', 'nb1'));
    newer.close();

    const err = await open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NewerSchemaError);
    const n = MIGRATIONS.length;
    expect((err as Error).message).toMatch(`newer MedRank (storage version ${n + 1}; this page knows up to ${n})`);
    expect((err as Error).message).toMatch(/nothing was deleted/);

    const back = await open([...MIGRATIONS, m2]);
    expect(await back.loadCurrentNotebook()).toEqual(fullNotebook());
    expect(await back.listRuns('nb1')).toHaveLength(1);
    back.close();
  });

  it('a connection that another tab upgrades closes and says to reload', async () => {
    factory = new IDBFactory();
    const old = await open();
    const m2: Migration = (db) => void db.createObjectStore('future');
    const newer = await open([...MIGRATIONS, m2]); // not blocked: the old connection steps aside
    await expect(old.listRuns('nb')).rejects.toBeInstanceOf(NewerSchemaError);
    await expect(old.putRun(runMeta('r', 'nb'))).rejects.toThrow(/Reload this page/);
    newer.close();
  });

  it('no IndexedDB, or one that refuses to open, is StorageUnavailableError', async () => {
    const refusing = {
      open: () => {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    } as unknown as IDBFactory;
    const err = await openNotebookDb({ idbFactory: refusing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(/not saved: export it to a file/);

    const saved = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')!;
    Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true, writable: true });
    try {
      await expect(openNotebookDb()).rejects.toThrow(/this browser has no IndexedDB/);
    } finally {
      Object.defineProperty(globalThis, 'indexedDB', saved);
    }
  });
});

describe('notebook db: quota', () => {
  it('a QuotaExceededError during a write becomes StorageFullError, and the transaction is rolled back', async () => {
    const db = await fresh();
    await db.putRun(runMeta('r1', 'nb'));
    await db.appendRecords('r1', [stepRecord(0)]);
    const put = IDBObjectStore.prototype.put;
    let calls = 0;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      if (++calls === 2) throw new DOMException('quota', 'QuotaExceededError');
      return put.apply(this, args);
    });
    const err = await db.appendRecords('r1', [stepRecord(1), stepRecord(2), stepRecord(3)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageFullError);
    expect((err as Error).message).toMatch(
      /storage is full.*Delete old runs or checkpoints under Storage, or export the notebook/,
    );
    expect((err as Error).message).toMatch(/what is on screen is kept/);
    vi.restoreAllMocks();
    // Step 1 was put before the failure, but the transaction took it back.
    expect((await db.getRecords('r1')).map((r) => r.step)).toEqual([0]);

    // A quota failure that aborts the transaction itself (as Chrome reports it) is typed too.
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      const req = put.apply(this, args);
      const tx = this.transaction;
      Object.defineProperty(tx, 'error', { value: new DOMException('quota', 'QuotaExceededError'), configurable: true });
      tx.abort();
      return req;
    });
    await expect(db.putCheckpoint('r1', checkpoint(1))).rejects.toBeInstanceOf(StorageFullError);
    vi.restoreAllMocks();
    expect(await db.getCheckpoint('r1')).toBeNull();
    expect((await db.listRuns('nb'))[0]!.checkpointStep).toBeNull();
    db.close();
  });
});

describe('notebook db: import', () => {
  it('imports a file as the current notebook; taken ids are remapped with the cells’ references', async () => {
    const db = await fresh();
    // What is already there: notebook nb1 with run r1.
    await db.saveNotebook(fullNotebook('nb1'));
    await db.putRun(runMeta('r1', 'nb1', { name: 'mine' }));
    await db.appendRecords('r1', [stepRecord(0, { gpuBytes: 1 })]);

    const nb = fullNotebook('nb1');
    nb.cells[7] = { id: 'c8', kind: 'compare', runIds: ['r1', 'gone', 'r2'] };
    const file = toNotebookFile(nb, [
      {
        meta: runMeta('r1', 'nb1', { name: 'theirs', status: 'running', checkpointStep: 2 }),
        records: [stepRecord(0), stepRecord(1)],
      },
      { meta: runMeta('r2', 'nb1', { createdAt: 3000 }), records: [stepRecord(0)] },
    ]);
    const imported = await db.importNotebookFile(file);

    expect(imported.id).not.toBe('nb1');
    expect(await db.loadCurrentNotebook()).toEqual(imported);
    const runs = await db.listRuns(imported.id);
    expect(runs.map((r) => r.name)).toEqual(['theirs', 'jmlr-code #r2']);
    const [theirs, r2] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(theirs.id).not.toBe('r1');
    expect(r2.id).toBe('r2'); // free, so kept
    expect(theirs).toMatchObject({ notebookId: imported.id, status: 'interrupted', checkpointStep: null });
    expect(await db.getRecords(theirs.id)).toEqual([stepRecord(0), stepRecord(1)]);

    const cell = (id: string) => imported.cells.find((c) => c.id === id)!;
    expect(cell('c7')).toMatchObject({ kind: 'inspect', runId: theirs.id });
    expect(cell('c8')).toMatchObject({ kind: 'compare', runIds: [theirs.id, 'r2'] }); // 'gone' is not in the file
    expect(cell('c6')).toMatchObject({ kind: 'evaluate', last: { runId: theirs.id } });
    expect(cell('c1')).toEqual(nb.cells[0]);

    // What was there is untouched.
    expect((await db.listRuns('nb1')).map((r) => [r.id, r.name])).toEqual([['r1', 'mine']]);
    expect(await db.getRecords('r1')).toEqual([stepRecord(0, { gpuBytes: 1 })]);
    db.close();
  });

  it('keeps the file’s ids when they are free', async () => {
    const db = await fresh();
    const file = toNotebookFile(fullNotebook('nbX'), [
      { meta: runMeta('r1', 'nbX'), records: [] },
      { meta: runMeta('r2', 'nbX', { createdAt: 1001 }), records: [stepRecord(0)] },
    ]);
    const imported = await db.importNotebookFile(file);
    expect(imported).toEqual(fullNotebook('nbX'));
    expect((await db.listRuns('nbX')).map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(await db.getRecords('r2')).toEqual([stepRecord(0)]);
    db.close();
  });
});
