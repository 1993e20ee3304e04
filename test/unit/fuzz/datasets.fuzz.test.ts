// Hostile input for the dataset adapters (src/data/datasets.ts): small valid samples of every
// format, each mutated in one place by the seeded harness (hostile.ts), run through parseDataset.
// A case passes when it is refused with a DatasetError whose message is at most 500 characters
// (and prints no `undefined`, no `(got null)`), or accepted as a dataset that holds no
// non-finite number or prototype key, whose ids are unique and whose gold ids all name passages.
// JSONL formats mutate one record and keep the others. A failure names its seed for replay.
import { describe, expect, it } from 'vitest';
import { MedRankError } from '../../../src/core/errors';
import { DatasetError, parseDataset, type Dataset, type DatasetFormat } from '../../../src/data/datasets';
import { RESERVED_KEYS, scanJson } from '../../../src/data/jsonl';
import { casesOf, fuzz, hostileLeft, report, rng, type Case, type Json } from './hostile';

/** Longest message a dataset refusal may have (the harness allows more). */
const MAX_DATASET_MESSAGE = 500;
/** Cases per sample (a record of a JSONL file, or a whole PubMedQA document). */
const N = 60;

/** What an accepted dataset must hold; a problem in words, or null. */
function invariant(d: Dataset): string | null {
  const left = hostileLeft(d);
  if (left) return left;
  if (d.questions.length === 0) return 'no questions';
  const passages = new Set<string>();
  for (const p of d.passages) {
    if (typeof p.id !== 'string' || typeof p.text !== 'string') return `passage ${String(p.id)} is not text`;
    if (passages.has(p.id)) return `passage id ${p.id.slice(0, 40)} twice`;
    if (RESERVED_KEYS.has(p.id)) return `passage id ${p.id}`;
    passages.add(p.id);
  }
  const questions = new Set<string>();
  for (const q of d.questions) {
    if (typeof q.id !== 'string' || typeof q.question !== 'string' || typeof q.answer !== 'string')
      return `question ${String(q.id)} is not text`;
    if (questions.has(q.id)) return `question id ${q.id.slice(0, 40)} twice`;
    if (RESERVED_KEYS.has(q.id)) return `question id ${q.id}`;
    questions.add(q.id);
    const gold = new Set(q.goldDocIds);
    if (gold.size !== q.goldDocIds.length) return `question ${q.id.slice(0, 40)} lists a gold id twice`;
    for (const g of q.goldDocIds)
      if (!passages.has(g)) return `gold id ${g.slice(0, 40)} of ${q.id.slice(0, 40)} names no passage`;
    if (q.kind === 'multiple-choice') {
      const o = q.options;
      if (!o || o.length < 2 || o.length > 26) return `question ${q.id.slice(0, 40)} has ${o?.length ?? 'no'} options`;
      if (!Number.isInteger(q.answerIndex) || o[q.answerIndex!] !== q.answer)
        return `question ${q.id.slice(0, 40)}: answer is not its option`;
    }
  }
  return null;
}

/** Runs one parse; a refusal that is a MedRankError but not a DatasetError, or is too long, becomes a plain Error the harness reports. */
function parse(format: DatasetFormat, files: Record<string, string>): Dataset {
  try {
    return parseDataset(format, files);
  } catch (e) {
    if (e instanceof MedRankError && !(e instanceof DatasetError))
      throw new Error(`${e.name}, not a DatasetError: ${e.message.slice(0, 200)}`);
    if (e instanceof DatasetError && e.message.length > MAX_DATASET_MESSAGE)
      throw new Error(`message of ${e.message.length} characters: ${e.message.slice(0, 200)}`);
    throw e;
  }
}

const jsonlText = (records: Json[]) => records.map((r) => JSON.stringify(r)).join('\n');

/** Cases of a JSONL file: each record in turn mutated, the others kept. `file` is the mutated file's text. */
function jsonlCases(records: Json[], n: number, base: number): Case[] {
  const lines = records.map((r) => JSON.stringify(r));
  return records.flatMap((r, i) =>
    casesOf([r], n, base + i * 1_000).map((c) => ({
      ...c,
      what: `record ${i + 1}: ${c.what}`,
      text: lines.map((l, k) => (k === i ? c.text : l)).join('\n'),
    })),
  );
}

