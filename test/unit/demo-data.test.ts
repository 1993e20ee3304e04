// The built-in demo set (public/demo, written by scripts/make-demo-data.ts): the shipped files are
// what the generator makes now, they load in the generic JSONL format, the questions are balanced
// and split by condition, answers are in the gold passages, and BM25 finds the gold passage often
// but far from always (the distractors work).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_DIR, generateDemoData } from '../../scripts/make-demo-data';
import { parseJsonlQA } from '../../src/data/datasets';
import { aggregate, questionMetrics } from '../../src/data/metrics';
import { Bm25Index } from '../../src/retrieval/bm25';

const data = generateDemoData();
const files = {
  corpus: readFileSync(path.join(DEMO_DIR, 'corpus.jsonl'), 'utf8'),
  questions: readFileSync(path.join(DEMO_DIR, 'questions.jsonl'), 'utf8'),
};
const ds = parseJsonlQA(files, 'demo');

describe('demo set (public/demo)', () => {
  it('the shipped files are what the generator makes now (run `npm run make-demo-data` after changing it)', () => {
    expect(files.corpus).toBe(data.corpusJsonl);
    expect(files.questions).toBe(data.questionsJsonl);
    expect(generateDemoData().questionsJsonl).toBe(data.questionsJsonl); // deterministic
    expect(generateDemoData(7).questionsJsonl).not.toBe(data.questionsJsonl); // and the seed matters
  });

  it('loads as generic JSONL QA: at least 400 passages and 400 questions of both kinds, every gold id in the corpus', () => {
    expect(ds.passages.length).toBeGreaterThanOrEqual(400);
    expect(ds.questions.length).toBeGreaterThanOrEqual(400);
    const ids = new Set(ds.passages.map((p) => p.id));
    expect(ids.size).toBe(ds.passages.length);
    for (const q of ds.questions) {
      expect(q.goldDocIds.length).toBeGreaterThan(0);
      for (const g of q.goldDocIds) expect(ids.has(g)).toBe(true);
    }
    const mc = ds.questions.filter((q) => q.kind === 'multiple-choice');
    const yn = ds.questions.filter((q) => q.kind === 'yes-no-maybe');
    expect(mc.length + yn.length).toBe(ds.questions.length);
    expect(mc.length).toBeGreaterThan(0.4 * ds.questions.length);
    expect(yn.length).toBeGreaterThan(0.4 * ds.questions.length);
    expect(mc.every((q) => q.options?.length === 4 && new Set(q.options).size === 4)).toBe(true);
    // Passages are short enough for a small model.
    for (const p of ds.passages) {
      const words = p.text.split(/\s+/).length;
      expect(words).toBeGreaterThanOrEqual(40);
      expect(words).toBeLessThanOrEqual(90);
    }
  });

  it('answers are spread: A-D evenly for multiple choice, about half yes', () => {
    const mc = ds.questions.filter((q) => q.kind === 'multiple-choice');
    const counts = [0, 0, 0, 0];
    for (const q of mc) counts[q.answerIndex!]!++;
    for (const n of counts) expect(Math.abs(n / mc.length - 0.25)).toBeLessThan(0.03);
    const yn = ds.questions.filter((q) => q.kind === 'yes-no-maybe');
    expect(yn.every((q) => q.answer === 'yes' || q.answer === 'no')).toBe(true);
    expect(Math.abs(yn.filter((q) => q.answer === 'yes').length / yn.length - 0.5)).toBeLessThan(0.03);
  });

  it('the answer is in the gold passages: the right option is stated there, the wrong ones are not', () => {
    const text = new Map(ds.passages.map((p) => [p.id, p.text.toLowerCase()]));
    for (const q of ds.questions.filter((x) => x.kind === 'multiple-choice')) {
      const gold = q.goldDocIds.map((g) => text.get(g)!).join('\n');
      expect(gold).toContain(q.answer.toLowerCase());
      for (const o of q.options!) if (o !== q.answer) expect(gold).not.toContain(o.toLowerCase());
    }
  });

  it('splits are 70/15/15, and every condition has questions in more than one split', () => {
    const n = data.questions.length;
    const share = (s: string) => data.questions.filter((q) => q.split === s).length / n;
    expect(Math.abs(share('train') - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(share('validation') - 0.15)).toBeLessThan(0.02);
    expect(Math.abs(share('test') - 0.15)).toBeLessThan(0.02);
    const byEntity = new Map<string, Set<string>>();
    data.questions.forEach((q, i) => {
      const e = data.questionEntity[i]!;
      byEntity.set(e, (byEntity.get(e) ?? new Set()).add(q.split));
    });
    expect(byEntity.size).toBeGreaterThanOrEqual(60);
    for (const splits of byEntity.values()) {
      expect(splits.size).toBeGreaterThanOrEqual(2);
      expect(splits.has('train')).toBe(true);
    }
  });

  it('BM25 with the question as query: recall@1 well below 1, recall@10 far above chance', () => {
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
    const hit1 = per.filter((x) => x.firstGoldRank === 1).length / per.length;
    console.log(
      `demo BM25 over ${ds.passages.length} passages, ${m.questions} questions: recall@1 ${m.recall[1]!.toFixed(3)}, ` +
        `recall@5 ${m.recall[5]!.toFixed(3)}, recall@10 ${m.recall[10]!.toFixed(3)}, MRR@10 ${m.mrr10.toFixed(3)}, ` +
        `nDCG@10 ${m.ndcg10.toFixed(3)}, gold at rank 1 ${hit1.toFixed(3)}`,
    );
    expect(m.recall[1]!).toBeLessThan(0.8);
    expect(hit1).toBeLessThan(0.8);
    expect(m.recall[10]!).toBeGreaterThan(0.3);
  });
});
