// The built-in demo set (public/demo, written by scripts/make-demo-data.ts): the shipped files are
// what the generator makes now, they load in the generic JSONL format, the questions are balanced
// and split by look-alike pair, answers are in the gold passage and not in the look-alike's, names
// are invented single words, rephrasings are new wordings, and BM25 finds the gold passage often
// but far from always (the distractors work).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_DIR, generateDemoData, realWords } from '../../scripts/make-demo-data';
import { parseJsonlQA } from '../../src/data/datasets';
import { aggregate, questionMetrics } from '../../src/data/metrics';
import { Bm25Index } from '../../src/retrieval/bm25';

const data = generateDemoData();
const files = {
  corpus: readFileSync(path.join(DEMO_DIR, 'corpus.jsonl'), 'utf8'),
  questions: readFileSync(path.join(DEMO_DIR, 'questions.jsonl'), 'utf8'),
  rephrased: readFileSync(path.join(DEMO_DIR, 'questions-rephrased.jsonl'), 'utf8'),
};
const ds = parseJsonlQA({ corpus: files.corpus, questions: files.questions }, 'demo');
const rephrased = parseJsonlQA({ corpus: files.corpus, questions: files.rephrased }, 'demo');

describe('demo set (public/demo)', () => {
  it('the shipped files are what the generator makes now (run `npm run make-demo-data` after changing it)', () => {
    expect(files.corpus).toBe(data.corpusJsonl);
    expect(files.questions).toBe(data.questionsJsonl);
    expect(files.rephrased).toBe(data.rephrasedJsonl);
    expect(generateDemoData().questionsJsonl).toBe(data.questionsJsonl); // deterministic
    expect(generateDemoData(7).questionsJsonl).not.toBe(data.questionsJsonl); // and the seed matters
  });

  it('loads as generic JSONL QA: 1,500 passages, 3,000 questions of both kinds, every gold id in the corpus', () => {
    expect(ds.passages.length).toBe(1500);
    expect(ds.questions.length).toBe(3000);
    const ids = new Set(ds.passages.map((p) => p.id));
    expect(ids.size).toBe(ds.passages.length);
    for (const q of [...ds.questions, ...rephrased.questions]) {
      expect(q.goldDocIds).toHaveLength(1);
      expect(ids.has(q.goldDocIds[0]!)).toBe(true);
    }
    const mc = ds.questions.filter((q) => q.kind === 'multiple-choice');
    const yn = ds.questions.filter((q) => q.kind === 'yes-no-maybe');
    expect(mc.length).toBe(1500);
    expect(yn.length).toBe(1500);
    expect(mc.every((q) => q.options?.length === 4 && new Set(q.options).size === 4)).toBe(true);
    // Passages fit docMaxTokens 48 of the demo config with room: 20-45 words.
    for (const p of ds.passages) {
      const words = p.text.split(/\s+/).length;
      expect(words).toBeGreaterThanOrEqual(20);
      expect(words).toBeLessThanOrEqual(45);
    }
  });

  it('answers are spread: A-D evenly for multiple choice, half yes', () => {
    const mc = ds.questions.filter((q) => q.kind === 'multiple-choice');
    const counts = [0, 0, 0, 0];
    for (const q of mc) counts[q.answerIndex!]!++;
    for (const n of counts) expect(Math.abs(n / mc.length - 0.25)).toBeLessThan(0.01);
    const yn = ds.questions.filter((q) => q.kind === 'yes-no-maybe');
    expect(yn.every((q) => q.answer === 'yes' || q.answer === 'no')).toBe(true);
    expect(Math.abs(yn.filter((q) => q.answer === 'yes').length / yn.length - 0.5)).toBeLessThan(0.01);
  });

  it('the answer is in the gold passage and not in the look-alike passage, which states the wrong option it suggests', () => {
    const text = new Map(ds.passages.map((p) => [p.id, p.text.toLowerCase()]));
    const wordsOf = (t: string): Set<string> => new Set(t.split(/[^a-z0-9]+/));
    ds.questions.forEach((q, i) => {
      const gold = wordsOf(text.get(q.goldDocIds[0]!)!);
      const look = wordsOf(text.get(data.meta[i]!.distractor)!);
      if (q.kind === 'multiple-choice') {
        expect(gold.has(q.answer)).toBe(true);
        expect(look.has(q.answer)).toBe(false);
        for (const o of q.options!) if (o !== q.answer) expect(gold.has(o)).toBe(false);
        // One wrong option is what the look-alike passage states.
        expect(q.options!.filter((o) => o !== q.answer && look.has(o))).toHaveLength(1);
      }
    });
  });

  it('splits are by look-alike pair, 60/20/20: no held-out condition appears in a training question', () => {
    const count = (s: string) => data.questions.filter((q) => q.split === s).length;
    expect([count('train'), count('validation'), count('test')]).toEqual([1800, 600, 600]);
    const bySplit = new Map<string, Set<string>>();
    data.questions.forEach((q, i) => {
      const c = data.meta[i]!.condition;
      bySplit.set(c, (bySplit.get(c) ?? new Set()).add(q.split));
    });
    expect(bySplit.size).toBe(250);
    for (const splits of bySplit.values()) expect(splits.size).toBe(1);
  });

  it('every name is one invented word: not an English word of bert-base-uncased, unique to its condition or value', () => {
    const real = realWords();
    const names = data.world.flatMap((c) => [c.name, c.values.drug, c.values.gene, c.values.test]);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) {
      expect(real.has(n)).toBe(false);
      expect(n).toMatch(/^[a-z]+[0-9]?$/);
    }
  });

  it('each test question has one rephrasing in a wording no other question uses, with the same answer and gold', () => {
    const test = ds.questions.filter((q) => q.split === 'test');
    expect(rephrased.questions).toHaveLength(test.length);
    const byId = new Map(ds.questions.map((q) => [q.id, q]));
    const seen = new Set(ds.questions.map((q) => q.question));
    data.rephrased.forEach((r) => {
      const q = byId.get(r.rephrase_of!)!;
      expect(q.split).toBe('test');
      expect(r.answer).toBe(q.answer);
      expect(r.gold_doc_ids).toEqual(q.goldDocIds);
      expect(r.question).not.toBe(q.question);
      expect(seen.has(r.question)).toBe(false);
    });
  });

  it('BM25 with the question as query finds the condition but often not the passage: recall@1 at most 0.6', () => {
    const bm = new Bm25Index(ds.passages);
    const ks = [1, 5, 10];
    const per = ds.questions.map((q) =>
      questionMetrics(
        bm.search(q.question, 10).map((h) => h.id),
        q.goldDocIds,
        ks,
      ),
    );
    const m = aggregate(
      per,
      ds.questions.map((q) => q.goldDocIds),
      ks,
    );
    console.log(
      `demo BM25 over ${ds.passages.length} passages, ${m.questions} questions: recall@1 ${m.recall[1]!.toFixed(3)}, ` +
        `recall@5 ${m.recall[5]!.toFixed(3)}, recall@10 ${m.recall[10]!.toFixed(3)}, MRR@10 ${m.mrr10.toFixed(3)}`,
    );
    expect(m.recall[1]!).toBeLessThanOrEqual(0.6);
    expect(m.recall[1]!).toBeGreaterThan(0.3);
    expect(m.recall[10]!).toBeGreaterThan(0.5);
  });
});
