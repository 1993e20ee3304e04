// The IndexedDB door for ColBERT indexes (npm `idb`): one database, 'medrank', with a versioned
// schema so later issues can add their stores in upgrade(). An index is two records under one
// string key made from its IndexKey: a small one in 'indexes' (what listIndexes reads) and the
// packed vectors, optional encoder states, offsets and doc ids in 'index-data'. Both are written
// in one transaction, so a failed save (a full quota) leaves neither behind. A compressed index
// (src/retrieval/compressed.ts) is a second record kind in the same two stores, under the key
// prefixed 'compressed:': its small record says kind 'compressed', its data record is the index's
// own serialized record, validated by CompressedIndex.deserialize on load.

import { openDB, type DBSchema, type IDBPDatabase } from '../core/idb';
import { MedRankError } from '../core/errors';
import type { Engine, Tensor } from '../tensor';
import { CompressedIndex, CompressedIndexRecordError, type CompressedRecord } from './compressed';
import { makeIndex, type ColbertIndex, type IndexKey } from './index';

/** The store key of an index. */
export function keyString(k: IndexKey): string {
  return `${k.weights}:${k.corpus}:${k.head}`;
}

// ---- schema ------------------------------------------------------------------------------

export const DB_NAME = 'medrank';
/** Bump when adding stores; add the step to upgradeDb (never edit an old step). */
export const DB_VERSION = 1;
export const INDEX_STORE = 'indexes';
export const INDEX_DATA_STORE = 'index-data';
/** Layout of the stored records; a record of another format is a cache miss (and is deleted). */
const RECORD_FORMAT = 1;

export interface IndexMeta {
  format: number;
  /** Absent on exact indexes (the first kind); 'compressed' on compressed ones. */
  kind?: 'compressed';
  key: IndexKey;
  encoderHash: string;
  docs: number;
  tokens: number;
  dim: number;
  /** D of the stored encoder states, 0 when none were stored. */
  hiddenDim: number;
  /** Bytes of the data record's arrays. */
  bytes: number;
  /** Date.now() at save. */
  savedAt: number;
  buildMs: number;
}

export interface IndexData {
  docIds: string[];
  offsets: ArrayBuffer;
  vectors: ArrayBuffer;
  hidden: ArrayBuffer | null;
}

export interface MedRankDB extends DBSchema {
  indexes: { key: string; value: IndexMeta };
  'index-data': { key: string; value: IndexData | CompressedRecord };
}

export type MedRankDatabase = IDBPDatabase<MedRankDB>;

/** The schema steps, in version order. */
export function upgradeDb(db: MedRankDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore(INDEX_STORE);
    db.createObjectStore(INDEX_DATA_STORE);
  }
}

let shared: Promise<MedRankDatabase> | null = null;

/** The shared connection (opened on first use; closed when another tab upgrades the schema). */
export function openMedRankDb(): Promise<MedRankDatabase> {
  if (!shared) {
    const p = openDB<MedRankDB>(DB_NAME, DB_VERSION, {
      upgrade: (db, oldVersion) => upgradeDb(db, oldVersion),
      blocking: () => closeMedRankDb(),
      terminated: () => {
        if (shared === p) shared = null;
      },
    });
    shared = p;
    p.catch(() => {
      if (shared === p) shared = null;
    });
  }
  return shared;
}

/** Close the shared connection; the next call opens a fresh one. */
export function closeMedRankDb(): void {
  const p = shared;
  shared = null;
  void p?.then((db) => db.close()).catch(() => {});
}

/** Where the database comes from (tests inject faulty ones). */
export interface DbOptions {
  open?: () => Promise<MedRankDatabase>;
}

const db = (opts: DbOptions): Promise<MedRankDatabase> => (opts.open ?? openMedRankDb)();

// ---- errors ------------------------------------------------------------------------------

/** The browser's storage quota could not take the index. */
export class IndexStorageFullError extends MedRankError {
  constructor(
    readonly bytesNeeded: number,
    usage: { usage?: number; quota?: number } | null,
  ) {
    const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;
    const had = usage?.quota !== undefined ? ` (this site uses ${mb(usage.usage ?? 0)} of its ${mb(usage.quota)} quota)` : '';
    super(
      `Saving the index needs ${mb(bytesNeeded)} of browser storage, more than is free${had}. Nothing was saved. ` +
        'Delete old indexes (or other saved data) and try again; the index stays usable until the page is closed.',
    );
  }
}

