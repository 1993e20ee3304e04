// Questions and passages of a loaded dataset by id, as the inspector and the step explainer ask
// for them: each question with the options it is scored over and the split a run with a seed
// gives it, each passage's text, and the ids the dataset does not have.

import type { Dataset, Passage, Question, QuestionSplit } from '../data/datasets';
import { optionsOf } from './prompts';
import { splitOf } from './run';

export interface LookupQuestion {
  id: string;
  question: string;
  /** The options the question is scored over (multiple choice, or yes/no/maybe); null when open. */
  options: string[] | null;
  answer: string;
  goldDocIds: string[];
  /** The split a run with the request's seed gives it (splitOf). */
  split: QuestionSplit;
}

export interface LookupDoc {
  id: string;
  title: string | null;
  text: string;
}

export interface LookupResult {
  /** The questions found, in the order asked. */
  questions: LookupQuestion[];
  /** The passages found, in the order asked. */
  docs: LookupDoc[];
  /** Ids asked for (questions first, then documents) that the loaded dataset does not have. */
  missing: string[];
}

/** One dataset's questions and passages by id (built once per dataset). */
export class DatasetTables {
  readonly questions: Map<string, Question>;
  readonly passages: Map<string, Passage>;

  constructor(readonly dataset: Dataset) {
    this.questions = new Map(dataset.questions.map((q) => [q.id, q]));
    this.passages = new Map(dataset.passages.map((p) => [p.id, p]));
  }

  lookup(p: { questionIds: string[]; docIds: string[]; seed?: number }): LookupResult {
    const seed = p.seed ?? 0;
    const out: LookupResult = { questions: [], docs: [], missing: [] };
    for (const id of p.questionIds) {
      const q = this.questions.get(id);
      if (!q) {
        out.missing.push(id);
        continue;
      }
      out.questions.push({
        id: q.id,
        question: q.question,
        options: optionsOf(q)?.options ?? null,
        answer: q.answer,
        goldDocIds: [...q.goldDocIds],
        split: splitOf(q, seed),
      });
    }
    for (const id of p.docIds) {
      const d = this.passages.get(id);
      if (d) out.docs.push({ id: d.id, title: d.title ?? null, text: d.text });
      else out.missing.push(id);
    }
    return out;
  }
}
