// The one door to IndexedDB's wrapper (npm `idb`): the ColBERT index cache (retrieval/index-db.ts)
// and the notebook store (notebook/db.ts) both open their databases through what this exports.

export { openDB, wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
