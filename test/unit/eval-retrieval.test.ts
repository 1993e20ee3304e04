// `npm run eval-retrieval` end to end on the real PubMedQA file (BM25), its JSON on stdout equal to
// computing the same metrics in-process; a dataset without gold passages and a bad flag exit 2.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { evalBm25, readDataset } from '../../scripts/eval-retrieval';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const cli = (args: string[]) => run('npx', ['tsx', 'scripts/eval-retrieval.ts', ...args], { cwd: root, timeout: 120_000 });
const PUBMEDQA = '../shared/data/pubmedqa/ori_pqal.json';

describe('npm run eval-retrieval', () => {
  it('prints BM25 recall@k, MRR@10 and nDCG@10 for PubMedQA as one JSON object', async () => {
    const { stdout } = await cli(['--data', PUBMEDQA, '--format', 'pubmedqa', '--bm25', '--k', '1,10', '--limit', '100']);
    const out = JSON.parse(stdout) as {
      questions: number;
      passages: number;
      bm25: { questions: number; recall: Record<string, number>; mrr10: number };
    };
    expect(out).toMatchObject({ questions: 100, passages: 3358 });
    const ds = readDataset(path.join(root, PUBMEDQA), 'pubmedqa');
    const want = evalBm25({ ...ds, questions: ds.questions.slice(0, 100) }, [1, 10]);
    expect(out.bm25.questions).toBe(100);
    expect(out.bm25.recall['1']).toBeCloseTo(want.recall[1]!, 12);
    expect(out.bm25.recall['10']).toBeCloseTo(want.recall[10]!, 12);
    expect(out.bm25.mrr10).toBeCloseTo(want.mrr10, 12);
    expect(out.bm25.recall['10']).toBeGreaterThan(out.bm25.recall['1']!);
  });

  it('reads a generic JSONL folder; refuses data without gold passages and unknown formats', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medrank-eval-'));
    mkdirSync(path.join(dir, 'set'));
    writeFileSync(
      path.join(dir, 'set', 'corpus.jsonl'),
      ['{"id":"a","text":"insulin lowers blood sugar"}', '{"id":"b","text":"fever is a raised temperature"}'].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'set', 'questions.jsonl'),
      '{"id":"q1","question":"what lowers blood sugar?","answer":"insulin","gold_doc_ids":["a"]}\n',
    );
    const { stdout } = await cli(['--data', path.join(dir, 'set'), '--format', 'jsonl', '--k', '1']);
    expect((JSON.parse(stdout) as { bm25: { recall: Record<string, number> } }).bm25.recall['1']).toBe(1);
    // --model: the tiny ColBERT fixture in headless Chromium; with 2 passages recall@2 is 1 by construction.
    const withModel = await cli([
      '--data',
      path.join(dir, 'set'),
      '--format',
      'jsonl',
      '--k',
      '1,2',
      '--model',
      'test/fixtures/models/tiny-colbert',
    ]);
    const colbert = (
      JSON.parse(withModel.stdout) as { colbert: { questions: number; recall: Record<string, number>; adapter: string } }
    ).colbert;
    expect(colbert.questions).toBe(1);
    expect(colbert.recall['2']).toBe(1);
    expect([0, 1]).toContain(colbert.recall['1']);
    expect(colbert.adapter).toMatch(/\//);
    // A decoder folder is a dense retriever (BMRetriever style), reported under "dense".
    const withDense = await cli([
      '--data',
      path.join(dir, 'set'),
      '--format',
      'jsonl',
      '--k',
      '1,2',
      '--model',
      'test/fixtures/models/tiny-gptneox',
    ]);
    const dense = (
      JSON.parse(withDense.stdout) as { dense: { questions: number; recall: Record<string, number>; retriever: string } }
    ).dense;
    expect(dense.questions).toBe(1);
    expect(dense.recall['2']).toBe(1);
    expect(dense.retriever).toBe('gpt_neox dense, last pooling');
    const medqa = await cli(['--data', '../shared/data/medqa/us_4_options_test.jsonl', '--format', 'medqa']).catch((e) => e);
    expect(medqa.code).toBe(2);
    expect(medqa.stderr).toMatch(/no questions with gold passages/);
    const bad = await cli(['--data', PUBMEDQA, '--format', 'csv']).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be one of beir, pubmedqa, medmcqa, medqa, jsonl/);
  });
});
