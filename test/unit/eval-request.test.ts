// Evaluation requests (src/training/eval-request.ts) and lookups by id (src/training/lookup.ts),
// the parts of the worker's evaluate and lookup requests that need no GPU.
import { describe, expect, it } from 'vitest';
import type { Dataset, Question } from '../../src/data/datasets';
import { DEFAULT_CONFIG } from '../../src/training/config';
import { planEvaluation } from '../../src/training/eval-request';
import { DatasetTables } from '../../src/training/lookup';
import { PROMPT_OVERHEAD_TOKENS } from '../../src/training/prompts';
import { splitOf } from '../../src/training/run';

const q = (id: string, over: Partial<Question> = {}): Question =>
  ({
    id,
    kind: 'multiple-choice',
    question: `question ${id}`,
    options: ['a', 'b'],
    answer: 'a',
    answerIndex: 0,
    goldDocIds: ['p1'],
    ...over,
  }) as Question;
const questions = Array.from({ length: 40 }, (_, i) => q(`q${i}`));
const dataset = { name: 'tiny', questions, passages: [{ id: 'p1', title: 't', text: 'one' }] } as unknown as Dataset;

describe('planEvaluation', () => {
  it('takes the split under the seed, the first `limit`, and fits the documents to the positions', () => {
    const plan = planEvaluation({ split: 'validation', limit: 0, seed: 3 }, dataset, 2048);
    expect(plan.questions.map((x) => x.id)).toEqual(questions.filter((x) => splitOf(x, 3) === 'validation').map((x) => x.id));
    expect(plan.topM).toBe(DEFAULT_CONFIG.topM);
    expect(plan.docMaxTokens).toBe(DEFAULT_CONFIG.docMaxTokens);
    expect(plan.alignmentCandidates).toBe(DEFAULT_CONFIG.evalAlignmentCandidates);
    const train = planEvaluation({ split: 'train', limit: 3, topM: 4 }, dataset, 256);
    expect(train.questions).toHaveLength(3);
    expect(train.docMaxTokens).toBe(Math.floor((256 - PROMPT_OVERHEAD_TOKENS) / 4));
  });

  it('refuses each bad field by name, an over-long context, and an empty split', () => {
    expect(() => planEvaluation({ split: 'dev', limit: 0 }, dataset, 2048)).toThrow(
      /^evaluate: split: expected one of "train", "validation", "test", got "dev"/,
    );
    expect(() => planEvaluation({ split: 'test', limit: -1 }, dataset, 2048)).toThrow(
      /^evaluate: limit: expected an integer from 0/,
    );
    expect(() => planEvaluation({ split: 'test', limit: 0, topM: 21 }, dataset, 2048)).toThrow(/^evaluate: topM: /);
    expect(() => planEvaluation({ split: 'test', limit: 0, seed: Number.NaN }, dataset, 2048)).toThrow(
      /^evaluate: seed: .*got NaN/,
    );
    expect(() => planEvaluation({ split: 'test', limit: 0, extra: 1 }, dataset, 2048)).toThrow(/^evaluate: extra: unknown field/);
    expect(() => planEvaluation({ split: 'test', limit: 0, topM: 5, docMaxTokens: 401 }, dataset, 2048)).toThrow(
      /topM x docMaxTokens = 2005 tokens of context do not fit the generator's 2048 positions/,
    );
    const none = { ...dataset, questions: [] } as unknown as Dataset;
    expect(() => planEvaluation({ split: 'test', limit: 0 }, none, 2048)).toThrow(/tiny has no test questions/);
  });
});

describe('DatasetTables.lookup', () => {
  it('gives questions with options and seeded split, passages, and the missing ids in the order asked', () => {
    const t = new DatasetTables(dataset);
    const r = t.lookup({ questionIds: ['q2', 'nope', 'toString'], docIds: ['p1', 'p9'], seed: 5 });
    expect(r.questions).toEqual([
      {
        id: 'q2',
        question: 'question q2',
        options: ['a', 'b'],
        answer: 'a',
        goldDocIds: ['p1'],
        split: splitOf(questions[2]!, 5),
      },
    ]);
    expect(r.docs).toEqual([{ id: 'p1', title: 't', text: 'one' }]);
    expect(r.missing).toEqual(['nope', 'toString', 'p9']);
  });
});

describe('methodName', () => {
  it("names a run by its loss, and its schedule when that is not the loss's usual one", async () => {
    const { methodName, RETRIEVER_LOSSES, SCHEDULES, LOSS_HELP, SCHEDULE_HELP } = await import('../../src/training/config');
    expect(methodName({ retrieverLoss: 'pdist', schedule: 'synchronous' })).toBe('PDist');
    expect(methodName({ retrieverLoss: 'llm-rank', schedule: 'staged' })).toBe('LLM-Rank, staged');
    expect(methodName({ retrieverLoss: 'none', schedule: 'frozen-retriever' })).toBe('frozen retriever');
    expect(methodName({ retrieverLoss: 'infonce', schedule: 'retriever-only' })).toBe('InfoNCE');
    expect(methodName({ retrieverLoss: 'replug', schedule: 'retriever-only' })).toBe('REPLUG, retriever-only');
    // Every loss and schedule has its one line of help.
    for (const l of RETRIEVER_LOSSES) expect(LOSS_HELP[l].length).toBeGreaterThan(20);
    for (const s of SCHEDULES) expect(SCHEDULE_HELP[s].length).toBeGreaterThan(10);
    const names = new Set(RETRIEVER_LOSSES.map((l) => methodName({ retrieverLoss: l, schedule: 'synchronous' })));
    expect(names.size).toBe(RETRIEVER_LOSSES.length);
  });
});
