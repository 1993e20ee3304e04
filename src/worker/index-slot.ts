// The worker's ColBERT index and every decision about its life, in one place: which retriever it
// was built with (an index from another retriever serves nothing), dropped with a new corpus,
// replaced by a build, and dropped when the retriever's weights move (a run trained it, the models
// were reset to their checkpoints). A moved retriever's index is wanted back: the engine reopens
// it when next needed (from IndexedDB when those weights were indexed before, else built), saying
// why, rather than re-encoding every passage at the end of each run.

import type { Retriever } from '../models/retriever';
import type { ColbertIndex } from '../retrieval/index';

export class IndexSlot {
  private index: ColbertIndex | null = null;
  private builtWith: Retriever | null = null;
  /** An index of this corpus was built and the retriever has moved since: the next use rebuilds it. */
  private moved = false;

  /** The index, whoever built it (tests, and to say why it cannot be used). */
  get current(): ColbertIndex | null {
    return this.index;
  }

  /** The index if retriever `r` built it, else null. */
  for(r: Retriever | null): ColbertIndex | null {
    return this.index && r && this.builtWith === r ? this.index : null;
  }

  /** True when there is no index for the retriever only because its weights moved since one was built. */
  get wanted(): boolean {
    return this.moved && !this.index;
  }

  /** Why there is no index for `r` ('' when there is one). */
  missingFor(r: Retriever | null): string {
    if (this.for(r)) return '';
    return this.index
      ? 'the index was built with another retriever: build the index again with the loaded one first'
      : 'no index: build the index (Data and index) with the loaded retriever first';
  }

  /** A fresh index built by `r`; the one before it is freed. */
  set(index: ColbertIndex, r: Retriever): void {
    if (this.index !== index) this.index?.dispose();
    this.index = index;
    this.builtWith = r;
    this.moved = false;
  }

  /** Free the index (idempotent). */
  drop(): void {
    this.index?.dispose();
    this.index = null;
    this.builtWith = null;
    this.moved = false;
  }

  /** A new corpus was loaded: an index belongs to one corpus. */
  onDataset(): void {
    this.drop();
  }

  /**
   * The retriever's weights moved (a run trained it, a reset put it back): its index no longer
   * ranks by them. Freed (with `runIndex`, the one a run's refresh made, when it is another) and
   * wanted back: the next search, evaluation or run reopens it for the weights as they are then.
   */
  retrieverMoved(runIndex: ColbertIndex | null = null): void {
    const had = this.index !== null || runIndex !== null || this.moved;
    if (runIndex && runIndex !== this.index) runIndex.dispose();
    this.drop();
    this.moved = had;
  }
}
