// What the demo models pretrain on, as token ids (scripts/make-demo-models.ts writes them to a
// safetensors file that python/medrank_torch/pretrain.py reads).
// - The generator's reading curriculum: each example is a fresh invented world (two look-alike
//   pairs drawn at random from a large pool of invented names, values assigned at random), a
//   question on one fact in the training wordings, and a context of 0-2 of the world's passages
//   in the prompt format training uses (PromptBuilder): the gold passage most of the time, the
//   look-alike's passage on the same fact or another passage beside it, in random order. The
//   answer is the fact's value (multiple choice is scored on the value) or yes/no. Nothing about
//   the demo's own world is in it: reading the context is the only way to lower the loss.
// - The retriever's inverse-cloze pairs on the demo corpus: one sentence of a passage as the
//   query, the passage as its positive (it never sees a question).

import type { Passage } from '../../src/data/datasets';
import type { ColbertTokenizer } from '../../src/models/colbert';
import { docText } from '../../src/retrieval/index';
import type { WritableTensor } from '../../src/tensor/safetensors';
import { mulberry32 } from '../../src/tensor/random';
import { PromptBuilder, type PromptTokens } from '../../src/training/prompts';
import {
  ASPECTS,
  QUESTION,
  VALUE_SOURCE,
  conditionName,
  factText,
  makeWorld,
  passageText,
  pick,
  questionText,
  shuffle,
  type NameKind,
  type Rng,
} from './demo-world';

export interface CurriculumSettings {
  examples: number;
  seed: number;
  docMaxTokens: number;
  /** The first this share of examples read the gold fact's sentence alone (a short context, where a copy is easy to find). */
  short: number;
  /** The next this share read the gold passage alone (the easy start). */
  easy: number;
  /** Share of yes/no questions (default a half). */
  yesNo?: number;
}

/** `k` distinct draws from `pool`. */
function sample(r: Rng, pool: readonly string[], k: number): string[] {
  const out = new Set<string>();
  while (out.size < k) out.add(pick(r, pool));
  return [...out];
}

/** One example's texts: the passages of its context (0-2) and the question and answer. */
export interface CurriculumExample {
  docs: Passage[];
  question: string;
  answer: string;
  /** Whether the context holds the gold passage. */
  gold: boolean;
}

export type Stage = 'short' | 'easy' | 'mixed';

/** `yesNo`: the share of yes/no questions (the rest are multiple choice, answered with the value). */
export function curriculumExample(
  r: Rng,
  pool: Record<NameKind, string[]>,
  stage: Stage = 'mixed',
  yesNo = 0.5,
): CurriculumExample {
  const easy = stage !== 'mixed';
  const names: Record<NameKind, string[]> = {
    condition: sample(r, pool.condition, 4),
    drug: sample(r, pool.drug, 4),
    gene: sample(r, pool.gene, 4),
    eponym: sample(r, pool.eponym, 4),
  };
  const world = makeWorld(r, 2, names);
  const ci = Math.floor(r() * 4);
  const c = world[ci]!,
    partner = world[c.partner]!;
  const aspect = pick(r, ASPECTS);
  const passage = (w: number, a: (typeof ASPECTS)[number]): Passage => ({
    id: `${w}/${a}`,
    title: conditionName(world[w]!),
    text: passageText(r, world[w]!, world[world[w]!.partner]!, a),
  });
  const u = r();
  const m = easy ? 1 : u < 0.1 ? 0 : u < 0.45 ? 1 : 2;
  const docs: Passage[] = [];
  const gold = easy || (m > 0 && r() < 0.8);
  if (stage === 'short') docs.push({ id: `${ci}/${aspect}`, title: conditionName(c), text: factText(r, c, aspect) });
  else if (gold) docs.push(passage(ci, aspect));
  while (docs.length < m) {
    const v = r();
    const other =
      v < 0.5
        ? passage(c.partner, aspect)
        : v < 0.75
          ? passage(
              ci,
              pick(
                r,
                ASPECTS.filter((a) => a !== aspect),
              ),
            )
          : passage((ci + 2) % 4, pick(r, ASPECTS));
    if (!docs.some((d) => d.id === other.id)) docs.push(other);
  }
  const t = QUESTION[aspect];
  if (r() >= yesNo) return { docs: shuffle(r, docs), question: questionText(pick(r, t.mc), c), answer: c.values[aspect], gold };
  const yes = r() < 0.5;
  const src = VALUE_SOURCE[aspect];
  const listPool = typeof src === 'string' ? pool[src] : src;
  let wrong = partner.values[aspect];
  if (r() < 0.3) while (wrong === partner.values[aspect] || wrong === c.values[aspect]) wrong = pick(r, listPool);
  return {
    docs: shuffle(r, docs),
    question: questionText(pick(r, t.yn), c, yes ? c.values[aspect] : wrong),
    answer: yes ? 'yes' : 'no',
    gold,
  };
}