function isQuotaError(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'QuotaExceededError';
}

// ---- doors -------------------------------------------------------------------------------

/** Store an index (replacing one with the same key) in a single transaction. */
export async function saveIndex(index: ColbertIndex, opts: DbOptions = {}): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(index.key.weights))
    throw new MedRankError(
      'this index was re-projected without a new weights hash; call refreshIndex (or build it again) before saving it',
    );
  const [vectors, hidden] = await Promise.all([index.vectors.read(), index.hidden ? index.hidden.read() : null]);
  const data: IndexData = {
    docIds: index.docIds,
    offsets: index.offsets.slice().buffer,
    vectors: vectors.buffer as ArrayBuffer,
    hidden: hidden ? (hidden.buffer as ArrayBuffer) : null,
  };
  const bytes =
    data.offsets.byteLength +
    data.vectors.byteLength +
    (data.hidden?.byteLength ?? 0) +
    index.docIds.reduce((a, s) => a + 2 * s.length, 0);
  const meta: IndexMeta = {
    format: RECORD_FORMAT,
    key: { ...index.key },
    encoderHash: index.encoderHash,
    docs: index.docIds.length,
    tokens: index.offsets[index.offsets.length - 1]!,
    dim: index.dim,
    hiddenDim: index.hidden ? index.hidden.shape[1]! : 0,
    bytes,
    savedAt: Date.now(),
    buildMs: index.stats.buildMs,
  };
  await putRecord(keyString(index.key), meta, data, bytes, opts);
}

/**
 * An index's small record and its data under one id, in one transaction: the small record first,
 * so a failure on the large one takes it back with it. A full quota is IndexStorageFullError.
 */
async function putRecord(
  id: string,
  meta: IndexMeta,
  data: IndexData | CompressedRecord,
  bytes: number,
  opts: DbOptions,
): Promise<void> {
  const d = await db(opts);
  const tx = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readwrite');
  try {
    await tx.objectStore(INDEX_STORE).put(meta, id);
    await tx.objectStore(INDEX_DATA_STORE).put(data, id);
    await tx.done;
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // already aborted or finished
    }
    await tx.done.catch(() => {});
    if (isQuotaError(err) || isQuotaError(tx.error)) {
      const usage = await navigator.storage?.estimate?.().catch(() => null);
      throw new IndexStorageFullError(bytes, usage ?? null);
    }
    throw err;
  }
}

/** A stored index uploaded to GPU tensors, or null when there is none (or it is unreadable). */
export async function loadIndex(e: Engine, key: IndexKey, opts: DbOptions = {}): Promise<ColbertIndex | null> {
  const id = keyString(key);
  const d = await db(opts);
  const tx = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readonly');
  const [meta, data] = await Promise.all([tx.objectStore(INDEX_STORE).get(id), tx.objectStore(INDEX_DATA_STORE).get(id)]);
  await tx.done;
  if (!meta && !data) return null;
  const ok =
    meta &&
    data &&
    'vectors' in data &&
    meta.kind === undefined &&
    meta.format === RECORD_FORMAT &&
    data.docIds.length === meta.docs &&
    data.offsets.byteLength === (meta.docs + 1) * 4 &&
    new Int32Array(data.offsets)[meta.docs] === meta.tokens &&
    data.vectors.byteLength === meta.tokens * meta.dim * 4 &&
    (meta.hiddenDim === 0 ? data.hidden === null : data.hidden?.byteLength === meta.tokens * meta.hiddenDim * 4);
  if (!ok) {
    await deleteIndex(key, opts); // an old format or a damaged record: rebuilt by openIndex
    return null;
  }
  const upload = (buf: ArrayBuffer, cols: number): Tensor => {
    const t = e.empty([meta.tokens, cols]).keep();
    if (buf.byteLength > 0) e.gpu.write(t.buffer, new Float32Array(buf));
    return t;
  };
  const vectors = upload(data.vectors, meta.dim);
  let hidden: Tensor | null = null;
  try {
    hidden = data.hidden ? upload(data.hidden, meta.hiddenDim) : null;
  } catch (err) {
    vectors.dispose();
    throw err;
  }
  return makeIndex({
    key: { ...meta.key },
    encoderHash: meta.encoderHash,
    dim: meta.dim,
    docIds: data.docIds,
    offsets: new Int32Array(data.offsets),
    vectors,
    hidden,
    stats: { docs: meta.docs, tokens: meta.tokens, buildMs: meta.buildMs, fromCache: true },
  });
}

