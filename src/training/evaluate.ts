// Held-out evaluation the way the papers report it: answer accuracy by option likelihood (the
// option with the lowest mean NLL wins) with no retrieval, with the top-m retrieved documents and
// with the gold passages (oracle), so the gap to the oracle shows; recall@k and MRR@10 of gold
// passages; alignment (Spearman, Kendall) between retriever scores and -NLL of the answer over the
// top candidates. Q = questions, A = alignment candidates.

import { CancelledError } from '../core/errors';
import type { Question } from '../data/datasets';
import { aggregate, kendall, questionMetrics, spearman } from '../data/metrics';
import type { Retriever } from '../models/retriever';
import { searchIndex, type ColbertIndex } from '../retrieval/index';
import type { AnswerExample } from '../models/generator';
import { nllMany, optionsOf, type PromptBuilder } from './prompts';
import type { EvalResult } from './records';

// The result's shapes are declared once, as schemas, in records.ts; re-exported here for importers.
export type { EvalResult, PerQuestionResult } from './records';

export interface EvalOptions {
  topM: number;
  alignmentCandidates: number;
  ks?: number[];
  /** Called after each chunk of questions is scored: questions done, of all. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between chunks: an aborted signal stops with EvaluationCancelledError. */
  signal?: AbortSignal;
  /** Questions scored per chunk (progress and cancellation come between chunks); default EVAL_CHUNK. */
  chunk?: number;
  /** Score a question's options from one pass over their shared prompt (default true; nllMany). */
  sharePrompts?: boolean;
}

/** Questions scored per chunk of an evaluation. */
export const EVAL_CHUNK = 8;

/** An evaluation stopped by its signal; nothing of it is reported. */
export class EvaluationCancelledError extends CancelledError {
  constructor(done: number, total: number) {
    super(`evaluation cancelled after ${done} of ${total} questions`);
  }
}

export async function evaluate(
  r: Retriever,
  index: ColbertIndex,
  prompts: PromptBuilder,
  questions: Question[],
  opts: EvalOptions,
): Promise<EvalResult> {
  const t0 = performance.now();
  const ks = opts.ks ?? [1, 5, 10];
  const depth = Math.max(opts.alignmentCandidates, opts.topM, ...ks);
  const found = await searchIndex(
    index,
    r,
    questions.map((q) => q.question),
    depth,
  );

  // Question by question, in chunks: each chunk's sequences are scored together, then its
  // outcomes counted; progress and cancellation come between chunks.
  const correct = { none: 0, retrieved: 0, oracle: 0 };
  let scored = 0;
  const rho: number[] = [],
    tau: number[] = [];
  const chunk = Math.max(1, opts.chunk ?? EVAL_CHUNK);
  for (let from = 0; from < questions.length; from += chunk) {
    if (opts.signal?.aborted) throw new EvaluationCancelledError(from, questions.length);
    const { examples, plan } = chunkExamples(prompts, questions, from, chunk, found, opts);
    const nll = await nllMany(prompts.generator, examples, undefined, { sharePrompts: opts.sharePrompts });
    for (const p of plan) {
      if (p.o) {
        scored++;
        for (const k of ['none', 'retrieved', 'oracle'] as const) {
          const at = p.cond[k];
          if (at === null) continue;
          let best = 0;
          for (let j = 1; j < p.o.options.length; j++) if (nll.mean[at + j]! < nll.mean[at + best]!) best = j;
          if (best === p.o.gold) correct[k]++;
        }
      }
      if (p.alignN >= 2) {
        const s = found.scores[p.b]!.slice(0, p.alignN);
        const u = Array.from(nll.mean.subarray(p.alignAt, p.alignAt + p.alignN), (v) => -v);
        rho.push(spearman(s, u));
        tau.push(kendall(s, u));
      }
    }
    opts.onProgress?.(Math.min(from + chunk, questions.length), questions.length);
  }
  const perQ = questions.map((q, b) => questionMetrics(found.ids[b]!, q.goldDocIds, ks));
  const agg = aggregate(
    perQ,
    questions.map((q) => q.goldDocIds),
    ks,
  );
  const avg = (xs: number[]): number => (xs.length ? xs.reduce((a, v) => a + v, 0) / xs.length : 0);
  const acc = (n: number): number => (scored ? n / scored : 0);
  return {
    questions: questions.length,
    scored,
    accuracy: { none: acc(correct.none), retrieved: acc(correct.retrieved), oracle: acc(correct.oracle) },
    recall: agg.recall,
    mrr10: agg.mrr10,
    alignment: { spearman: avg(rho), kendall: avg(tau) },
    ms: performance.now() - t0,
  };
}

/** What one chunk of an evaluation scores: per question, where each condition's options and the alignment candidates sit. */
export interface ChunkPlan {
  b: number;
  o: ReturnType<typeof optionsOf>;
  cond: { none: number | null; retrieved: number | null; oracle: number | null };
  alignAt: number;
  alignN: number;
}

/**
 * The examples of questions from .. from+chunk: each condition's prompt (no document, the top-m
 * retrieved, the gold passages) with every option as its answer, then the gold answer after
 * each alignment candidate alone. (Also the eval bench's, to score the same examples both ways.)
 */
export function chunkExamples(
  prompts: PromptBuilder,
  questions: Question[],
  from: number,
  chunk: number,
  found: { ids: string[][] },
  opts: Pick<EvalOptions, 'topM' | 'alignmentCandidates'>,
): { examples: AnswerExample[]; plan: ChunkPlan[] } {
  const examples: AnswerExample[] = [];
  const plan = questions.slice(from, from + chunk).map((q, i): ChunkPlan => {
    const b = from + i;
    const o = optionsOf(q);
    const top = found.ids[b]!.slice(0, opts.topM);
    const oracle = q.goldDocIds.slice(0, opts.topM);
    const slot = (docs: string[] | null): number | null => {
      if (!o || docs === null) return null;
      const at = examples.length;
      const prompt = prompts.prompt(q, docs);
      for (const opt of o.options) examples.push({ prompt, answer: prompts.answer(opt) });
      return at;
    };
    const cond = { none: slot([]), retrieved: slot(top), oracle: slot(oracle.length ? oracle : null) };
    const alignDocs = found.ids[b]!.slice(0, opts.alignmentCandidates);
    const alignAt = examples.length;
    for (const d of alignDocs) examples.push(prompts.example(q, [d]));
    return { b, o, cond, alignAt, alignN: alignDocs.length };
  });
  return { examples, plan };
}
