// The generator's inputs: "context: <doc> <doc> question: <q> answer:" then " <answer>" + EOS.
// Documents are tokenized once each and cut to docMaxTokens; prompts are built from token ids, so
// the k-th document costs the same tokens in every prompt it appears in.
// Options to score: a multiple-choice question's option texts; yes/no/maybe's three words.

import { YES_NO_MAYBE, type Passage, type Question } from '../data/datasets';
import type { AnswerExample, Generator } from '../models/generator';
import type { Tokenizer } from '../models/tokenizer';
import { ConfigError } from './config';

/**
 * What prompts need of a generator: its tokenizer and its answer encoding. A Generator is one; so
 * is `{ tokenizer, encodeAnswer: (t) => answerIds(tokenizer, t) }` where no model is loaded (the
 * experiment bundle).
 */
/**
 * Positions a prompt needs besides its documents (BOS, "context:", the question, "answer:" and the
 * answer): the one context-budget rule, so topM documents of docMaxTokens fit the generator.
 */
export const PROMPT_OVERHEAD_TOKENS = 48;

/** Why topM documents of docMaxTokens do not fit `maxPositions`, or null when they do. */
export function contextBudgetProblem(topM: number, docMaxTokens: number, maxPositions: number): string | null {
  return topM * docMaxTokens + PROMPT_OVERHEAD_TOKENS > maxPositions
    ? `topM x docMaxTokens = ${topM * docMaxTokens} tokens of context do not fit the generator's ${maxPositions} positions ` +
        'with a question: lower topM or docMaxTokens'
    : null;
}

/** The most document tokens each of topM documents may keep within `maxPositions` (at most `cap`). */
export const docTokensThatFit = (topM: number, maxPositions: number, cap: number): number =>
  Math.min(cap, Math.floor((maxPositions - PROMPT_OVERHEAD_TOKENS) / topM));

export interface PromptTokens {
  readonly tokenizer: Tokenizer;
  encodeAnswer(text: string): number[];
}

export class PromptBuilder<G extends PromptTokens = Generator> {
  private readonly docCache = new Map<string, number[]>();
  /** The special tokens the tokenizer puts before a text (BOS for Llama-family tokenizers; may be none). */
  readonly bos: readonly number[];
  /** `context:`, which opens the documents of a prompt that has some. */
  readonly contextIds: readonly number[];

  constructor(
    readonly generator: G,
    private readonly passages: ReadonlyMap<string, Passage>,
    readonly docMaxTokens: number,
  ) {
    const tok = generator.tokenizer;
    const withSpecial = tok.encode('a');
    const plain = tok.encode('a', { addSpecialTokens: false });
    const at = withSpecial.indexOf(plain[0]!);
    this.bos = at > 0 ? withSpecial.slice(0, at) : [];
    this.contextIds = this.text('context:');
  }

  private text(s: string): number[] {
    return this.generator.tokenizer.encode(s, { addSpecialTokens: false });
  }

  /** A passage's tokens in a prompt: ` <title>. <text>`, cut to docMaxTokens (docTokens without its cache). */
  passageTokens(p: Passage): number[] {
    return this.text(` ${p.title ? `${p.title}. ` : ''}${p.text}`).slice(0, this.docMaxTokens);
  }

  docTokens(id: string): number[] {
    let ids = this.docCache.get(id);
    if (!ids) {
      const p = this.passages.get(id);
      if (!p) throw new ConfigError('data', `passage "${id}" is not in the corpus the run was given`);
      ids = this.passageTokens(p);
      this.docCache.set(id, ids);
    }
    return ids;
  }

  /** The question part of a prompt: ` question: <q> answer:` after documents, without the leading space when there are none. */
  questionTokens(q: Question, afterDocs: boolean): number[] {
    return this.text(`${afterDocs ? ' ' : ''}question: ${q.question} answer:`);
  }

  /** Prompt ids: BOS, then the documents (if any) as context, then the question. */
  prompt(q: Question, docIds: readonly string[]): number[] {
    const ctx = docIds.length ? [...this.contextIds, ...docIds.flatMap((d) => this.docTokens(d))] : [];
    return [...this.bos, ...ctx, ...this.questionTokens(q, docIds.length > 0)];
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
 * Answer NLLs of many examples without gradient. Examples are scored in order of length, in
 * batches of at most `tokens` padded tokens, so short prompts are not padded to the longest one
 * (an evaluation mixes prompts with no document and with m documents); results keep input order.
 */
export async function nllMany(
  g: Generator,
  examples: AnswerExample[],
  tokens = 4096,
): Promise<{ sum: Float64Array; mean: Float64Array; perToken: Float32Array[] }> {
  const n = examples.length;
  const sum = new Float64Array(n),
    mean = new Float64Array(n);
  const perToken: Float32Array[] = new Array<Float32Array>(n);
  const len = (i: number): number => examples[i]!.prompt.length + examples[i]!.answer.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => len(a) - len(b));
  for (let at = 0; at < n;) {
    // Longest in the batch is the last (sorted): grow while batch size x that length fits.
    let end = at + 1;
    while (end < n && (end + 1 - at) * len(order[end]!) <= tokens) end++;
    const batch = order.slice(at, end);
    const r = await g.answerNll(batch.map((i) => examples[i]!));
    batch.forEach((i, j) => {
      sum[i] = r.sum[j]!;
      mean[i] = r.mean[j]!;
      perToken[i] = r.perToken[j]!;
    });
    at = end;
  }
  return { sum, mean, perToken };
}
