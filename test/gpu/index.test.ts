// The ColBERT index (src/retrieval/index.ts, index-db.ts) on the tiny-colbert fixture: batched
// building equals encoding the corpus at once, search equals brute force, cancel frees
// everything, re-projection equals a rebuild, and persistence in IndexedDB.
//
// A true page reload is not possible inside vitest's browser mode (the runner lives in the page).
// The reload is simulated as closely as the page allows: the index is disposed (its GPU tensors
// freed), the IndexedDB connection is closed, and a fresh connection and a second Engine (a new
// upload) load it back; the encoder is spied on to show nothing is re-encoded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Passage } from '../../src/data/datasets';
import type { ColbertRetriever } from '../../src/models/colbert';
import { loadColbert } from '../../src/models/load';
import {
  buildIndex,
  closeMedRankDb,
  corpusHash,
  deleteIndex,
  IndexBuildCancelledError,
  IndexStaleError,
  IndexStorageFullError,
  listIndexes,
  loadIndex,
  openIndex,
  refreshIndex,
  reproject,
  saveIndex,
  searchIndex,
  weightsHash,
  type BuildProgress,
} from '../../src/retrieval/index';
import { INDEX_DATA_STORE, openMedRankDb, type MedRankDatabase } from '../../src/retrieval/index-db';
import { Engine } from '../../src/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { fixtureFiles } from './fixtures';

afterAll(() => {
  closeMedRankDb();
  destroyEngine();
});

const WORDS =
  'fever pain chest heart blood pressure sugar diabetes insulin cancer tumor lung liver kidney brain infection virus bacteria antibiotic dose drug treatment therapy symptom cough asthma stroke surgery vaccine'.split(
    ' ',
  );

/** 30 short passages from the fixture's vocabulary, some with punctuation and titles. */
function corpus(n = 30): Passage[] {
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from({ length: 3 + (i % 7) }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]!);
    return {
      id: `doc-${i}`,
      title: i % 4 === 0 ? `${WORDS[i % WORDS.length]} treatment` : undefined,
      text: `the ${words.join(' ')}${i % 3 === 0 ? ', and the patient.' : ''}`,
    };
  });
}

const text = (p: Passage): string => (p.title ? `${p.title} ${p.text}` : p.text);
const QUERIES = [
  'what is the cause of fever',
  'insulin and blood sugar',
  'lung cancer therapy',
  'heart stroke risk',
  'drug dose',
];

async function retriever(): Promise<ColbertRetriever> {
  return loadColbert(await getEngine(), await fixtureFiles('tiny-colbert'));
}

async function clearDb(): Promise<void> {
  for (const s of await listIndexes()) await deleteIndex(s.key);
}

beforeAll(async () => {
  await clearDb();
});

