// Dataset adapters (src/data/datasets.ts) on the real files in ../shared/data (PubMedQA, MedMCQA,
// MedQA), BEIR and the generic JSONL format on inline fixtures, every refusal's location and
// message, and the streamed readers (src/data/jsonl.ts) over awkwardly chunked streams.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MedRankError } from '../../src/core/errors';
import {
  DatasetError,
  mergeCorpora,
  parseBeir,
  parseDataset,
  parseJsonlQA,
  parseMedMCQA,
  parseMedQA,
  parsePubMedQA,
  type Dataset,
} from '../../src/data/datasets';
import { parseJsonlLines, readLines, readText, type ReadProgress } from '../../src/data/jsonl';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const read = (path: string) => readFileSync(DATA + path, 'utf8');
const PUBMEDQA = read('pubmedqa/ori_pqal.json');
const MEDMCQA = read('medmcqa/dev.jsonl');
const MEDQA = read('medqa/us_4_options_test.jsonl');

/** The DatasetError a call throws (fails the test when it returns instead). */
function refusal(fn: () => unknown): DatasetError {
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    expect(e).toBeInstanceOf(MedRankError);
    return e as DatasetError;
  }
  expect.fail(`expected a DatasetError, got a result: ${JSON.stringify(result).slice(0, 200)}`);
}

/** Every gold id of every question names a passage of the dataset. */
function expectGoldResolves(d: Dataset) {
  const ids = new Set(d.passages.map((p) => p.id));
  expect(ids.size).toBe(d.passages.length);
  for (const q of d.questions) for (const g of q.goldDocIds) expect(ids.has(g), `${q.id} -> ${g}`).toBe(true);
}

/** A byte stream made of the given chunks. */
function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const c = chunks[i++];
      if (c) controller.enqueue(c);
      else controller.close();
    },
  });
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, o + size));
  return out;
}

describe('PubMedQA (ori_pqal.json)', () => {
  const d = parsePubMedQA(PUBMEDQA);

  it('has 1000 questions (552 yes, 338 no, 110 maybe) and 3358 context passages', () => {
    expect(d.format).toBe('pubmedqa');
    expect(d.name).toBe('pubmedqa');
    expect(d.questions).toHaveLength(1000);
    expect(d.passages).toHaveLength(3358);
    const counts = { yes: 0, no: 0, maybe: 0 } as Record<string, number>;
    for (const q of d.questions) {
      expect(q.kind).toBe('yes-no-maybe');
      expect(['yes', 'no', 'maybe'][q.answerIndex!]).toBe(q.answer);
      counts[q.answer] = (counts[q.answer] ?? 0) + 1;
    }
    expect(counts).toEqual({ yes: 552, no: 338, maybe: 110 });
  });

  it('gives every question its own contexts as gold, and nothing else', () => {
    const raw = JSON.parse(PUBMEDQA) as Record<string, { CONTEXTS: string[] }>;
    const byId = new Map(d.passages.map((p) => [p.id, p]));
    for (const q of d.questions) {
      const contexts = raw[q.id]!.CONTEXTS;
      expect(q.goldDocIds).toEqual(contexts.map((_, i) => `${q.id}#${i}`));
      q.goldDocIds.forEach((g, i) => expect(byId.get(g)!.text).toBe(contexts[i]));
    }
    expectGoldResolves(d);
  });

  it('matches the raw JSON for record 21645374', () => {
    const raw = (JSON.parse(PUBMEDQA) as Record<string, { QUESTION: string; CONTEXTS: string[]; final_decision: string }>)[
      '21645374'
    ]!;
    const q = d.questions.find((x) => x.id === '21645374')!;
    expect(q).toEqual({
      id: '21645374',
      question: raw.QUESTION,
      kind: 'yes-no-maybe',
      answer: 'yes',
      answerIndex: 0,
      goldDocIds: ['21645374#0', '21645374#1'],
    });
    expect(q.question).toBe('Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?');
    expect(d.passages.find((p) => p.id === '21645374#1')).toEqual({ id: '21645374#1', text: raw.CONTEXTS[1] });
  });
});