async function expectNoFailures<T>(cases: Case[], validate: (c: Case) => T, accepted: (v: T) => string | null) {
  const out = await fuzz(cases, validate, accepted);
  expect(out, report(out)).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Samples

const PUBMEDQA: Json = {
  '101': {
    QUESTION: 'Does aspirin reduce fever in adults?',
    CONTEXTS: ['Aspirin is an antipyretic.', 'A trial of 200 adults measured temperature.'],
    LABELS: ['BACKGROUND', 'RESULTS'],
    MESHES: ['Aspirin', 'Fever'],
    YEAR: '2001',
    reasoning_required_pred: 'yes',
    final_decision: 'yes',
    LONG_ANSWER: 'Yes, in this trial.',
  },
  '102': {
    QUESTION: 'Is metformin linked to lactic acidosis?',
    CONTEXTS: ['Case reports describe lactic acidosis.'],
    final_decision: 'maybe',
  },
};

const MEDMCQA: Json[] = [
  {
    id: 'm1',
    question: 'Which vitamin is fat soluble?',
    opa: 'C',
    opb: 'B1',
    opc: 'K',
    opd: 'B12',
    cop: 3,
    exp: null,
    subject_name: 'Biochemistry',
  },
  {
    id: 'm2',
    question: 'Drug of choice for absence seizures?',
    opa: 'Ethosuximide',
    opb: 'Phenytoin',
    opc: 'Carbamazepine',
    opd: 'Gabapentin',
    cop: 1,
    exp: 'Ethosuximide blocks T-type calcium channels.',
    choice_type: 'single',
  },
  { id: 'm3', question: 'Normal adult heart rate?', opa: '30', opb: '60-100', opc: '150', opd: '200', cop: 2, exp: '' },
];

const MEDQA: Json[] = [
  {
    question: 'A 23-year-old presents with fever. Next step?',
    answer: 'Blood cultures',
    options: { A: 'Discharge', B: 'Blood cultures', C: 'Surgery', D: 'MRI' },
    meta_info: 'step1',
    answer_idx: 'B',
  },
  {
    question: 'Which nerve is injured in wrist drop?',
    answer: 'Radial',
    options: { A: 'Ulnar', B: 'Median', C: 'Radial', D: 'Axillary', E: 'Musculocutaneous' },
    answer_idx: 'C',
  },
  { id: 'q-3', question: 'First-line for anaphylaxis?', options: { A: 'Epinephrine', B: 'Antihistamine' }, answer_idx: 'A' },
];

const BEIR_CORPUS: Json[] = [
  { _id: 'd1', title: 'Aspirin', text: 'Aspirin inhibits COX-1.', metadata: { url: 'x' } },
  { _id: 'd2', text: 'Metformin lowers hepatic glucose output.' },
  { _id: 'd3', title: 'Statins', text: '' },
];
const BEIR_QUERIES: Json[] = [
  { _id: 'q1', text: 'What does aspirin inhibit?' },
  { _id: 'q2', text: 'How do statins work?', metadata: {} },
  { _id: 'q3', text: 'unjudged' },
];
const BEIR_QRELS = 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\nq2\td2\t0\n';

const JSONL_CORPUS: Json[] = [
  { id: 'p1', title: 'Warfarin', text: 'Warfarin is a vitamin K antagonist.' },
  { id: 2, text: 'Heparin potentiates antithrombin.' },
];
const JSONL_QUESTIONS: Json[] = [
  {
    id: 'a',
    question: 'Which drug antagonises vitamin K?',
    options: ['Heparin', 'Warfarin', 'Aspirin'],
    answer: 'Warfarin',
    gold_doc_ids: ['p1'],
    split: 'train',
  },
  {
    id: 'b',
    question: 'Which potentiates antithrombin?',
    options: ['Heparin', 'Warfarin'],
    answer: 'A',
    gold_doc_ids: [2, 'p1'],
  },
  { id: 3, question: 'Pick the third', options: ['x', 'y', 'z'], answer: 2 },
  { id: 'd', question: 'Is warfarin an anticoagulant?', answer: 'Yes', gold_doc_ids: [] },
  { id: 'e', question: 'What does warfarin antagonise?', answer: 'vitamin K', split: null },
];

/** Hostile qrels cells (the qrels file is TSV, not JSON, so the harness's mutate does not apply). */
const QRELS_HOSTILE = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '-1',
  '0',
  '0.5',
  '1e308',
  '__proto__',
  'constructor',
  'd1 d2',
  '\u0000',
  'x'.repeat(100_000),
  'q1\td1',
];