describe('buildIndex', () => {
  it('batched building equals encodeDocs on the whole corpus; progress is monotonic', async () => {
    const e = await getEngine();
    const r = await retriever();
    const passages = corpus();
    const events: BuildProgress[] = [];
    const index = await buildIndex(r, passages, { batchSize: 3, onProgress: (p) => events.push(p) });
    const ref = e.noGrad(() => r.encodeDocs(passages.map(text)));
    expect(Array.from(index.offsets)).toEqual(Array.from(ref.offsets));
    expect(index.vectors.shape).toEqual([ref.offsets[passages.length]!, r.dim]);
    expectClose(await index.vectors.read(), await ref.vectors.read(), { atol: 1e-5 }, 'batched vs whole');
    expect(index.docIds).toEqual(passages.map((p) => p.id));
    expect(index.stats).toMatchObject({ docs: 30, tokens: ref.offsets[30], fromCache: false });
    expect(events.length).toBe(10);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.done).toBeGreaterThan(events[i - 1]!.done);
      expect(events[i]!.tokens).toBeGreaterThan(events[i - 1]!.tokens);
    }
    expect(events.at(-1)).toEqual({ done: 30, total: 30, tokens: index.stats.tokens });
    console.log(
      `index of ${index.stats.docs} docs, ${index.stats.tokens} tokens: ${index.stats.buildMs.toFixed(0)} ms (batch 3)`,
    );
    const t0 = performance.now();
    (await buildIndex(r, passages)).dispose();
    console.log(`same corpus at batch 16: ${(performance.now() - t0).toFixed(0)} ms`);
    ref.vectors.dispose();
    index.dispose();
    r.encoder.dispose();
  });

  it('searchIndex returns the brute-force top-k (ids and scores)', async () => {
    const e = await getEngine();
    const r = await retriever();
    const passages = corpus();
    const index = await buildIndex(r, passages, { batchSize: 7 });
    const k = 5;
    const got = await searchIndex(index, r, QUERIES, k);
    const q = e.noGrad(() => r.encodeQueries(QUERIES));
    const all = await r.score(q, { vectors: index.vectors, offsets: index.offsets }).read();
    const whole = e.noGrad(() => r.encodeDocs(passages.map(text)));
    const allWhole = await r.score(q, whole).read();
    const N = passages.length;
    for (let b = 0; b < QUERIES.length; b++) {
      const row = Array.from(all.subarray(b * N, (b + 1) * N));
      const order = row.map((s, n) => ({ s, n })).sort((x, y) => y.s - x.s || x.n - y.n);
      expect(got.ids[b]).toEqual(order.slice(0, k).map((o) => passages[o.n]!.id));
      expect(got.scores[b]).toEqual(order.slice(0, k).map((o) => o.s));
      // The same scores as the corpus encoded at once, within f32 noise.
      expectClose(
        got.scores[b]!,
        order.slice(0, k).map((o) => allWhole[b * N + o.n]!),
        { atol: 1e-5 },
        `query ${b}`,
      );
    }
    // k above N is capped at N.
    const few = await buildIndex(r, passages.slice(0, 3));
    expect((await searchIndex(few, r, QUERIES.slice(0, 1), 10)).ids[0]!.length).toBe(3);
    few.dispose();
    whole.vectors.dispose();
    q.dispose();
    index.dispose();
    r.encoder.dispose();
  });

  it('an abort after the first batch rejects with IndexBuildCancelledError and frees everything', async () => {
    const e = await getEngine();
    const r = await retriever();
    const passages = corpus();
    (await buildIndex(r, passages.slice(0, 4), { batchSize: 3, keepHidden: true })).dispose(); // pipelines, spares
    const live = e.gpu.pool.liveCount;
    const ctl = new AbortController();
    let events = 0;
    const p = buildIndex(r, passages, {
      batchSize: 3,
      keepHidden: true,
      signal: ctl.signal,
      onProgress: () => {
        events++;
        ctl.abort();
      },
    });
    await expect(p).rejects.toThrow(IndexBuildCancelledError);
    await expect(p).rejects.toThrow(/cancelled after 3 of 30 documents/);
    expect(events).toBe(1);
    expect(e.gpu.pool.liveCount).toBe(live);
    r.encoder.dispose();
  });
});

describe('refresh by re-projection', () => {
  it('reproject after a projection change equals a fresh build; an encoder change needs a rebuild', async () => {
    const e = await getEngine();
    const r = await retriever();
    const passages = corpus(20);
    const index = await buildIndex(r, passages, { batchSize: 6, keepHidden: true });
    expect(index.hidden!.shape).toEqual([index.stats.tokens, r.encoder.config.hiddenSize]);
    const oldKey = index.key;
    e.gpu.write(r.projection.buffer, randn(r.projection.size, 11, 0.3));
    await refreshIndex(index, r);
    const fresh = await buildIndex(r, passages, { batchSize: 6 });
    expectClose(await index.vectors.read(), await fresh.vectors.read(), { atol: 1e-5 }, 'reprojected vs rebuilt');
    expect(index.key).toEqual(fresh.key);
    expect(index.key.weights).not.toBe(oldKey.weights);
    // The plain reproject also works, but leaves the index without a valid weights hash: not saveable.
    reproject(index, r);
    expectClose(await index.vectors.read(), await fresh.vectors.read(), { atol: 1e-5 }, 'reproject again');
    await expect(saveIndex(index)).rejects.toThrow(/refreshIndex/);
    // No encoder states: a clear error.
    expect(() => reproject(fresh, r)).toThrow(IndexStaleError);
    // An encoder weight changed (as LoRA or full training would): refreshIndex refuses.
    const ln = r.encoder.layers[0]!.ln1[0];
    e.gpu.write(ln.buffer, randn(ln.size, 5, 1));
    await expect(refreshIndex(index, r)).rejects.toThrow(/encoder changed/);
    fresh.dispose();
    index.dispose();
    r.encoder.dispose();
  });
});