export const i32 = (xs: number[]): WritableTensor => ({ dtype: 'I32', shape: [xs.length], data: Int32Array.from(xs) });

/** Ragged id lists as flat ids + offsets tensors. */
export function ragged(name: string, seqs: number[][]): Record<string, WritableTensor> {
  const offsets = [0];
  for (const s of seqs) offsets.push(offsets[offsets.length - 1]! + s.length);
  return { [`${name}_ids`]: i32(seqs.flat()), [`${name}_offsets`]: i32(offsets) };
}

/** The reading curriculum as prompt and answer ids (PREFIX.prompt_*, PREFIX.answer_*; PREFIX gen by default). */
export function curriculumTensors(
  gen: PromptTokens,
  pool: Record<NameKind, string[]>,
  s: CurriculumSettings,
  prefix = 'gen',
): { tensors: Record<string, WritableTensor>; examples: CurriculumExample[] } {
  const r = mulberry32(s.seed);
  const prompts: number[][] = [],
    answers: number[][] = [];
  const examples: CurriculumExample[] = [];
  for (let k = 0; k < s.examples; k++) {
    const stage: Stage = k < s.short * s.examples ? 'short' : k < (s.short + s.easy) * s.examples ? 'easy' : 'mixed';
    const ex = curriculumExample(r, pool, stage, s.yesNo ?? 0.5);
    const builder = new PromptBuilder(gen, new Map(ex.docs.map((d) => [d.id, d])), s.docMaxTokens);
    const q = { id: `c${k}`, question: ex.question, answer: ex.answer, kind: 'open' as const, goldDocIds: [] };
    const e = builder.example(
      q,
      ex.docs.map((d) => d.id),
    );
    prompts.push(e.prompt);
    answers.push(e.answer);
    if (k < 8) examples.push(ex);
  }
  return { tensors: { ...ragged(`${prefix}.prompt`, prompts), ...ragged(`${prefix}.answer`, answers) }, examples };
}

/** Inverse-cloze pairs: for each passage and each of its sentences, the sentence as a query (ict.query_*) and the passage index (ict.positive); the corpus as documents (ict.doc_*). */
export function ictTensors(tok: ColbertTokenizer, passages: readonly Passage[]): Record<string, WritableTensor> {
  const queries: string[] = [],
    positive: number[] = [];
  passages.forEach((p, i) => {
    for (const sentence of p.text.split(/(?<=\.)\s+/)) {
      queries.push(sentence);
      positive.push(i);
    }
  });
  const q = tok.tokenizeQueries(queries);
  const L = tok.opts.queryMaxLen;
  const docIds: number[][] = [],
    keep: number[][] = [];
  const d = tok.tokenizeDocs(passages.map(docText));
  for (let b = 0; b < d.B; b++) {
    let n = 0;
    while (n < d.T && d.mask[b * d.T + n] === 1) n++;
    docIds.push(Array.from(d.ids.subarray(b * d.T, b * d.T + n)));
    keep.push(Array.from(d.keep.subarray(b * d.T, b * d.T + n)));
  }
  return {
    'ict.query_ids': { dtype: 'I32', shape: [queries.length, L], data: Int32Array.from(q.ids) },
    'ict.query_mask': { dtype: 'I32', shape: [queries.length, L], data: Int32Array.from(q.mask) },
    'ict.positive': i32(positive),
    ...ragged('ict.doc', docIds),
    'ict.doc_keep': i32(keep.flat()),
  };
}
