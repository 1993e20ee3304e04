// The worker's index lifecycle (src/worker/index-slot.ts): which retriever an index serves, and
// what a new corpus, a build, a failed run and a finished run do to it; every index it lets go
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

  it('a failed run drops the index unless the retriever was frozen', () => {
    for (const [schedule, kept] of [
      ['frozen-retriever', true],
      ['synchronous', false],
      ['staged', false],
      ['retriever-only', false],
    ] as const) {
      const freed: string[] = [];
      const slot = new IndexSlot();
      slot.set(index('a', freed), retriever());
      slot.afterFailedRun(schedule);
      expect(slot.current !== null, schedule).toBe(kept);
      expect(freed, schedule).toEqual(kept ? [] : ['a']);
    }
  });

  it('a finished run: untrained retriever keeps the index; trained one rebuilds it and frees a refresh index too', async () => {
    const freed: string[] = [];
    const slot = new IndexSlot();
    const r = retriever();
    const a = index('a', freed);
    slot.set(a, r);
    let builds = 0;
    const rebuild = async (): Promise<ColbertIndex> => index(`fresh${++builds}`, freed);
    expect(await slot.afterRun({ trainedRetriever: false, runIndex: a, retriever: r, rebuild })).toBeNull();
    expect(slot.for(r)).toBe(a);
    expect(builds).toBe(0);
    // The run refreshed the index (the trainer made `refreshed` and freed nothing of ours).
    const refreshed = index('refreshed', freed);
    const fresh = await slot.afterRun({ trainedRetriever: true, runIndex: refreshed, retriever: r, rebuild });
    expect(fresh).not.toBeNull();
    expect(slot.for(r)).toBe(fresh);
    expect(freed.sort()).toEqual(['a', 'refreshed']);
  });
});