describe('MedMCQA (dev.jsonl)', () => {
  const d = parseMedMCQA(MEDMCQA);

  it('has 4183 questions and 2206 explanation passages, each the gold of its question', () => {
    expect(d.questions).toHaveLength(4183);
    expect(d.passages).toHaveLength(2206);
    const withGold = d.questions.filter((q) => q.goldDocIds.length > 0);
    expect(withGold).toHaveLength(2206);
    for (const q of withGold) expect(q.goldDocIds).toEqual([`${q.id}#exp`]);
    expectGoldResolves(d);
  });

  it('maps cop 1..4 to answerIndex 0..3 over four options', () => {
    const dist = [0, 0, 0, 0];
    for (const q of d.questions) {
      expect(q.kind).toBe('multiple-choice');
      expect(q.options).toHaveLength(4);
      expect(q.answer).toBe(q.options![q.answerIndex!]);
      dist[q.answerIndex!]!++;
    }
    expect(dist.reduce((a, b) => a + b)).toBe(4183);
    expect(dist).toEqual([1348, 1085, 925, 825]);
  });

  it('matches the raw JSON for its first two records', () => {
    const lines = MEDMCQA.split('\n');
    const r0 = JSON.parse(lines[0]!) as Record<string, string | number | null>;
    const r1 = JSON.parse(lines[1]!) as Record<string, string | number | null>;
    expect(d.questions[0]).toEqual({
      id: '45258d3d-b974-44dd-a161-c3fccbdadd88',
      question: r0.question,
      kind: 'multiple-choice',
      options: [r0.opa, r0.opb, r0.opc, r0.opd],
      answer: r0.opa,
      answerIndex: 0,
      goldDocIds: [], // exp is null
    });
    expect(d.questions[1]!.goldDocIds).toEqual(['b944ada9-d776-4c2a-9180-3ae5f393f72d#exp']);
    expect(d.passages[0]).toEqual({ id: 'b944ada9-d776-4c2a-9180-3ae5f393f72d#exp', text: r1.exp });
  });
});

describe('MedQA (us_4_options_test.jsonl)', () => {
  const d = parseMedQA(MEDQA);

  it('has 1273 four-option questions and no passages', () => {
    expect(d.questions).toHaveLength(1273);
    expect(d.passages).toHaveLength(0);
    for (const q of d.questions) {
      expect(q.options).toHaveLength(4);
      expect(q.goldDocIds).toEqual([]);
      expect(q.answer).toBe(q.options![q.answerIndex!]);
    }
    expect(new Set(d.questions.map((q) => q.id)).size).toBe(1273);
  });

  it('matches the raw JSON for its first record', () => {
    const raw = JSON.parse(MEDQA.split('\n')[0]!) as { question: string; answer: string; options: Record<string, string> };
    expect(d.questions[0]).toEqual({
      id: 'medqa-1',
      question: raw.question,
      kind: 'multiple-choice',
      options: [raw.options.A, raw.options.B, raw.options.C, raw.options.D],
      answer: 'Tell the attending that he cannot fail to disclose this mistake',
      answerIndex: 1,
      goldDocIds: [],
    });
  });
});

describe('merging and dispatch', () => {
  it('merges PubMedQA contexts and MedMCQA explanations into 5564 passages', () => {
    const m = mergeCorpora(parsePubMedQA(PUBMEDQA), parseMedMCQA(MEDMCQA));
    expect(m.passages).toHaveLength(5564);
    expect(m.questions).toHaveLength(5183);
    expect(m.name).toBe('pubmedqa+medmcqa');
    expect(m.format).toBe('jsonl');
    expectGoldResolves(m);
  });

  it('refuses a dataset merged twice, naming both', () => {
    const p = parsePubMedQA(PUBMEDQA);
    const e = refusal(() => mergeCorpora(p, parseMedMCQA(MEDMCQA), { ...p, name: 'pubmedqa-again' }));
    expect(e.where).toBe(`passage ${p.passages[0]!.id}`); // PMIDs come in ascending order
    expect(e.message).toContain('"pubmedqa" and "pubmedqa-again"');
  });

  it('dispatches by format', () => {
    expect(parseDataset('medqa', { 'us_4_options_test.jsonl': MEDQA }).questions).toHaveLength(1273);
    expect(parseDataset('pubmedqa', { data: PUBMEDQA }, 'pqa').name).toBe('pqa');
    const e = refusal(() => parseDataset('beir', { corpus: '', queries: '' }));
    expect(e.where).toBe('files');
    expect(e.message).toContain('"qrels" is missing');
  });
});

