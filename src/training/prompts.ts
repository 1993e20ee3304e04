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
 * Answer NLLs of many examples without gradient; results keep input order. Examples that share a
 * prompt (a question's options under one context) are scored from one pass over the prompt
 * (Generator.sharedPromptNll) unless `sharePrompts` is false; the rest whole. Either way in order
 * of length, in batches of at most `tokens` padded tokens, so short prompts are not padded to the
 * longest one (an evaluation mixes prompts with no document and with m documents).
 */
export async function nllMany(
  g: Generator,
  examples: AnswerExample[],
  tokens = 4096,
  opts: { sharePrompts?: boolean } = {},
): Promise<{ sum: Float64Array; mean: Float64Array; perToken: Float32Array[] }> {
  const n = examples.length;
  const perToken: Float32Array[] = new Array<Float32Array>(n);
  const whole: number[] = [];
  const shared: { prompt: number[]; members: number[] }[] = [];
  if (opts.sharePrompts ?? true) {
    const byPrompt = new Map<string, number[]>();
    examples.forEach((x, i) => {
      const key = x.prompt.join(',');
      const m = byPrompt.get(key);
      if (m) m.push(i);
      else byPrompt.set(key, [i]);
    });
    for (const members of byPrompt.values())
      if (members.length === 1) whole.push(members[0]!);
      else shared.push({ prompt: examples[members[0]!]!.prompt, members });
  } else whole.push(...examples.keys());

  const len = (i: number): number => examples[i]!.prompt.length + examples[i]!.answer.length;
  await inBatches(whole, len, tokens, async (batch) => {
    const r = await g.answerNll(batch.map((i) => examples[i]!));
    batch.forEach((i, j) => (perToken[i] = r.perToken[j]!));
  });
  // A group's padded tokens: its prompt (first pass) and its answers but their last (second pass).
  const groupLen = (k: number): number =>
    shared[k]!.prompt.length + shared[k]!.members.reduce((t, i) => t + examples[i]!.answer.length - 1, 0);
  await inBatches([...shared.keys()], groupLen, tokens, async (batch) => {
    const r = await g.sharedPromptNll(
      batch.map((k) => ({ prompt: shared[k]!.prompt, answers: shared[k]!.members.map((i) => examples[i]!.answer) })),
    );
    batch.forEach((k, j) => shared[k]!.members.forEach((i, o) => (perToken[i] = r[j]![o]!)));
  });
  const sum = Float64Array.from(perToken, (p) => p.reduce((a, v) => a + v, 0));
  return { sum, mean: sum.map((v, i) => v / perToken[i]!.length), perToken };
}

/** Items in order of size, in batches whose count x largest size stays within `tokens` (at least one each). */
async function inBatches(items: number[], size: (i: number) => number, tokens: number, f: (batch: number[]) => Promise<void>) {
  const order = [...items].sort((a, b) => size(a) - size(b));
  for (let at = 0; at < order.length;) {
    // Longest in the batch is the last (sorted): grow while batch size x that length fits.
    let end = at + 1;
    while (end < order.length && (end + 1 - at) * size(order[end]!) <= tokens) end++;
    await f(order.slice(at, end));
    at = end;
  }
}
