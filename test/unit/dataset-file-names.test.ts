// A dataset's problems name the file the user picked (src/data/datasets.ts parseDataset's
// fileNames, from src/data/sources.ts datasetFileNames): a picked file's own name, a URL as typed.

import { describe, expect, it } from 'vitest';
import { DatasetError, parseDataset } from '../../src/data/datasets';
import { datasetFileNames } from '../../src/data/sources';

const refusal = (f: () => unknown): DatasetError => {
  try {
    f();
  } catch (e) {
    if (e instanceof DatasetError) return e;
    throw e;
  }
  throw new Error('not refused');
};

describe('dataset problems name the picked file', () => {
  it('single-file formats: the file picked, before the line or record', () => {
    const e = refusal(() => parseDataset('medmcqa', { data: '{"id": "a"}\n' }, undefined, { data: 'my-dev.jsonl' }));
    expect(e.where).toBe('my-dev.jsonl line 1');
    expect(e.message).toMatch(/^MedMCQA data, my-dev\.jsonl line 1: /);
    const p = refusal(() => parseDataset('pubmedqa', { data: '[1]' }, undefined, { data: 'pqal-copy.json' }));
    expect(p.message).toMatch(/^PubMedQA data, pqal-copy\.json line 1: the file must be one JSON object/);
    const empty = refusal(() => parseDataset('medqa', { data: '\n' }, undefined, { data: 'https://example.org/medqa.jsonl' }));
    expect(empty.message).toBe(
      'MedQA data, https://example.org/medqa.jsonl: the file holds no questions. Check that you picked the right file and format.',
    );
    // Without names (the runner, tests) the messages are as before.
    expect(refusal(() => parseDataset('medmcqa', { data: '{"id": "a"}\n' })).where).toBe('line 1');
  });

  it('BEIR and JSONL QA: each file by its own name', () => {
    const corpus = '{"_id": "d1", "text": "x"}\n';
    const queries = '{"_id": "q1", "text": "why?"}\n';
    const e = refusal(() =>
      parseDataset('beir', { corpus, queries, qrels: 'q1\td9\t1\n' }, undefined, {
        corpus: 'scifact-corpus.jsonl',
        queries: 'scifact-queries.jsonl',
        qrels: 'scifact-test.tsv',
      }),
    );
    expect(e.where).toBe('scifact-test.tsv line 1');
    const j = refusal(() =>
      parseDataset('jsonl', { questions: '{"id": "q1"}\n' }, undefined, { questions: 'mine.jsonl', corpus: 'docs.jsonl' }),
    );
    expect(j.where).toBe('mine.jsonl line 1');
  });

  it("a source's file names: a File's name, a URL as typed, nothing for the demo or a nameless Blob", () => {
    const f = new File(['x'], 'ori_pqal (1).json');
    expect(datasetFileNames({ kind: 'files', format: 'pubmedqa', files: { data: f } })).toEqual({ data: 'ori_pqal (1).json' });
    expect(datasetFileNames({ kind: 'files', format: 'pubmedqa', files: { data: new Blob(['x']) } })).toEqual({});
    expect(datasetFileNames({ kind: 'url', format: 'beir', urls: { corpus: 'https://x.org/c.jsonl' } })).toEqual({
      corpus: 'https://x.org/c.jsonl',
    });
    expect(datasetFileNames({ kind: 'demo' })).toEqual({});
  });
});