describe('BEIR', () => {
  const corpus = [
    '{"_id": "d1", "title": "Aspirin", "text": "Aspirin inhibits COX-1."}',
    '',
    '{"_id": "d2", "text": "Metformin lowers hepatic glucose output."}',
    '{"_id": "d3", "title": "Statins", "text": "Statins inhibit HMG-CoA reductase."}',
  ].join('\r\n');
  const queries = [
    '{"_id": "q1", "text": "What does aspirin inhibit?"}',
    '{"_id": "q2", "text": "How do statins work?"}',
    '{"_id": "q3", "text": "unjudged"}',
  ].join('\n');
  const qrels = 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\nq2\td2\t0\n';

  it('reads corpus, queries and qrels; gold = score > 0; queries without qrels are dropped', () => {
    const d = parseBeir({ corpus: '\uFEFF' + corpus, queries, qrels });
    expect(d.format).toBe('beir');
    expect(d.passages).toEqual([
      { id: 'd1', title: 'Aspirin', text: 'Aspirin inhibits COX-1.' },
      { id: 'd2', text: 'Metformin lowers hepatic glucose output.' },
      { id: 'd3', title: 'Statins', text: 'Statins inhibit HMG-CoA reductase.' },
    ]);
    expect(d.questions).toEqual([
      { id: 'q1', question: 'What does aspirin inhibit?', kind: 'open', answer: '', goldDocIds: ['d1'] },
      { id: 'q2', question: 'How do statins work?', kind: 'open', answer: '', goldDocIds: ['d3'] },
    ]);
  });

  it('refuses a qrels line pointing at a missing corpus id, naming the tsv line', () => {
    const e = refusal(() => parseBeir({ corpus, queries, qrels: 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td9\t1\n' }));
    expect(e.format).toBe('beir');
    expect(e.where).toBe('qrels/test.tsv line 3');
    expect(e.message).toContain('corpus-id "d9" is not in corpus.jsonl');
    expect(e.message).toContain('Add the passage to the corpus or remove this line');
    const named = refusal(() => parseBeir({ corpus, queries, qrels: 'q1\td9\t1' }, 'nf', { qrels: 'qrels/dev.tsv' }));
    expect(named.where).toBe('qrels/dev.tsv line 1');
  });

  it('refuses a qrels line with an unknown query or a bad score', () => {
    expect(refusal(() => parseBeir({ corpus, queries, qrels: 'q7\td1\t1' })).message).toContain(
      'query-id "q7" is not in queries.jsonl',
    );
    expect(refusal(() => parseBeir({ corpus, queries, qrels: 'q1\td1\thigh' })).message).toContain('the score must be a number');
  });
});

describe('generic JSONL QA', () => {
  const corpus = [
    '{"id": "p1", "title": "Warfarin", "text": "Warfarin is a vitamin K antagonist."}',
    '{"id": 2, "text": "Heparin potentiates antithrombin."}',
  ].join('\n');
  const questions = [
    '{"id": "a", "question": "Which drug antagonises vitamin K?", "options": ["Heparin", "Warfarin", "Aspirin"], "answer": "Warfarin", "gold_doc_ids": ["p1"]}',
    '{"id": "b", "question": "Which potentiates antithrombin?", "options": ["Heparin", "Warfarin"], "answer": "A", "gold_doc_ids": [2]}',
    '{"id": "c", "question": "Pick the third", "options": ["x", "y", "z"], "answer": 2}',
    '{"id": "d", "question": "Is warfarin an anticoagulant?", "answer": "Yes"}',
    '{"id": "e", "question": "What does warfarin antagonise?", "answer": "vitamin K"}',
  ].join('\n');

  it('reads questions of every kind with their gold passages', () => {
    const d = parseJsonlQA({ questions, corpus }, 'mine');
    expect(d.name).toBe('mine');
    expect(d.passages).toEqual([
      { id: 'p1', title: 'Warfarin', text: 'Warfarin is a vitamin K antagonist.' },
      { id: '2', text: 'Heparin potentiates antithrombin.' },
    ]);
    expect(d.questions.map((q) => [q.id, q.kind, q.answer, q.answerIndex, q.goldDocIds])).toEqual([
      ['a', 'multiple-choice', 'Warfarin', 1, ['p1']],
      ['b', 'multiple-choice', 'Heparin', 0, ['2']],
      ['c', 'multiple-choice', 'z', 2, []],
      ['d', 'yes-no-maybe', 'yes', 0, []],
      ['e', 'open', 'vitamin K', undefined, []],
    ]);
    expect(parseDataset('jsonl', { questions: '{"id": 1, "question": "q?", "answer": "no"}' }).passages).toEqual([]);
  });

  it('refuses an answer that is not one of its options', () => {
    const bad = '{"id": "f", "question": "Which?", "options": ["Heparin", "Warfarin"], "answer": "Aspirin"}';
    const e = refusal(() => parseJsonlQA({ questions: questions + '\n' + bad, corpus }));
    expect(e.where).toBe('questions.jsonl line 6');
    expect(e.message).toContain('"answer" "Aspirin" is not one of its 2 options');
    expect(e.message).toContain('its letter (A to B) or its 0-based index (0 to 1)');
  });

  it('refuses gold ids that are not in the corpus, or given without a corpus', () => {
    const q = '{"id": "a", "question": "Which?", "answer": "maybe", "gold_doc_ids": ["p9"]}';
    const e = refusal(() => parseJsonlQA({ questions: q, corpus }));
    expect(e.where).toBe('questions.jsonl line 1');
    expect(e.message).toContain('gold passage "p9" is not in corpus.jsonl');
    expect(refusal(() => parseJsonlQA({ questions: q })).message).toContain('no corpus was given');
  });
});

describe('refusals', () => {
  const mcq = (over: Record<string, unknown>) =>
    JSON.stringify({ id: 'x1', question: 'Q?', opa: 'a', opb: 'b', opc: 'c', opd: 'd', cop: 2, exp: null, ...over });
  const good = [mcq({ id: 'm1' }), mcq({ id: 'm2', exp: 'because' })];

  it('bad JSON on line 3 of a JSONL', () => {
    const e = refusal(() => parseMedMCQA([...good, '{"id": "m3", "question": "Q?",'].join('\n')));
    expect(e.format).toBe('medmcqa');
    expect(e.where).toBe('line 3');
    expect(e.message).toMatch(/^MedMCQA data, line 3: not valid JSON \(.+\)\. Each line must hold one complete JSON object/);
  });

  it('cop 5, and cop 0 with a hint about 0-based exports', () => {
    const e = refusal(() => parseMedMCQA([...good, mcq({ id: 'm3', cop: 5 })].join('\n')));
    expect(e.where).toBe('line 3');
    expect(e.message).toContain('"cop" must be the correct option\'s number, 1 (opa) to 4 (opd) (got 5)');
    expect(refusal(() => parseMedMCQA(mcq({ cop: 0 }))).message).toContain('add 1 to every cop');
  });

  it('missing question', () => {
    const e = refusal(() => parseMedMCQA([mcq({ id: 'm1' }), '', mcq({ id: 'm2', question: undefined })].join('\n')));
    expect(e.where).toBe('line 3'); // the blank line still counts
    expect(e.message).toContain('"question" must be a non-empty string (got nothing)');
    const medqa = refusal(() => parseMedQA('{"options": {"A": "x", "B": "y"}, "answer_idx": "A", "question": "  "}'));
    expect(medqa.where).toBe('line 1');
    expect(medqa.message).toContain('"question" must be a non-empty string (got an empty string)');
  });

  it('duplicate id', () => {
    const e = refusal(() => parseMedMCQA([...good, mcq({ id: 'm1' })].join('\n')));
    expect(e.where).toBe('line 3');
    expect(e.message).toContain('duplicate question id "m1" (first used at line 1)');
  });

  it("PubMedQA final_decision 'perhaps', naming the PMID", () => {
    const raw = JSON.parse(PUBMEDQA) as Record<string, Record<string, unknown>>;
    raw['21645374']!.final_decision = 'perhaps';
    const e = refusal(() => parsePubMedQA(JSON.stringify(raw)));
    expect(e.format).toBe('pubmedqa');
    expect(e.where).toBe('record 21645374');
    expect(e.message).toBe(
      'PubMedQA data, record 21645374: "final_decision" must be "yes", "no" or "maybe" (got "perhaps"). Correct the label or remove the record.',
    );
  });

  it('PubMedQA with a JSON syntax error names the line', () => {
    const e = refusal(() =>
      parsePubMedQA('{\n "1": {"QUESTION": "q", "CONTEXTS": ["c"], "final_decision": "yes"},\n "2": {,}\n}'),
    );
    expect(e.where).toBe('line 3');
    expect(e.message).toContain('not valid JSON');
    expect(refusal(() => parsePubMedQA(PUBMEDQA.slice(0, 5000))).message).toContain('cut short');
  });

  it('MedQA answer_idx that is not an option key', () => {
    const e = refusal(() => parseMedQA('{"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "E"}'));
    expect(e.message).toContain('"answer_idx" must be one of the option keys A, B (got "E")');
  });

  it('a line holding something other than an object, and an empty file', () => {
    expect(refusal(() => parseMedQA('[1, 2]')).message).toContain('each line must hold one JSON object');
    expect(refusal(() => parseMedQA('\n\n')).message).toContain('the file holds no questions');
  });
});

describe('streamed reading', () => {
  // 'é' is 2 bytes, '€' 3 and '𝄞' 4 in UTF-8.
  const textIn = '\uFEFFfirst line é\r\n\nsecond € line\n{"x": "𝄞"}\r\nlast without newline';
  const bytes = new TextEncoder().encode(textIn);
  const expected = [
    { line: 'first line é', number: 1 },
    { line: '', number: 2 },
    { line: 'second € line', number: 3 },
    { line: '{"x": "𝄞"}', number: 4 },
    { line: 'last without newline', number: 5 },
  ];

  it('readLines splits across chunk boundaries inside characters and lines', async () => {
    const eAt = bytes.indexOf(0xc3); // the first byte of 'é'
    const clefAt = bytes.indexOf(0xf0); // the first byte of '𝄞'
    const cuts = [1, 2, 5, eAt + 1, eAt + 2, clefAt + 1, clefAt + 3, bytes.length - 3];
    const chunks: Uint8Array[] = [];
    let prev = 0;
    for (const cut of [...cuts, bytes.length]) {
      chunks.push(bytes.subarray(prev, cut));
      prev = cut;
    }
    const progress: ReadProgress[] = [];
    const lines = [];
    for await (const l of readLines(streamOf(chunks), { total: bytes.length, onProgress: (p) => progress.push(p) }))
      lines.push(l);
    expect(lines).toEqual(expected);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.loaded).toBeGreaterThanOrEqual(progress[i - 1]!.loaded);
    expect(progress[0]).toEqual({ loaded: 0, total: bytes.length });
    expect(progress.at(-1)).toEqual({ loaded: bytes.length, total: bytes.length });
    expect(progress.length).toBe(chunks.length + 2);

    // one byte at a time, and with a trailing newline (no empty last line)
    const single = [];
    for await (const l of readLines(streamOf(chunked(new TextEncoder().encode(textIn + '\n'), 1)))) single.push(l);
    expect(single).toEqual(expected);
  });

  it('readText of ori_pqal.json in 64 KiB chunks equals the file text', async () => {
    const raw = readFileSync(DATA + 'pubmedqa/ori_pqal.json');
    const bytesIn = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    const progress: ReadProgress[] = [];
    const t = await readText(streamOf(chunked(bytesIn, 64 * 1024)), {
      total: bytesIn.length,
      onProgress: (p) => progress.push(p),
    });
    expect(t).toBe(PUBMEDQA);
    expect(progress.at(-1)).toEqual({ loaded: bytesIn.length, total: bytesIn.length });
    expect(parsePubMedQA(t).questions).toHaveLength(1000);
  });

  it('readLines over MedMCQA in 64 KiB chunks gives 4183 JSON lines', async () => {
    let n = 0;
    for await (const { line } of readLines(streamOf(chunked(new TextEncoder().encode(MEDMCQA), 64 * 1024)))) {
      if (line.trim()) {
        JSON.parse(line);
        n++;
      }
    }
    expect(n).toBe(4183);
  });

  it('stops with the abort reason and cancels the stream', async () => {
    const controller = new AbortController();
    let cancelled = false;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new TextEncoder().encode(`line ${++pulls}\n`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const { line } of readLines(stream, { signal: controller.signal })) {
          seen.push(line);
          if (seen.length === 3) controller.abort(new Error('stop'));
        }
      })(),
    ).rejects.toThrow('stop');
    expect(seen).toHaveLength(3);
    expect(cancelled).toBe(true);
  });

  it('parseJsonlLines yields objects with line numbers and uses the given error', () => {
    const out = [...parseJsonlLines('\uFEFF{"a":1}\r\n\r\n{"a":2}', 'f.jsonl', (w, m) => new Error(`${w}|${m}`))];
    expect(out).toEqual([
      { value: { a: 1 }, line: 1 },
      { value: { a: 2 }, line: 3 },
    ]);
    expect(() => [...parseJsonlLines('{"a":1}\nnope', 'f.jsonl', (w, m) => new Error(`${w}|${m}`))]).toThrow(
      /^f\.jsonl line 2\|not valid JSON/,
    );
  });
});

