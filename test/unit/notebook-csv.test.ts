// Results export: CSV columns, values and RFC 4180 quoting, parsed back with a small reader.
import { describe, expect, it } from 'vitest';
import {
  CANDIDATE_COLUMNS,
  candidatesToCsv,
  EVAL_COLUMNS,
  EVAL_RESULT_COLUMNS,
  evalsToCsv,
  QUESTION_COLUMNS,
  recordsToCsv,
  resultsJson,
  STEP_COLUMNS,
} from '../../src/notebook/csv';
import { CANDIDATE_RECORD, EVAL_ENTRY, EVAL_RESULT, QUESTION_RECORD, STEP_RECORD } from '../../src/training/records';
import { PHASES } from '../../src/training/step';
import { stepSeries } from '../../src/components/runView';
import { evalResult, runMeta, stepRecord } from './notebook-fixtures';

/** An RFC 4180 reader (quoted fields may hold commas, doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [],
    f = '',
    quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (c === '"') quoted = false;
      else f += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(f);
      f = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
      i++;
    } else f += c;
  }
  expect(f).toBe(''); // every row ends with CRLF
  return rows;
}

const tricky = 'say "hi", then\nleave';

describe('notebook CSV', () => {
  it('step records: one row per run per step, which models trained, recall@k for every k, phases in order', () => {
    const a = runMeta('r1', 'nb', { name: tricky });
    const b = runMeta('r2', 'nb', { name: 'plain' });
    const csv = recordsToCsv([
      { meta: a, records: [stepRecord(0), stepRecord(1)] },
      { meta: b, records: [stepRecord(0, { recall: { 10: 0.75, 2: 0.5 } })] },
    ]);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([
      'run_id',
      'run_name',
      'step',
      'trains_retriever',
      'trains_generator',
      'retriever_loss',
      'generator_loss',
      'spearman',
      'kendall',
      'recall@1',
      'recall@2',
      'recall@5',
      'recall@10',
      'ms_total',
      ...PHASES.map((p) => `ms_${p}`),
      'gpu_bytes',
    ]);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
    const r1 = stepRecord(1);
    const total = PHASES.reduce((s, p) => s + r1.ms[p], 0);
    expect(rows[2]).toEqual([
      'r1',
      tricky,
      '2', // the record of index 1: the page's step 2
      'true',
      'false', // the generator trains on even steps
      String(r1.loss.retriever),
      '', // generator loss null at step 1
      '0.5',
      String(1 / 3),
      '0.5',
      '',
      '1',
      '',
      String(total),
      ...PHASES.map((p) => String(r1.ms[p])),
      '2048',
    ]);
    expect(rows[3]!.slice(9, 13)).toEqual(['', '0.5', '', '0.75']);
    // The raw text quotes the name and doubles its quotes.
    expect(csv).toContain('"say ""hi"", then\nleave"');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('evaluations: one row per evaluation with accuracy, scored, recall@k, MRR, alignment and time', () => {
    const a = runMeta('r1', 'nb'); // evals at step 0 (recall 1, 5, 10) and 4 (recall 1, 20)
    const b = runMeta('r2', 'nb', { evals: [] });
    const rows = parseCsv(evalsToCsv([a, b]));
    expect(rows[0]).toEqual([
      'run_id',
      'run_name',
      'step',
      'split',
      'questions',
      'accuracy_none',
      'accuracy_retrieved',
      'accuracy_oracle',
      'scored',
      'recall@1',
      'recall@5',
      'recall@10',
      'recall@20',
      'mrr10',
      'spearman',
      'kendall',
      'ms',
    ]);
    const e = evalResult();
    expect(rows.slice(1)).toEqual([
      [
        'r1',
        'jmlr-code #r1',
        '0',
        'validation',
        '8',
        '0.25',
        '0.5',
        '0.875',
        '8',
        '0.25',
        '0.5',
        '0.75',
        '',
        '0.4',
        '0.1',
        '0.05',
        '1234.5',
      ],
      [
        'r1',
        'jmlr-code #r1',
        '4',
        'validation',
        '8',
        '0.25',
        '0.5',
        '0.875',
        '8',
        '0.5',
        '',
        '',
        '1',
        String(e.mrr10),
        '0.1',
        '0.05',
        String(e.ms),
      ],
    ]);
  });

  it('text a spreadsheet would run as a formula is defused; negative numbers are not', () => {
    const meta = runMeta('r1', 'nb', { name: '=HYPERLINK("http://x")' });
    const rows = parseCsv(recordsToCsv([{ meta, records: [stepRecord(0, { loss: { retriever: -0.5, generator: null } })] }]));
    expect(rows[1]![1]).toBe(`'=HYPERLINK("http://x")`);
    expect(rows[0]![5]).toBe('retriever_loss');
    expect(rows[1]![5]).toBe('-0.5');
  });

  it('a field with only a line break, or only a comma, is quoted too', () => {
    const runs = [
      { meta: runMeta('r1', 'nb', { name: 'line one\nline two' }), records: [stepRecord(0)] },
      { meta: runMeta('r2', 'nb', { name: 'a,b' }), records: [stepRecord(0)] },
    ];
    const csv = recordsToCsv(runs);
    expect(csv).toContain('\r\nr1,"line one\nline two",1,');
    expect(csv).toContain('\r\nr2,"a,b",1,');
    expect(parseCsv(csv).map((r) => r[1])).toEqual(['run_name', 'line one\nline two', 'a,b']);
  });

  it("step numbers are the page's: a record of index t is step t + 1, the evaluation after it is at step t + 1 too", () => {
    // A 4-step run evaluated before its first update and after its last: the charts, the steps
    // table and the CSVs all call the last record's row "step 4", the evaluation after it too.
    const meta = runMeta('r1', 'nb'); // evals at steps 0 and 4 of a 4-step config
    const records = [0, 1, 2, 3].map((t) => stepRecord(t));
    const stepCol = (csv: string): string[] => {
      const rows = parseCsv(csv);
      const i = rows[0]!.indexOf('step');
      return rows.slice(1).map((r) => r[i]!);
    };
    const steps = stepCol(recordsToCsv([{ meta, records }]));
    expect(steps).toEqual(['1', '2', '3', '4']);
    expect(steps).toEqual(stepSeries(records).step.map(String)); // the charts' x
    expect(stepCol(evalsToCsv([meta]))).toEqual(['0', '4']);
    expect(steps.at(-1)).toBe(stepCol(evalsToCsv([meta])).at(-1)); // the last update and the evaluation after it
    expect([...new Set(stepCol(candidatesToCsv([{ meta, records }])))]).toEqual(['1', '2', '3', '4']);
    // The JSON keeps the records as saved: 0-based indices.
    const json = JSON.parse(resultsJson([{ meta, records }])) as { runs: { records: { step: number }[] }[] };
    expect(json.runs[0]!.records.map((r) => r.step)).toEqual([0, 1, 2, 3]);
  });

  it('no runs: a header only; results JSON holds meta and records', () => {
    expect(parseCsv(recordsToCsv([]))[0]).toContain('gpu_bytes');
    expect(parseCsv(evalsToCsv([]))).toHaveLength(1);
    const runs = [{ meta: runMeta('r1', 'nb'), records: [stepRecord(0)] }];
    expect(JSON.parse(resultsJson(runs))).toEqual({ format: 'medrank-results', runs });
  });

  it('candidates: one row per candidate of every question of every step, with its question', () => {
    // Step 1's first question recorded where its gold passage ranked and its no-document NLL; the others did not.
    const s1 = stepRecord(1);
    s1.questions[0] = {
      ...s1.questions[0]!,
      goldRank: { docId: 'd37', rank: 37, of: 480, score: 1.5, utility: null },
      nllNoDoc: 2.25,
    };
    const runs = [{ meta: runMeta('r1', 'nb', { name: '@risky' }), records: [stepRecord(0), s1] }];
    const rows = parseCsv(candidatesToCsv(runs));
    expect(rows[0]).toEqual([
      'run_id',
      'run_name',
      'step',
      'question_id',
      'question_spearman',
      'question_kendall',
      'gold_doc_id',
      'gold_rank',
      'gold_of',
      'gold_score',
      'gold_utility',
      'nll_no_doc',
      'doc_id',
      'score',
      'score_after',
      'prob',
      'sampled',
      'utility',
      'gold',
    ]);
    expect(rows).toHaveLength(1 + 2 * 2 * 3); // 2 steps of 2 questions of 3 candidates
    const c = stepRecord(1).questions[0]!.candidates[0]!;
    expect(rows[7]).toEqual([
      'r1',
      "'@risky",
      '2',
      'q1',
      '0.5',
      String(1 / 3),
      'd37',
      '37',
      '480',
      '1.5',
      '',
      '2.25',
      'd00',
      String(c.score),
      String(c.scoreAfter),
      String(c.prob),
      'true',
      String(c.utility),
      'true',
    ]);
    // A question without alignment and a candidate without a score after the update: empty fields.
    expect(rows[6]!.slice(4, 6)).toEqual(['', '']);
    expect(rows[3]![14]).toBe('');
    // Not recorded (records from before, the PyTorch twin's): the gold and baseline fields are empty.
    expect(rows[1]!.slice(6, 12)).toEqual(['', '', '', '', '', '']);
    expect(parseCsv(candidatesToCsv([]))).toHaveLength(1);
  });

  it('every field of each record schema has its columns, or a stated reason to be left out', () => {
    // The tables are keyed by the schemas' fields (a field added to a record does not compile
    // without an entry); here: no table holds a field the schema does not have.
    const tables: [string, { shape: object }, object][] = [
      ['step record', STEP_RECORD, STEP_COLUMNS],
      ['question record', QUESTION_RECORD, QUESTION_COLUMNS],
      ['candidate', CANDIDATE_RECORD, CANDIDATE_COLUMNS],
      ['evaluation', EVAL_ENTRY, EVAL_COLUMNS],
      ['evaluation result', EVAL_RESULT, EVAL_RESULT_COLUMNS],
    ];
    for (const [what, schema, table] of tables) expect(Object.keys(table).sort(), what).toEqual(Object.keys(schema.shape).sort());
    expect(
      Object.entries(STEP_COLUMNS)
        .filter(([, c]) => 'omit' in c)
        .map(([k]) => k),
    ).toEqual(['questions', 'probes']);
    expect(
      Object.entries(EVAL_RESULT_COLUMNS)
        .filter(([, c]) => 'omit' in c)
        .map(([k]) => k),
    ).toEqual(['perQuestion']);
  });
});
