// The worker's ColBERT index and every decision about its life, in one place: which retriever it
// was built with (an index from another retriever serves nothing), dropped with a new corpus,
// replaced by a build, dropped when a failed run may have moved the retriever, and rebuilt with
// the trained retriever after a run that trained it (a refresh's index inside the run is freed).

import type { ColbertRetriever } from '../models/colbert';
import type { ColbertIndex } from '../retrieval/index';
import type { Schedule } from '../training/config';

export class IndexSlot {
  private index: ColbertIndex | null = null;
  private builtWith: ColbertRetriever | null = null;

  /** The index, whoever built it (tests, and to say why it cannot be used). */
  get current(): ColbertIndex | null {
    return this.index;
  }

  /** The index if retriever `r` built it, else null. */
  for(r: ColbertRetriever | null): ColbertIndex | null {
    return this.index && r && this.builtWith === r ? this.index : null;
  }

  /** Why there is no index for `r` ('' when there is one). */
  missingFor(r: ColbertRetriever | null): string {
    if (this.for(r)) return '';
    return this.index
      ? 'the index was built with another retriever: build the index again with the loaded one first'
      : 'no index: build the index (Data and index) with the loaded retriever first';
  }

  /** A fresh index built by `r`; the one before it is freed. */
  set(index: ColbertIndex, r: ColbertRetriever): void {
    if (this.index !== index) this.index?.dispose();
    this.index = index;
    this.builtWith = r;
  }

  /** Free the index (idempotent). */
  drop(): void {
    this.index?.dispose();
    this.index = null;
    this.builtWith = null;
  }

  /** A new corpus was loaded: an index belongs to one corpus. */
  onDataset(): void {
    this.drop();
  }

  /**
   * A run failed after it started: steps before the failure may have moved the retriever, and a
   * refresh frees the index it replaces, so unless the retriever was frozen the index cannot be trusted.
   */
  afterFailedRun(schedule: Schedule): void {
    if (schedule !== 'frozen-retriever') this.drop();
  }

  /**
   * A run finished. If the retriever trained, the index (and any the trainer made on a refresh,
   * `runIndex`) is replaced by `rebuild()` with the trained retriever, so search and the next run
   * start from it; returns the new index, or null when the old one still holds.
   */
  async afterRun(o: {
    trainedRetriever: boolean;
    runIndex: ColbertIndex;
    retriever: ColbertRetriever;
    rebuild: () => Promise<ColbertIndex>;
  }): Promise<ColbertIndex | null> {
    if (!o.trainedRetriever) return null;
    if (o.runIndex !== this.index) o.runIndex.dispose(); // a refresh's index: not ours to keep
    this.drop();
    const fresh = await o.rebuild();
    this.set(fresh, o.retriever);
    return fresh;
  }
}