describe('hostile input: bounded counts, linear checks, duplicates, bounded messages, depth', () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const corpusOf = (n: number) =>
    range(n)
      .map((i) => `{"id": ${i}, "text": "passage ${i}"}`)
      .join('\n');
  const MAX_MESSAGE = 500;
  /** A refusal whose message is bounded, prints no `undefined` and no `(got null)`. */
  const bounded = (fn: () => unknown) => {
    const e = refusal(fn);
    expect(e.message.length, e.message.slice(0, 200)).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(e.message).not.toMatch(/\bundefined\b|\(got null\)/);
    return e;
  };

  it('a question with 100,000 gold ids is read (ids checked against Sets), repeats kept once; 100,001 are refused by count', () => {
    const corpus = corpusOf(100_000);
    const gold = [...range(99_990), ...range(10)];
    const d = parseJsonlQA({ questions: JSON.stringify({ id: 'q', question: 'Q?', answer: '', gold_doc_ids: gold }), corpus });
    expect(d.passages).toHaveLength(100_000);
    expect(d.questions[0]!.goldDocIds).toHaveLength(99_990);
    expect(d.questions[0]!.goldDocIds.slice(0, 3)).toEqual(['0', '1', '2']);
    expectGoldResolves(d);

    // refused by the count before any id is looked up (the corpus here has one passage)
    const over = JSON.stringify({ id: 'q', question: 'Q?', answer: '', gold_doc_ids: range(100_001) });
    const e = bounded(() => parseJsonlQA({ questions: over, corpus: corpusOf(1) }));
    expect(e.where).toBe('questions.jsonl line 1');
    expect(e.message).toBe(
      'JSONL QA data, questions.jsonl line 1: "gold_doc_ids" lists 100,001 passages, more than the 100,000 one question may have. Keep the passages that hold the evidence.',
    );
  }, 30_000); // a ceiling for a loaded machine, not a timing check

  it('BEIR: one query with 100,000 positive qrels is read, a 100,001st is refused on its line', () => {
    const corpus = range(100_001)
      .map((i) => `{"_id": "d${i}", "text": "t"}`)
      .join('\n');
    const queries = '{"_id": "q1", "text": "query"}';
    const qrels = (n: number) => range(n).map((i) => `q1\td${i}\t1`);
    const d = parseBeir({ corpus, queries, qrels: qrels(100_000).join('\n') });
    expect(d.questions[0]!.goldDocIds).toHaveLength(100_000);
    expectGoldResolves(d);
    const e = bounded(() => parseBeir({ corpus, queries, qrels: ['query-id\tcorpus-id\tscore', ...qrels(100_001)].join('\n') }));
    expect(e.where).toBe('qrels/test.tsv line 100002');
    expect(e.message).toContain('query-id "q1" has more than 100,000 gold passages');
  }, 30_000);

  it('PubMedQA: a record with more contexts than one question may have is refused with the count', () => {
    const rec = { QUESTION: 'q', CONTEXTS: Array(100_001).fill('c'), final_decision: 'yes' };
    const e = bounded(() => parsePubMedQA(JSON.stringify({ '7': rec })));
    expect(e.where).toBe('record 7');
    expect(e.message).toContain('"CONTEXTS" holds 100,001 passages');
  });

  it('PubMedQA: a PMID given twice is refused naming it and both lines, not the last kept', () => {
    const again = '"21645374": {"QUESTION": "q", "CONTEXTS": ["c"], "final_decision": "no"}';
    const text = PUBMEDQA.replace(/\}\s*$/, `,\n${again}\n}`);
    const e = bounded(() => parsePubMedQA(text));
    expect(e.format).toBe('pubmedqa');
    expect(e.where).toBe('record 21645374');
    const firstLine = PUBMEDQA.slice(0, PUBMEDQA.indexOf('"21645374"')).split('\n').length;
    const lastLine = text.split('\n').length - 1;
    expect(e.message).toBe(
      `PubMedQA data, record 21645374: PMID "21645374" is given twice (lines ${firstLine} and ${lastLine}); JSON would keep only the last record. Remove the repeat or correct its PMID.`,
    );
  });

  it('a key given twice inside a record is refused naming the key (JSON would keep only the last)', () => {
    const line = '{"id": "m1", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 1, "cop": 3}';
    const e = bounded(() => parseMedMCQA(line));
    expect(e.where).toBe('line 1');
    expect(e.message).toMatch(
      /^MedMCQA data, line 1: the key "cop" is given twice \(again at column \d+\); JSON keeps only the last/,
    );
    const nested = bounded(() => parseMedQA('{"question": "Q?", "options": {"A": "x", "B": "y", "A": "z"}, "answer_idx": "A"}'));
    expect(nested.message).toContain('the key "A" in options is given twice');
    const pubmed = bounded(() =>
      parsePubMedQA('{"5": {"QUESTION": "q",\n"QUESTION": "r", "CONTEXTS": [], "final_decision": "yes"}}'),
    );
    expect(pubmed.where).toBe('record 5');
    expect(pubmed.message).toContain('the key "QUESTION" is given twice (again at line 2)');
  });

  it('duplicate passage, query and question ids are refused in every format, a number and its text being one id', () => {
    const beirCorpus = '{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}';
    const e1 = bounded(() => parseBeir({ corpus: beirCorpus, queries: '{"_id": "q", "text": "t"}', qrels: 'q\td1\t1' }));
    expect([e1.where, e1.message]).toEqual([
      'corpus.jsonl line 2',
      'BEIR data, corpus.jsonl line 2: duplicate passage id "d1" (first used at corpus.jsonl line 1). Every passage needs its own id: remove the repeat or rename it.',
    ]);
    const queries = '{"_id": "q", "text": "t"}\n{"_id": "q", "text": "u"}';
    expect(bounded(() => parseBeir({ corpus: '{"_id": "d1", "text": "a"}', queries, qrels: 'q\td1\t1' })).message).toContain(
      'duplicate query id "q" (first used at queries.jsonl line 1)',
    );
    const corpus = '{"id": 2, "text": "a"}\n{"id": "2", "text": "b"}';
    const e2 = bounded(() => parseJsonlQA({ questions: '{"id": "a", "question": "q", "answer": ""}', corpus }));
    expect(e2.message).toContain('duplicate passage id "2" (first used at corpus.jsonl line 1)');
    const medqa = '{"id": 7, "question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "A"}';
    expect(bounded(() => parseMedQA(`${medqa}\n${medqa}`)).message).toContain('duplicate question id "7" (first used at line 1)');
    const jq = '{"id": "a", "question": "q", "answer": ""}';
    expect(bounded(() => parseJsonlQA({ questions: `${jq}\n\n${jq}` })).where).toBe('questions.jsonl line 3');
  });

  it('an id number that would not stay exact (fraction, past 2^53, Infinity) is refused', () => {
    const q = (id: string) => `{"id": ${id}, "question": "q", "answer": ""}`;
    expect(bounded(() => parseJsonlQA({ questions: q('9007199254740993') })).message).toContain(
      '"id" must be a non-empty string or a whole number below 2^53 (got 9007199254740992)',
    );
    expect(bounded(() => parseJsonlQA({ questions: q('1.5') })).message).toContain('(got 1.5)');
    expect(bounded(() => parseJsonlQA({ questions: q('-1e999') })).message).toContain('(got -Infinity)');
  });

  it('a MedQA record with 100,000 option keys gets a short message naming "options" and the count', () => {
    const options = Object.fromEntries(range(100_000).map((i) => [`K${i}`, `option ${i}`]));
    const e = bounded(() => parseMedQA(JSON.stringify({ question: 'Q?', options, answer_idx: 'nope' })));
    expect(e.where).toBe('line 1');
    expect(e.message).toBe(
      'MedQA data, line 1: "options" must be an object of 2 to 26 options like {"A": "...", "B": "..."} (got an object with 100000 keys). Fix or remove this record.',
    );
    // 26 options with long keys: the list of keys in the message is cut
    const long = Object.fromEntries(range(26).map((i) => [`${'k'.repeat(5_000)}${i}`, 'x']));
    const e2 = bounded(() => parseMedQA(JSON.stringify({ question: 'Q?', options: long, answer_idx: 'A' })));
    expect(e2.message).toMatch(/"answer_idx" must be one of the option keys (k+…, )+… \(26 in all\) \(got "A"\)/);
  });

  it('NaN-like values are printed as written, never as null; a real null is named as such', () => {
    const mcq = (cop: string) => `{"id": "x", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": ${cop}}`;
    expect(bounded(() => parseMedMCQA(mcq('1e999'))).message).toContain('(got Infinity)');
    expect(bounded(() => parseMedMCQA(mcq('-0'))).message).toContain('(got -0)');
    expect(bounded(() => parseMedMCQA(mcq('null'))).message).toContain('(got a null value)');
    const huge = bounded(() => parseMedMCQA(mcq(JSON.stringify('x'.repeat(100_000)))));
    expect(huge.message).toContain('(got "xxxx');
  });

  it('prototype keys are refused wherever they are, and nothing is polluted', () => {
    const base = { question: 'Q?', options: { A: 'x', B: 'y' }, answer_idx: 'A' };
    const withKey = (json: string) => JSON.stringify(base).replace('"question"', `${json}, "question"`);
    const e = bounded(() => parseMedQA(withKey('"__proto__": {"polluted": 1}')));
    expect(e.message).toMatch(
      /^MedQA data, line 1: the key "__proto__" \(at column 2\) is refused: __proto__, constructor and prototype/,
    );
    expect(bounded(() => parseMedQA(JSON.stringify(base).replace('"B"', '"constructor"'))).message).toContain(
      'the key "constructor" in options (at column',
    );
    const p = bounded(() => parsePubMedQA('{"prototype": {"QUESTION": "q", "CONTEXTS": ["c"], "final_decision": "yes"}}'));
    expect(p.message).toContain('the key "prototype" (at column 2) is refused');
    expect(bounded(() => parseJsonlQA({ questions: '{"id": "__proto__", "question": "q", "answer": ""}' })).message).toBe(
      'JSONL QA data, questions.jsonl line 1: "id" "__proto__" is refused: __proto__, constructor and prototype are reserved by JavaScript objects. Rename it.',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a value nested 4,000 (or 100,000) levels deep is a DatasetError naming the line, not a RangeError', () => {
    const mcq = '{"id": "m0", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 1}';
    expect(parseMedMCQA(mcq).questions).toHaveLength(1);
    for (const depth of [4_000, 100_000]) {
      const arrays = '['.repeat(depth) + ']'.repeat(depth);
      const objects = '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
      const e = bounded(() => parseMedMCQA(`${mcq}\n{"id": "m1", "question": ${arrays}}`));
      expect(e.where).toBe('line 2');
      expect(e.message).toMatch(/^MedMCQA data, line 2: nested deeper than 64 levels \(at column \d+\)/);
      expect(bounded(() => parsePubMedQA(`{\n"1": ${objects}}`)).where).toBe('line 2');
      expect(bounded(() => parseBeir({ corpus: `{"_id": "d", "text": ${arrays}}`, queries: '', qrels: '' })).where).toBe(
        'corpus.jsonl line 1',
      );
    }
  });

  it('over-long lines, texts and ids are refused with their size; file names in messages are cut', () => {
    const long = `{"id": "a", "question": "${'x'.repeat(4_000_001)}", "answer": ""}`;
    expect(bounded(() => parseJsonlQA({ questions: long })).message).toContain(
      'the line holds 4,000,042 characters, more than the 4,000,000 one record may hold',
    );
    const text = `{"id": "a", "question": "${'x'.repeat(1_000_001)}", "answer": ""}`;
    expect(bounded(() => parseJsonlQA({ questions: text })).message).toContain(
      '"question" holds 1,000,001 characters, more than the 1,000,000 a text may hold',
    );
    const id = `{"id": "${'i'.repeat(1_001)}", "question": "q", "answer": ""}`;
    expect(bounded(() => parseJsonlQA({ questions: id })).message).toContain('"id" holds 1,001 characters');
    const e = bounded(() => parseJsonlQA({ questions: '{"id": 1' }, 'n', { questions: 'q'.repeat(10_000) + '.jsonl' }));
    expect(e.where.length).toBeLessThan(100);
    const files = Object.fromEntries(range(1_000).map((i) => [`file-${i}`, '']));
    expect(bounded(() => parseDataset('beir', files)).message).toContain('(1,000 in all)');
  });
});
