// The generator's inputs: "context: <doc> <doc> question: <q> answer:" then " <answer>" + EOS.
// Documents are tokenized once each and cut to docMaxTokens; prompts are built from token ids, so
// the k-th document costs the same tokens in every prompt it appears in.
// Options to score: a multiple-choice question's option texts; yes/no/maybe's three words.

import { YES_NO_MAYBE, type Passage, type Question } from '../data/datasets';
import type { AnswerExample, Generator } from '../models/generator';
import { ConfigError } from './config';

export class PromptBuilder {
  private readonly docCache = new Map<string, number[]>();
  private readonly bos: number[];
  private readonly contextIds: number[];

  constructor(
    readonly generator: Generator,
    private readonly passages: ReadonlyMap<string, Passage>,
    readonly docMaxTokens: number,
  ) {
    const tok = generator.tokenizer;
    const withSpecial = tok.encode('a');
    const plain = tok.encode('a', { addSpecialTokens: false });
    // The special tokens the tokenizer puts before a text (BOS for Llama-family tokenizers).
    const at = withSpecial.indexOf(plain[0]!);
    this.bos = at > 0 ? withSpecial.slice(0, at) : [];
    this.contextIds = this.text('context:');
  }

  private text(s: string): number[] {
    return this.generator.tokenizer.encode(s, { addSpecialTokens: false });
  }

  docTokens(id: string): number[] {
    let ids = this.docCache.get(id);
    if (!ids) {
      const p = this.passages.get(id);
      if (!p) throw new ConfigError('data', `passage "${id}" is not in the corpus the run was given`);
      ids = this.text(` ${p.title ? `${p.title}. ` : ''}${p.text}`).slice(0, this.docMaxTokens);
      this.docCache.set(id, ids);
    }
    return ids;
  }

  /** Prompt ids: BOS, then the documents (if any) as context, then the question. */
  prompt(q: Question, docIds: readonly string[]): number[] {
    const ctx = docIds.length ? [...this.contextIds, ...docIds.flatMap((d) => this.docTokens(d))] : [];
    return [...this.bos, ...ctx, ...this.text(`${docIds.length ? ' ' : ''}question: ${q.question} answer:`)];
  }

  answer(text: string): number[] {
    return this.generator.encodeAnswer(` ${text}`);
  }

  example(q: Question, docIds: readonly string[]): AnswerExample {
    return { prompt: this.prompt(q, docIds), answer: this.answer(q.answer) };
  }
}

/** The answer options a question is scored over (null for open questions). */
export function optionsOf(q: Question): { options: string[]; gold: number } | null {
  if (q.kind === 'multiple-choice' && q.options && q.answerIndex !== undefined)
    return { options: q.options, gold: q.answerIndex };
  if (q.kind === 'yes-no-maybe' && q.answerIndex !== undefined) return { options: [...YES_NO_MAYBE], gold: q.answerIndex };
  return null;
}

/**
 * Answer NLLs of many examples without gradient, `chunk` sequences per forward (memory stays
 * bounded however many documents and options an evaluation scores).
 */
export async function nllMany(
  g: Generator,
  examples: AnswerExample[],
  chunk = 16,
): Promise<{ sum: Float64Array; mean: Float64Array; perToken: Float32Array[] }> {
  const sum = new Float64Array(examples.length),
    mean = new Float64Array(examples.length);
  const perToken: Float32Array[] = [];
  for (let a = 0; a < examples.length; a += chunk) {
    const r = await g.answerNll(examples.slice(a, a + chunk));
    sum.set(r.sum, a);
    mean.set(r.mean, a);
    perToken.push(...r.perToken);
  }
  return { sum, mean, perToken };
}
