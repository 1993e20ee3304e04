// BMRetriever's first stage, unsupervised contrastive pretraining on the corpus: each step's
// "questions" are pseudo-queries made from passages, and each one's positive is (what is left of)
// its passage. 'title': the title is the query, the text without the title the positive. 'ict'
// (inverse cloze, Lee et al. 2019): one sentence of the passage is the query, the passage without
// that sentence the positive. No label is read, so the whole corpus may be used; the questions'
// splits are untouched. Every choice is seeded by (seed, step): a resumed run draws the same pairs.

import type { Passage, Question } from '../data/datasets';
import { mulberry32 } from '../tensor';
import type { PretrainPairs } from './config';

/** A pseudo-query's record id names its passage (the step record's id field). */
export const pretrainId = (mode: PretrainPairs, passageId: string): string => `${mode}:${passageId}`;

/** Sentences of a text: split after . ! ? followed by whitespace (abbreviations may split too; pairs stay usable). */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The passages that can make a pair: a non-empty title for 'title', two sentences or more for 'ict'. */
export function pairablePassages(passages: readonly Passage[], mode: PretrainPairs): Passage[] {
  if (mode === 'title') return passages.filter((p) => (p.title ?? '').trim().length > 0 && p.text.trim().length > 0);
  if (mode === 'ict') return passages.filter((p) => sentences(p.text).length >= 2);
  return [];
}

export interface PretrainBatch {
  /** Pseudo-questions: the query text, the passage as the only gold. */
  questions: Question[];
  /** What each positive is encoded as (passage id -> text), in place of the indexed passage's text. */
  positives: Map<string, string>;
}

/** The pairs of step t: B passages of a seeded per-epoch order over `pool`, each made into a pair. */
export function pretrainBatch(pool: readonly Passage[], mode: PretrainPairs, seed: number, t: number, B: number): PretrainBatch {
  const perEpoch = Math.floor(pool.length / B);
  if (perEpoch < 1) throw new Error(`internal: ${pool.length} pairable passages cannot fill a batch of ${B}`);
  const epoch = Math.floor(t / perEpoch);
  const order = pool.map((_, i) => i);
  const shuffle = mulberry32((seed ^ 0x5bd1e995 ^ Math.imul(epoch + 1, 0x27d4eb2f)) >>> 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const pick = mulberry32((seed ^ Math.imul(t + 1, 0x85ebca6b)) >>> 0);
  const at = (t % perEpoch) * B;
  const questions: Question[] = [];
  const positives = new Map<string, string>();
  for (const i of order.slice(at, at + B)) {
    const p = pool[i]!;
    let query: string, positive: string;
    if (mode === 'title') {
      query = p.title!.trim();
      positive = p.text;
    } else {
      const ss = sentences(p.text);
      const k = Math.floor(pick() * ss.length);
      query = ss[k]!;
      positive = ss.filter((_, j) => j !== k).join(' ');
      if (p.title) positive = `${p.title} ${positive}`;
    }
    questions.push({ id: pretrainId(mode, p.id), question: query, kind: 'open', answer: '', goldDocIds: [p.id] });
    positives.set(p.id, positive);
  }
  return { questions, positives };
}
