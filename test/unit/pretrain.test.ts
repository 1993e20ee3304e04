// BMRetriever's first stage: pseudo-queries from the corpus (src/training/pretrain.ts), and the
// config rules of the contrastive stages.
import { describe, expect, it } from 'vitest';
import type { Passage } from '../../src/data/datasets';
import { ConfigError, resolveConfig } from '../../src/training/config';
import { pairablePassages, pretrainBatch, pretrainId, sentences } from '../../src/training/pretrain';
import { trainerProblem } from '../../src/training/step';

const CORPUS: Passage[] = [
  { id: 'a', title: 'Insulin', text: 'Insulin lowers blood sugar. It is made in the pancreas. Diabetes lacks it.' },
  { id: 'b', title: '', text: 'Fever is common. It often comes with infection!' },
  { id: 'c', text: 'One sentence only.' },
  { id: 'd', title: 'Asthma', text: 'Asthma narrows the airways? Inhalers help.' },
  { id: 'e', title: 'Stroke', text: 'High blood pressure causes stroke.' },
];

describe('pretraining pairs', () => {
  it('splits sentences after . ! ? and keeps the passages that can make a pair', () => {
    expect(sentences('A b. C d! E f? G')).toEqual(['A b.', 'C d!', 'E f?', 'G']);
    expect(sentences('  ')).toEqual([]);
    expect(pairablePassages(CORPUS, 'title').map((p) => p.id)).toEqual(['a', 'd', 'e']);
    expect(pairablePassages(CORPUS, 'ict').map((p) => p.id)).toEqual(['a', 'b', 'd']);
    expect(pairablePassages(CORPUS, 'none')).toEqual([]);
  });

  it('title pairs: the title is the query, the text alone the positive, the passage the only gold', () => {
    const pool = pairablePassages(CORPUS, 'title');
    const b = pretrainBatch(pool, 'title', 7, 0, 3);
    expect(b.questions.map((q) => q.goldDocIds[0]).sort()).toEqual(['a', 'd', 'e']);
    for (const q of b.questions) {
      const p = CORPUS.find((x) => x.id === q.goldDocIds[0])!;
      expect(q.question).toBe(p.title);
      expect(q.id).toBe(pretrainId('title', p.id));
      expect(b.positives.get(p.id)).toBe(p.text);
    }
  });

  it('inverse cloze: one sentence is the query and is taken out of the positive; seeded by (seed, step)', () => {
    const pool = pairablePassages(CORPUS, 'ict');
    const seen = new Set<string>();
    for (let t = 0; t < 12; t++) {
      const b = pretrainBatch(pool, 'ict', 3, t, 2);
      expect(b).toEqual(pretrainBatch(pool, 'ict', 3, t, 2)); // a resumed run draws the same pairs
      for (const q of b.questions) {
        const p = CORPUS.find((x) => x.id === q.goldDocIds[0])!;
        const ss = sentences(p.text);
        expect(ss).toContain(q.question);
        const positive = b.positives.get(p.id)!;
        expect(positive).not.toContain(q.question);
        expect(positive).toBe([p.title, ...ss.filter((s) => s !== q.question)].filter(Boolean).join(' '));
        seen.add(`${p.id}:${q.question}`);
      }
    }
    expect(seen.size).toBeGreaterThan(3); // different sentences over the steps
    // Each epoch is a permutation: one epoch of floor(3 / 1) steps covers every passage once.
    const epoch = [0, 1, 2].map((t) => pretrainBatch(pool, 'ict', 3, t, 1).questions[0]!.goldDocIds[0]);
    expect(epoch.sort()).toEqual(['a', 'b', 'd']);
  });

  it('config: pairs and in-batch negatives need InfoNCE; pairs re-encode documents; too few pairable passages refuse', () => {
    const stage = { schedule: 'retriever-only', retrieverLoss: 'infonce', retrieverSide: 'both', sampled: 1, topM: 1 } as const;
    expect(resolveConfig({ ...stage, pretrainPairs: 'ict', inBatchNegatives: true }).pretrainPairs).toBe('ict');
    expect(() => resolveConfig({ inBatchNegatives: true })).toThrow(ConfigError);
    expect(() => resolveConfig({ inBatchNegatives: true })).toThrow(/in-batch negatives are InfoNCE's/);
    expect(() => resolveConfig({ pretrainPairs: 'title' })).toThrow(/pretraining pairs train with InfoNCE/);
    expect(() => resolveConfig({ ...stage, retrieverSide: 'query', pretrainPairs: 'title' })).toThrow(
      /set retrieverSide to 'both'/,
    );
    expect(() => resolveConfig({ ...stage, pretrainPairs: 'cloze' })).toThrow(/pretrainPairs/);
    const c = resolveConfig({ ...stage, pretrainPairs: 'title', batchSize: 4, docMaxTokens: 8 });
    expect(trainerProblem(c, { trainQuestions: 0, passages: CORPUS }, 512)).toMatch(/only 3 passages have a title .* batch of 4/);
    expect(trainerProblem({ ...c, batchSize: 3 }, { trainQuestions: 0, passages: CORPUS }, 512)).toBe('');
    // A dense retriever has no projection head: refused before the models move.
    const proj = resolveConfig({ ...stage, retrieverTraining: 'projection', batchSize: 2, docMaxTokens: 8 });
    expect(trainerProblem(proj, { trainQuestions: 4, passages: CORPUS, retrieverKind: 'dense' }, 512)).toMatch(
      /no projection head/,
    );
    expect(trainerProblem(proj, { trainQuestions: 4, passages: CORPUS, retrieverKind: 'colbert' }, 512)).toBe('');
    // Without pairs, the training questions fill the batch.
    expect(trainerProblem({ ...c, pretrainPairs: 'none' }, { trainQuestions: 2, passages: CORPUS }, 512)).toMatch(
      /2 training questions cannot fill a batch of 4/,
    );
  });
});
