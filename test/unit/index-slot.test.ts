// The worker's index lifecycle (src/worker/index-slot.ts): which retriever an index serves, and
// what a new corpus, a build and a moved retriever do to it; every index it lets go
// of is freed exactly once.
import { describe, expect, it } from 'vitest';
import type { ColbertRetriever } from '../../src/models/colbert';
import type { ColbertIndex } from '../../src/retrieval/index';
import { IndexSlot } from '../../src/worker/index-slot';

const retriever = (): ColbertRetriever => ({}) as ColbertRetriever;
function index(name: string, freed: string[]): ColbertIndex {
  return { dispose: () => freed.push(name) } as unknown as ColbertIndex;
}

describe('IndexSlot', () => {
  it('serves only the retriever that built it, and says why not otherwise', () => {
    const freed: string[] = [];
    const slot = new IndexSlot();
    const r1 = retriever(),
      r2 = retriever();
    expect(slot.for(r1)).toBeNull();
    expect(slot.missingFor(r1)).toMatch(/^no index: build the index/);
    const a = index('a', freed);
    slot.set(a, r1);
    expect(slot.for(r1)).toBe(a);
    expect(slot.missingFor(r1)).toBe('');
    expect(slot.for(r2)).toBeNull();
    expect(slot.for(null)).toBeNull();
    expect(slot.missingFor(r2)).toMatch(/built with another retriever/);
    // A rebuild frees the old one; setting the same index again frees nothing.
    const b = index('b', freed);
    slot.set(b, r2);
    slot.set(b, r2);
    expect(freed).toEqual(['a']);
    slot.onDataset();
    expect(slot.current).toBeNull();
    expect(freed).toEqual(['a', 'b']);
    slot.drop();
    expect(freed).toEqual(['a', 'b']);
  });

  it('a moved retriever frees the index (and a refresh index) once, and wants it back until a build', () => {
    const freed: string[] = [];
    const slot = new IndexSlot();
    const r = retriever();
    expect(slot.wanted).toBe(false);
    // Nothing was built: a moved retriever wants nothing back (the user builds the first index).
    slot.retrieverMoved();
    expect(slot.wanted).toBe(false);
    const a = index('a', freed);
    slot.set(a, r);
    // The run refreshed the index (the trainer made `refreshed`): both are let go of.
    slot.retrieverMoved(index('refreshed', freed));
    expect(slot.current).toBeNull();
    expect(slot.for(r)).toBeNull();
    expect(slot.wanted).toBe(true);
    expect(freed.sort()).toEqual(['a', 'refreshed']);
    // Moving again frees nothing more and still wants it; a build satisfies it.
    slot.retrieverMoved();
    expect(freed).toHaveLength(2);
    expect(slot.wanted).toBe(true);
    const b = index('b', freed);
    slot.set(b, r);
    expect(slot.wanted).toBe(false);
    expect(slot.for(r)).toBe(b);
    // The run's index is the slot's own (no refresh): freed once.
    slot.retrieverMoved(b);
    expect(freed.filter((n) => n === 'b')).toHaveLength(1);
    // A new corpus: nothing of the old one is wanted.
    slot.onDataset();
    expect(slot.wanted).toBe(false);
  });
});
