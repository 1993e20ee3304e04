// The `texts` slice: question and passage texts the inspector shows beside a run's records
// (records keep ids only), fetched from the loaded dataset in the worker and cached; and MaxSim
// explanations (which query token matched which document token) for the loaded retriever. Ids
// the loaded dataset does not have (a run imported from another corpus) are remembered as missing,
// so the inspector can say so instead of asking again or failing.

import type { StateCreator } from 'zustand';
import type { LookupResult, MaxSimExplanation } from '../worker/protocol';
import { engineClient } from './engine';
import type { AppState } from './index';

export type QuestionText = LookupResult['questions'][number];
export type DocText = LookupResult['docs'][number];

export interface TextsSlice {
  texts: {
    questions: Record<string, QuestionText>;
    docs: Record<string, DocText>;
    /** By `${query}\u0000${docId}`, for the retriever loaded when it was asked. */
    maxsim: Record<string, MaxSimExplanation>;
    /** Ids asked for that the loaded dataset does not have. */
    missing: { questions: Record<string, true>; docs: Record<string, true> };
    error: string | null;
  };
  /** Fetch what is not cached yet; a no-op without a dataset (the view shows ids then). */
  lookupTexts: (questionIds: string[], docIds: string[]) => Promise<void>;
  explainMaxSim: (query: string, docId: string) => Promise<MaxSimExplanation | null>;
  /** Forget cached texts (a new dataset) or token matches (the retriever changed or trained). */
  clearTexts: (what: 'all' | 'maxsim') => void;
}

/**
 * The texts by id are keyed by ids from the user's dataset: kept in objects without a prototype,
 * so an id like "toString" or "constructor" reads as absent, not as Object.prototype's member.
 */
const dict = <T>(...parts: Record<string, T>[]): Record<string, T> => Object.assign(Object.create(null), ...parts);
const empty = (): TextsSlice['texts'] => ({
  questions: dict<QuestionText>(),
  docs: dict<DocText>(),
  maxsim: dict<MaxSimExplanation>(),
  missing: { questions: dict<true>(), docs: dict<true>() },
  error: null,
});

export const maxsimKey = (query: string, docId: string): string => `${query}\u0000${docId}`;

export const createTextsSlice: StateCreator<AppState, [], [], TextsSlice> = (set, get) => ({
  texts: empty(),
  lookupTexts: async (questionIds, docIds) => {
    const t = get().texts;
    const qs = questionIds.filter((id) => !t.questions[id] && !t.missing.questions[id]);
    const ds = docIds.filter((id) => !t.docs[id] && !t.missing.docs[id]);
    if ((!qs.length && !ds.length) || get().data.status !== 'ready') return;
    try {
      const r = await engineClient().lookup({ questionIds: qs, docIds: ds });
      const foundQ = new Set(r.questions.map((q) => q.id));
      const foundD = new Set(r.docs.map((d) => d.id));
      const none = (ids: string[], found: Set<string>): Record<string, true> =>
        Object.fromEntries(ids.filter((id) => !found.has(id)).map((id) => [id, true] as const));
      set((s) => ({
        texts: {
          ...s.texts,
          error: null,
          questions: dict(s.texts.questions, Object.fromEntries(r.questions.map((q) => [q.id, q]))),
          docs: dict(s.texts.docs, Object.fromEntries(r.docs.map((d) => [d.id, d]))),
          missing: {
            questions: dict(s.texts.missing.questions, none(qs, foundQ)),
            docs: dict(s.texts.missing.docs, none(ds, foundD)),
          },
        },
      }));
    } catch (err) {
      set((s) => ({ texts: { ...s.texts, error: (err as Error).message } }));
    }
  },
  clearTexts: (what) =>
    set((s) => ({
      texts: what === 'all' ? empty() : { ...s.texts, maxsim: dict<MaxSimExplanation>() },
    })),
  explainMaxSim: async (query, docId) => {
    const key = maxsimKey(query, docId);
    const have = get().texts.maxsim[key];
    if (have) return have;
    if (get().texts.missing.docs[docId]) return null; // not in the loaded dataset: the inspector says so
    try {
      const ex = await engineClient().maxsim({ query, docId });
      set((s) => ({ texts: { ...s.texts, error: null, maxsim: dict(s.texts.maxsim, { [key]: ex }) } }));
      return ex;
    } catch (err) {
      set((s) => ({ texts: { ...s.texts, error: (err as Error).message } }));
      return null;
    }
  },
});