describe('persistence in IndexedDB', () => {
  it('hashes: the corpus hash is order-sensitive; the weights hash follows the weights', async () => {
    const e = await getEngine();
    const r = await retriever();
    const p = corpus(5);
    const h = await corpusHash(p);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await corpusHash(corpus(5))).toBe(h);
    expect(await corpusHash([p[1]!, p[0]!, ...p.slice(2)])).not.toBe(h);
    expect(await corpusHash([{ ...p[0]!, title: 'x' }, ...p.slice(1)])).not.toBe(h);
    const w = await weightsHash(r);
    expect(await weightsHash(await retriever())).toBe(w);
    e.gpu.write(r.projection.buffer, randn(r.projection.size, 1, 0.3));
    expect(await weightsHash(r)).not.toBe(w);
    r.encoder.dispose();
  });

  it('an index saved, then loaded after a simulated reload, is the same and is not re-encoded', async () => {
    const e = await getEngine();
    const r = await retriever();
    const passages = corpus();
    await clearDb();
    const built = await openIndex(r, passages, { batchSize: 8, keepHidden: true });
    expect(built.stats.fromCache).toBe(false);
    expect(built.stats.saveError).toBeUndefined();
    const key = built.key;
    const vectors = await built.vectors.read();
    const hidden = await built.hidden!.read();
    const offsets = Array.from(built.offsets);
    const listed = await listIndexes();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key, docs: 30, tokens: built.stats.tokens });
    expect(listed[0]!.bytes).toBeGreaterThan(vectors.byteLength + hidden.byteLength);

    // "Reload": free the GPU copy, drop the connection, open everything fresh.
    const live = e.gpu.pool.liveCount;
    built.dispose();
    expect(e.gpu.pool.liveCount).toBe(live - 2);
    closeMedRankDb();
    let forwards = 0;
    const forward = r.encoder.forward.bind(r.encoder);
    r.encoder.forward = (...a) => (forwards++, forward(...a));

    const e2 = new Engine(e.gpu);
    const loaded = await loadIndex(e2, key);
    expect(loaded).not.toBeNull();
    expect(loaded!.vectors.engine).toBe(e2);
    expect(loaded!.docIds).toEqual(passages.map((p) => p.id));
    expect(Array.from(loaded!.offsets)).toEqual(offsets);
    expectClose(await loaded!.vectors.read(), vectors, { atol: 0 }, 'loaded vectors');
    expectClose(await loaded!.hidden!.read(), hidden, { atol: 0 }, 'loaded hidden');
    expect(loaded!.stats).toMatchObject({ docs: 30, tokens: offsets[30], fromCache: true });
    loaded!.dispose();

    closeMedRankDb();
    const opened = await openIndex(r, passages, { batchSize: 8 });
    expect(opened.stats.fromCache).toBe(true);
    expect(forwards).toBe(0);
    expectClose(await opened.vectors.read(), vectors, { atol: 0 }, 'openIndex vectors');
    const s = await searchIndex(opened, r, QUERIES.slice(0, 2), 3);
    expect(s.ids[0]).toHaveLength(3);
    opened.dispose();
    forwards = 0;

    // A different corpus, or another head version, is a miss.
    const other = corpus();
    other[7] = { ...other[7]!, text: `${other[7]!.text} fever` };
    expect(await loadIndex(e, { ...key, corpus: await corpusHash(other) })).toBeNull();
    expect(await loadIndex(e, { ...key, head: 1 })).toBeNull();
    const miss = await openIndex(r, passages, { head: 1, save: false });
    expect(miss.stats.fromCache).toBe(false);
    expect(forwards).toBeGreaterThan(0);
    miss.dispose();

    await deleteIndex(key);
    expect(await listIndexes()).toEqual([]);
    expect(await loadIndex(e, key)).toBeNull();
    r.encoder.dispose();
  });

  it('a full quota gives IndexStorageFullError and leaves nothing behind', async () => {
    const r = await retriever();
    await clearDb();
    const index = await buildIndex(r, corpus(10));
    // The real database, whose index-data put fails as a full quota makes it fail; the small
    // record, written first in the same transaction, must be rolled back with it.
    const wrap = <T extends object>(target: T, over: Record<string | symbol, unknown>): T =>
      new Proxy(target, {
        get(t, p) {
          if (p in over) return over[p];
          const v = Reflect.get(t, p) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    const open = async (): Promise<MedRankDatabase> => {
      const db = await openMedRankDb();
      return wrap(db, {
        transaction: (...a: Parameters<MedRankDatabase['transaction']>) => {
          const tx = db.transaction(...a);
          return wrap(tx, {
            objectStore: (name: string) => {
              const store = tx.objectStore(name as never);
              if (name !== INDEX_DATA_STORE) return store;
              return wrap(store, {
                put: () => Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError')),
              });
            },
          });
        },
      });
    };
    const err = await saveIndex(index, { open }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(IndexStorageFullError);
    expect((err as Error).message).toMatch(/needs [\d.]+ MB of browser storage.*Delete old indexes/);
    expect((err as IndexStorageFullError).bytesNeeded).toBeGreaterThan(index.stats.tokens * r.dim * 4 - 1);
    expect(await listIndexes()).toEqual([]);
    expect(await loadIndex(await getEngine(), index.key)).toBeNull();
    // openIndex keeps the built index when only the save failed.
    const kept = await openIndex(r, corpus(10), { open });
    expect(kept.stats.saveError).toBeInstanceOf(IndexStorageFullError);
    expect(kept.stats.fromCache).toBe(false);
    kept.dispose();
    // The real database works.
    await saveIndex(index);
    expect(await listIndexes()).toHaveLength(1);
    await deleteIndex(index.key);
    index.dispose();
    r.encoder.dispose();
  });
});