/** A seeded mutation of the qrels text: a cell swapped, a column dropped or added, a line repeated, the text cut. */
function qrelsCase(seed: number): Case {
  const r = rng(seed);
  const lines = BEIR_QRELS.trimEnd().split('\n');
  const k = r.int(lines.length);
  const cols = lines[k]!.split('\t');
  const kind = r.int(5);
  let what: string;
  if (kind === 0) {
    const at = r.int(3);
    const v = r.pick(QRELS_HOSTILE);
    cols[at] = v;
    what = `qrels line ${k + 1} column ${at + 1} = ${JSON.stringify(v.slice(0, 20))}`;
  } else if (kind === 1) {
    cols.splice(r.int(3), 1);
    what = `qrels line ${k + 1} lost a column`;
  } else if (kind === 2) {
    cols.push(r.pick(QRELS_HOSTILE));
    what = `qrels line ${k + 1} gained a column`;
  } else if (kind === 3) {
    lines.splice(k, 0, lines[k]!);
    what = `qrels line ${k + 1} repeated`;
  } else {
    const text = BEIR_QRELS.slice(0, r.int(BEIR_QRELS.length));
    return { seed, what: `qrels cut at ${text.length}`, text };
  }
  if (kind <= 2) lines[k] = cols.join('\t');
  return { seed, what, text: lines.join('\n') };
}

// ---------------------------------------------------------------------------------------------

describe('dataset adapters under hostile input', () => {
  it('the samples themselves are accepted', () => {
    expect(invariant(parse('pubmedqa', { data: JSON.stringify(PUBMEDQA) }))).toBeNull();
    expect(invariant(parse('medmcqa', { data: jsonlText(MEDMCQA) }))).toBeNull();
    expect(invariant(parse('medqa', { data: jsonlText(MEDQA) }))).toBeNull();
    const beir = { corpus: jsonlText(BEIR_CORPUS), queries: jsonlText(BEIR_QUERIES), qrels: BEIR_QRELS };
    expect(invariant(parse('beir', beir))).toBeNull();
    expect(invariant(parse('jsonl', { questions: jsonlText(JSONL_QUESTIONS), corpus: jsonlText(JSONL_CORPUS) }))).toBeNull();
  });

  it('PubMedQA: the whole document mutated', async () => {
    const cases = casesOf([PUBMEDQA], N * 4, 1);
    await expectNoFailures(cases, (c) => parse('pubmedqa', { data: c.text }), invariant);
  });

  it('MedMCQA: one record mutated, the others kept', async () => {
    const cases = jsonlCases(MEDMCQA, N, 10_000);
    await expectNoFailures(cases, (c) => parse('medmcqa', { data: c.text }), invariant);
  });

  it('MedQA: one record mutated, the others kept', async () => {
    const cases = jsonlCases(MEDQA, N, 20_000);
    await expectNoFailures(cases, (c) => parse('medqa', { data: c.text }), invariant);
  });

  it('BEIR: one corpus record, one query or the qrels mutated', async () => {
    const corpus = jsonlText(BEIR_CORPUS);
    const queries = jsonlText(BEIR_QUERIES);
    const corpusCases = jsonlCases(BEIR_CORPUS, N, 30_000);
    const queryCases = jsonlCases(BEIR_QUERIES, N, 40_000);
    const qrelsCases = Array.from({ length: N * 2 }, (_, i) => qrelsCase(50_000 + i));
    await expectNoFailures(corpusCases, (c) => parse('beir', { corpus: c.text, queries, qrels: BEIR_QRELS }), invariant);
    await expectNoFailures(queryCases, (c) => parse('beir', { corpus, queries: c.text, qrels: BEIR_QRELS }), invariant);
    await expectNoFailures(qrelsCases, (c) => parse('beir', { corpus, queries, qrels: c.text }), invariant);
  });

  it('generic JSONL: one question or one corpus record mutated', async () => {
    const corpus = jsonlText(JSONL_CORPUS);
    const questions = jsonlText(JSONL_QUESTIONS);
    const qCases = jsonlCases(JSONL_QUESTIONS, N, 60_000);
    const cCases = jsonlCases(JSONL_CORPUS, N, 70_000);
    await expectNoFailures(qCases, (c) => parse('jsonl', { questions: c.text, corpus }), invariant);
    await expectNoFailures(cCases, (c) => parse('jsonl', { questions, corpus: c.text }), invariant);
  });

  it('scanJson finds a syntax problem in exactly the mutated texts JSON.parse refuses', () => {
    const texts = [...casesOf([PUBMEDQA], N, 80_000), ...casesOf([...MEDMCQA, ...MEDQA, ...JSONL_QUESTIONS], N / 2, 90_000)].map(
      (c) => c.text,
    );
    const disagree: string[] = [];
    for (const t of texts) {
      let parsed = true;
      try {
        JSON.parse(t);
      } catch {
        parsed = false;
      }
      const p = scanJson(t);
      if (parsed === (p?.kind === 'syntax'))
        disagree.push(`${parsed ? 'parsed' : 'refused'} but scan says ${p?.kind ?? 'fine'}: ${t.slice(0, 80)}`);
    }
    expect(disagree.slice(0, 5)).toEqual([]);
  });
});