export async function deleteIndex(key: IndexKey, opts: DbOptions = {}): Promise<void> {
  const id = keyString(key);
  const d = await db(opts);
  const tx = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readwrite');
  await Promise.all([tx.objectStore(INDEX_STORE).delete(id), tx.objectStore(INDEX_DATA_STORE).delete(id), tx.done]);
}

export interface StoredIndexInfo {
  key: IndexKey;
  kind: 'exact' | 'compressed';
  docs: number;
  tokens: number;
  bytes: number;
  savedAt: number;
}

/** Every stored index, newest first (reads only the small records). */
export async function listIndexes(opts: DbOptions = {}): Promise<StoredIndexInfo[]> {
  const all = await (await db(opts)).getAll(INDEX_STORE);
  return all
    .map((m) => ({
      key: m.key,
      kind: m.kind ?? ('exact' as const),
      docs: m.docs,
      tokens: m.tokens,
      bytes: m.bytes,
      savedAt: m.savedAt,
    }))
    .sort((a, b) => b.savedAt - a.savedAt);
}

// ---- compressed indexes ---------------------------------------------------------------------

const compressedId = (k: IndexKey): string => `compressed:${keyString(k)}`;

/** Store a compressed index under `key` (replacing one), in one transaction as saveIndex does. */
export async function saveCompressedIndex(
  key: IndexKey,
  index: CompressedIndex,
  encoderHash: string,
  opts: DbOptions = {},
): Promise<void> {
  const rec = index.serialize();
  const bytes =
    rec.offsets.byteLength +
    rec.cids.byteLength +
    rec.codes.byteLength +
    rec.centroids.byteLength +
    rec.cutoffs.byteLength +
    rec.weights.byteLength +
    rec.docIds.reduce((a, s) => a + 2 * s.length, 0);
  const meta: IndexMeta = {
    format: RECORD_FORMAT,
    kind: 'compressed',
    key: { ...key },
    encoderHash,
    docs: rec.docs,
    tokens: rec.tokens,
    dim: rec.dim,
    hiddenDim: 0,
    bytes,
    savedAt: Date.now(),
    buildMs: rec.buildMs,
  };
  await putRecord(compressedId(key), meta, rec, bytes, opts);
}

/**
 * The compressed index stored under `key`, or null when there is none. A damaged, truncated or
 * foreign record is deleted and reads as none (the caller builds again).
 */
export async function loadCompressedIndex(e: Engine, key: IndexKey, opts: DbOptions = {}): Promise<CompressedIndex | null> {
  const id = compressedId(key);
  const d = await db(opts);
  const tx = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readonly');
  const [meta, data] = await Promise.all([tx.objectStore(INDEX_STORE).get(id), tx.objectStore(INDEX_DATA_STORE).get(id)]);
  await tx.done;
  if (!meta && !data) return null;
  const drop = async (): Promise<null> => {
    const w = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readwrite');
    await Promise.all([w.objectStore(INDEX_STORE).delete(id), w.objectStore(INDEX_DATA_STORE).delete(id), w.done]);
    return null;
  };
  if (!meta || meta.kind !== 'compressed' || meta.format !== RECORD_FORMAT || !data) return drop();
  try {
    return CompressedIndex.deserialize(e, data);
  } catch (err) {
    if (err instanceof CompressedIndexRecordError) return drop();
    throw err;
  }
}

export async function deleteCompressedIndex(key: IndexKey, opts: DbOptions = {}): Promise<void> {
  const id = compressedId(key);
  const d = await db(opts);
  const tx = d.transaction([INDEX_STORE, INDEX_DATA_STORE], 'readwrite');
  await Promise.all([tx.objectStore(INDEX_STORE).delete(id), tx.objectStore(INDEX_DATA_STORE).delete(id), tx.done]);
}
