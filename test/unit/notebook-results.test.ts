// Results files as runs: a results.json of `npm run experiment --out` (or the PyTorch twin, the same
// schema) parsed field by field, saved as an imported run of a Train cell, shown by the Compare and
// inspector views, and every kind of malformed file refused with its path and nothing in the
// notebook changed. Two fixtures: the first 2 steps of experiments/results/demo-jmlr.json
// (config.steps 2, its step-0 evaluations, phaseMs the mean of those 2 steps), real numbers from
// the browser engine whose candidates predate scoreAfter (they read as null); and the PyTorch
// twin's results.json of a 2-step run on the tiny fixtures (a bundle from `npm run
// export-experiment` of test/fixtures/tiny-qa with tiny-colbert and tiny-llama, then
// `python -m medrank_torch.train BUNDLE --out results.json --device cpu`), as it wrote it.

import 'fake-indexeddb/auto'; // IDBKeyRange and the IDB* globals that idb's wrappers test against
import { IDBFactory } from 'fake-indexeddb';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  corpusGapMessage,
  corpusGaps,
  candidateRows,
  llmRankPairs,
  questionAt,
  questionsOf,
  rankHistory,
  runOrigin,
  stepSeries,
} from '../../src/components/runView';
import { openNotebookDb, type NotebookDb } from '../../src/notebook/db';
import {
  MAX_RESULTS_CHARS,
  parseNotebookFile,
  parseResultsFile,
  resultsToRun,
  ResultsFileError,
  serializeNotebookFile,
  toNotebookFile,
} from '../../src/notebook/file';
import type { ExperimentResults, StepRecord } from '../../src/notebook/schema';
import { useStore } from '../../src/store';
import { setEngineClient } from '../../src/store/engine';
import { setNotebookDb } from '../../src/store/notebookDb';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import type { EngineApi, LookupResult, PayloadOf } from '../../src/worker/protocol';
import { runMeta, stepRecord } from './notebook-fixtures';

const FIXTURE = new URL('../fixtures/results/demo-jmlr-2steps.json', import.meta.url);
const text = (): string => readFileSync(FIXTURE, 'utf8');
const TWIN = new URL('../fixtures/results/twin-tiny-jmlr.json', import.meta.url);
const twinText = (): string => readFileSync(TWIN, 'utf8');
/** The fixture as plain JSON, for a test to break one field of. */
const json = (): Record<string, any> => JSON.parse(text()); // eslint-disable-line @typescript-eslint/no-explicit-any

/** The file's step records as MedRank reads them: a candidate without scoreAfter has null there. */
const asRead = (steps: StepRecord[]): StepRecord[] =>
  steps.map((s) => ({
    ...s,
    questions: s.questions.map((q) => ({
      ...q,
      candidates: q.candidates.map((c) => ({ ...c, scoreAfter: c.scoreAfter ?? null })),
    })),
  }));

/** parseResultsFile's error for this text (fails the test if it parses). */
function rejection(t: string, opts?: Parameters<typeof parseResultsFile>[1]): ResultsFileError {
  try {
    parseResultsFile(t, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ResultsFileError);
    return err as ResultsFileError;
  }
  throw new Error('the file was accepted');
}
const reject = (f: unknown): ResultsFileError => rejection(JSON.stringify(f));

describe('results file: the browser engine’s results.json', () => {
  it('parses every field, as the file has it', () => {
    const file = json();
    const r = parseResultsFile(text());
    // The config's fields as written, and the ones added since (evalAtStart, recordScoresAfter) at their defaults.
    expect(r.config).toEqual(resolveConfig(file.config as Partial<TrainConfig>));
    expect(r.config).toMatchObject({ name: 'demo-jmlr', steps: 2, retrieverLoss: 'llm-rank', candidates: 10, batchSize: 2 });
    expect(r).toMatchObject({
      data: 'public/demo',
      models: { retriever: 'public/demo/models/retriever', generator: 'public/demo/models/generator' },
      adapter: 'google/swiftshader',
      indexMs: 55277,
      wallSeconds: 1401,
      stopped: null,
    });
    expect(r.phaseMs).toEqual(file.phaseMs);
    expect(r.evals).toEqual(file.evals);
    expect(r.evals.map((e) => [e.step, e.split])).toEqual([
      [0, 'validation'],
      [0, 'test'],
    ]);
    expect(r.steps).toEqual(asRead(file.steps));
    expect(r.steps.map((s) => s.questions.map((q) => q.candidates.length))).toEqual([
      [10, 10],
      [10, 10],
    ]);
  });

  it('keeps scoreAfter where the file has it (a newer run, the twin), and puts steps in order', () => {
    const f = json();
    f.steps[0].questions[0].candidates[0].scoreAfter = 31.5;
    f.steps.reverse();
    const r = parseResultsFile(JSON.stringify(f));
    expect(r.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(r.steps[0]!.questions[0]!.candidates[0]!.scoreAfter).toBe(31.5);
    expect(r.steps[0]!.questions[0]!.candidates[1]!.scoreAfter).toBeNull();
  });

  it('accepts a file that names its format and version 1', () => {
    const r = parseResultsFile(JSON.stringify({ format: 'medrank-experiment-results', formatVersion: 1, ...json() }));
    expect(r.steps).toHaveLength(2);
  });

  it('becomes a finished run with no checkpoint, marked with where it was trained', () => {
    const r = parseResultsFile(text());
    const { meta, records } = resultsToRun(r, {
      id: 'run-x',
      notebookId: 'nb',
      cellId: 'c5',
      name: 'demo-jmlr (google/swiftshader)',
      fileName: 'results.json',
      now: 42,
    });
    expect(records).toBe(r.steps);
    expect(meta).toMatchObject({
      id: 'run-x',
      notebookId: 'nb',
      cellId: 'c5',
      status: 'done',
      steps: 2,
      message: null,
      checkpointStep: null,
      models: null,
      data: null,
      imported: {
        adapter: 'google/swiftshader',
        data: 'public/demo',
        fileName: 'results.json',
        importedAt: 42,
        wallSeconds: 1401,
      },
    });
    expect(runOrigin(meta)).toBe('imported: google/swiftshader');
    expect(runOrigin(runMeta('r1', 'nb'))).toBe('this browser');
    const stopped = resultsToRun(
      { ...r, stopped: { step: 1, message: 'step 1: the retriever loss is not finite' } },
      { id: 'r', notebookId: 'nb', cellId: 'c5', name: 'n', fileName: 'f', now: 1 },
    );
    expect(stopped.meta).toMatchObject({ status: 'stopped', message: 'step 1: the retriever loss is not finite' });
  });
});

describe('results file: the PyTorch twin’s results.json', () => {
  it('parses as the twin wrote it: bundle model references, its engine, every record field', () => {
    const file = JSON.parse(twinText());
    const r = parseResultsFile(twinText());
    expect(r).toMatchObject({
      adapter: 'pytorch/cpu',
      data: 'test/fixtures/tiny-qa',
      models: { retriever: 'bundle retriever/', generator: 'bundle generator/' },
      engine: { name: 'medrank_torch', version: '0.1.0', torch: '1.13.0a0', processes: 1 },
      stopped: null,
    });
    expect(r.config).toEqual(resolveConfig(file.config as Partial<TrainConfig>));
    expect(r.steps).toEqual(file.steps); // scoreAfter recorded: the records as written
    expect(r.evals).toEqual(file.evals);
    const { meta } = resultsToRun(r, { id: 'r', notebookId: 'nb', cellId: 'c5', name: 'n', fileName: 'results.json', now: 1 });
    expect(runOrigin(meta)).toBe('imported: pytorch/cpu');
    expect(meta.imported?.engine).toBe('medrank_torch 0.1.0, torch 1.13.0a0, 1 process');
  });

  it('keeps per-question evaluations (--per-question) checked: one entry per id, 0/1 flags, rates in [0, 1]', () => {
    const f = JSON.parse(twinText());
    const n = f.evals[0].result.questions as number;
    const ids = Array.from({ length: n }, (_, i) => `q${i}`);
    const pq = () => ({
      ids: [...ids],
      correct: { none: ids.map(() => 0), retrieved: ids.map(() => 1), oracle: ids.map(() => null) },
      recall: { 1: ids.map(() => 0), 5: ids.map(() => 1) },
      rr10: ids.map((_, i) => (i ? 1 / (i + 1) : 0)),
      spearman: ids.map(() => 0.5),
    });
    f.evals[0].result.perQuestion = pq();
    const r = parseResultsFile(JSON.stringify(f));
    expect(r.evals[0]!.result.perQuestion).toEqual(pq());
    expect(r.evals[1]!.result.perQuestion).toBeUndefined();
    const broken = (edit: (p: ReturnType<typeof pq>) => void): string => {
      const g = JSON.parse(twinText());
      const p = pq();
      edit(p);
      g.evals[0].result.perQuestion = p;
      return reject(g).message;
    };
    expect(broken((p) => p.rr10.pop())).toMatch(/^evals\[0\]\.result\.perQuestion\.rr10: \d+ items, expected \d+ \(one per id\)/);
    expect(broken((p) => (p.correct.none[0] = 2))).toMatch(/perQuestion\.correct\.none\[0\]: expected 0, 1 or null, got 2/);
    expect(broken((p) => (p.recall[5]![0] = 1.5))).toMatch(/perQuestion\.recall\.5\[0\]: expected a number in \[0, 1\]/);
    expect(broken((p) => p.ids.push('one too many'))).toMatch(
      /perQuestion\.ids: \d+ items, more than the \d+ allowed \(the evaluation's question count\)/,
    );
    expect(broken((p) => Object.assign(p, { extra: 1 }))).toMatch(/perQuestion\.extra: unknown field/);
  });

  it('the inspector’s numbers on it: the step loss from its records, ranks after the update', () => {
    const steps = parseResultsFile(twinText()).steps;
    for (const step of steps) {
      const totals = step.questions.map((q) => llmRankPairs(q)!.total);
      expect(totals.reduce((a, b) => a + b, 0) / totals.length).toBeCloseTo(step.loss.retriever!, 6);
      for (const q of step.questions) expect(candidateRows(q).every((row) => row.rankAfter !== null)).toBe(true);
    }
  });

  it('a hub reference, and a malformed engine or model, are read or refused at their path', () => {
    const f = JSON.parse(twinText());
    f.models.retriever = { hub: 'colbert-ir/colbertv2.0', revision: 'c1'.repeat(20) };
    f.engine.processes = 8;
    f.adapter = 'pytorch/cuda x8';
    const r = parseResultsFile(JSON.stringify(f));
    expect(r.models.retriever).toBe(`hub:colbert-ir/colbertv2.0@${'c1'.repeat(20)}`);
    expect(
      resultsToRun(r, { id: 'r', notebookId: 'n', cellId: 'c', name: 'n', fileName: 'f', now: 1 }).meta.imported?.engine,
    ).toBe('medrank_torch 0.1.0, torch 1.13.0a0, 8 processes');
    f.engine.processes = 0;
    expect(reject(f).message).toMatch(/^engine\.processes: expected an integer from 1 to 1000000, got 0/);
    f.engine = { name: 'medrank_torch', version: '0.2.0', gpus: 8 };
    expect(reject(f).message).toMatch(/^engine\.gpus: unknown field/);
    f.engine = null;
    expect(parseResultsFile(JSON.stringify(f)).engine).toBeNull();
    f.models.generator = { dir: '../outside', hub: 'x' };
    expect(reject(f).message).toMatch(/^models\.generator\.hub: unknown field; known fields: dir\./);
    f.models.generator = 7;
    expect(reject(f).message).toMatch(/^models\.generator: expected a model \(a path/);
  });
});

describe('results file: the views on an imported run', () => {
  const r = (): ExperimentResults => parseResultsFile(text());

  it('Compare’s and the Train cell’s series are the file’s numbers', () => {
    const file = json();
    const s = stepSeries(r().steps);
    expect(s.step).toEqual([1, 2]);
    expect(s.retrieverLoss).toEqual(file.steps.map((x: StepRecord) => x.loss.retriever));
    expect(s.generatorLoss).toEqual(file.steps.map((x: StepRecord) => x.loss.generator));
    expect(s.spearman).toEqual(file.steps.map((x: StepRecord) => x.alignment.spearman));
    expect(Object.keys(s.recall)).toEqual(['1', '5', '10']);
    const total = (x: StepRecord): number => Object.values(x.ms).reduce((a, b) => a + b, 0);
    expect(s.ms).toEqual(file.steps.map(total));
  });

  it('the inspector’s rows, rank history and LLM-Rank pairs recompute the step’s own loss', () => {
    const steps = r().steps;
    const qs = questionsOf(steps);
    expect(qs).toHaveLength(4);
    for (const step of steps) {
      // The step's retriever loss is the mean over its questions of LLM-Rank on the recorded scores and NLLs.
      const totals = step.questions.map((q) => llmRankPairs(q)!.total);
      expect(totals.reduce((a, b) => a + b, 0) / totals.length).toBeCloseTo(step.loss.retriever!, 9);
      for (const q of step.questions) {
        const rows = candidateRows(questionAt(steps, step.step, q.id)!);
        expect(rows).toHaveLength(10);
        expect(rows.map((x) => x.rankRetriever)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(rows.map((x) => x.score)).toEqual([...q.candidates.map((c) => c.score)].sort((a, b) => b - a));
        // 5 judged documents ranked by NLL, no scores after the update in this older file.
        expect(
          rows
            .filter((x) => x.rankUtility !== null)
            .map((x) => x.rankUtility)
            .sort(),
        ).toEqual([1, 2, 3, 4, 5]);
        expect(rows.every((x) => x.rankAfter === null)).toBe(true);
        const pairs = llmRankPairs(q)!;
        expect(pairs.pairs).toHaveLength(10); // C(5, 2)
        expect(pairs.pairs.reduce((a, p) => a + p.loss, 0)).toBeCloseTo(pairs.total, 12);
        const h = rankHistory(steps, q.id);
        expect(h.steps).toEqual([step.step]);
        expect(h.docs.size).toBe(10);
      }
    }
  });

  it('says which of a step’s ids the loaded dataset lacks, plainly', () => {
    const q = r().steps[0]!.questions[0]!;
    const none = { questions: {}, docs: {} };
    expect(corpusGapMessage(corpusGaps(q, none), q.id)).toBeNull();
    const three = Object.fromEntries(q.candidates.slice(0, 3).map((c) => [c.docId, true] as const));
    const g = corpusGaps(q, { questions: {}, docs: three });
    expect(g).toEqual({ question: false, docs: q.candidates.slice(0, 3).map((c) => c.docId), of: 10 });
    expect(corpusGapMessage(g, q.id)).toBe(
      `The loaded dataset does not have 3 of this step's 10 candidates (${g.docs.join(', ')}): the run was trained on other ` +
        "data than the loaded set. The scores, utilities and ranks are the run's own; texts and MaxSim token matches show only " +
        'for what the loaded dataset has.',
    );
    const all = Object.fromEntries(q.candidates.map((c) => [c.docId, true] as const));
    expect(corpusGapMessage(corpusGaps(q, { questions: { [q.id]: true }, docs: all }), q.id)).toMatch(
      new RegExp(`^The loaded dataset has neither the question ${q.id} nor any of its 10 candidates \\(.*, …\\): `),
    );
  });
});

describe('results file: malformed files are refused with the path of the first problem', () => {
  it('truncated JSON, or not JSON at all', () => {
    const t = text();
    const err = rejection(t.slice(0, Math.floor(t.length / 2)));
    expect(err.path).toBe('');
    expect(err.message).toMatch(/not valid JSON .*cut short.*Choose the results\.json/);
    expect(rejection('').message).toMatch(/not valid JSON/);
    expect(reject([1, 2]).message).toMatch(/^expected a results file \(a JSON object\), got a list of 2/);
  });

  it('NaN, Infinity or a string where a number belongs', () => {
    // Python's json.dump writes NaN unless allow_nan=False: the path of the field that holds it.
    const nan = text().replace(/"score": 31\.150239944458008/, '"score": NaN');
    expect(nan).not.toBe(text());
    expect(rejection(nan).message).toMatch(
      /^steps\[0\]\.questions\[0\]\.candidates\[0\]\.score: expected a finite number, got NaN \(JSON has no NaN or Infinity\)\. The results were not imported/,
    );
    const inf = text().replace('"generator": 0.1567401885986328', '"generator": -Infinity');
    expect(rejection(inf).message).toMatch(/^steps\[0\]\.loss\.generator: expected a finite number, got -Infinity/);
    // NaN inside a string is text, not a number: untouched.
    const f = json();
    f.steps[1].questions[1].candidates[3].utility = '0.25';
    expect(reject(f).message).toMatch(
      /^steps\[1\]\.questions\[1\]\.candidates\[3\]\.utility: expected a finite number, got "0\.25"/,
    );
    const g = json();
    g.evals[1].result.accuracy.oracle = 'NaN';
    expect(reject(g).message).toMatch(/^evals\[1\]\.result\.accuracy\.oracle: expected a finite number, got "NaN"/);
    const h = json();
    h.wallSeconds = -1;
    expect(reject(h).message).toMatch(/^wallSeconds: expected a finite number at least 0, got -1/);
  });

  it('lists longer than the run could have made, refused by their length before any item is read', () => {
    // Items that are not candidates at all: the length is what is refused, so it was checked first.
    const f = json();
    f.steps[0].questions[0].candidates = new Array(1_000_000).fill(0);
    expect(reject(f).message).toMatch(
      /^steps\[0\]\.questions\[0\]\.candidates: 1000000 items, more than the 10 allowed \(the run's config\.candidates\)/,
    );
    const g = json();
    g.steps[1].questions = [0, 0, 0];
    expect(reject(g).message).toMatch(/^steps\[1\]\.questions: 3 items, more than the 2 allowed \(the run's config\.batchSize\)/);
    const h = json();
    h.steps = [0, 0, 0];
    expect(reject(h).message).toMatch(/^steps: 3 items, more than the 2 allowed \(the run's config\.steps\)/);
    const i = json();
    i.steps[1].step = 2;
    expect(reject(i).message).toMatch(/^steps\[1\]\.step: step 2 is past the run's 2 steps/);
    const j = json();
    j.steps[1].step = 0;
    expect(reject(j).message).toMatch(/^steps\[1\]\.step: 0 is used by steps\[0\] too/);
    expect(rejection(text(), { maxChars: 1000 }).message).toMatch(/^the file is 0\.0 MB, more than the 0\.0 MB allowed/);
    expect(MAX_RESULTS_CHARS).toBe(256 * 2 ** 20);
  });

  it('__proto__ keys are refused wherever they appear and pollute nothing', () => {
    const proto = '"__proto__": {"polluted": 1}';
    const t = text();
    const cases: [string, string, RegExp][] = [
      ['top level', t.replace(/^\{/, `{${proto},`), /^__proto__: this key is not allowed/],
      ['config', t.replace('"config": {', `"config": {${proto},`), /^config\.__proto__: this key is not allowed/],
      [
        'candidate',
        t.replace('"docId": "demo-p0179",', `"docId": "demo-p0179", ${proto},`),
        /^steps\[0\]\.questions\[0\]\.candidates\[0\]\.__proto__: this key is not allowed/,
      ],
      ['recall', t.replace('"recall": {', `"recall": {${proto},`), /recall\.__proto__: this key is not allowed/],
      ['phaseMs', t.replace('"phaseMs": {', `"phaseMs": {${proto},`), /^phaseMs\.__proto__: this key is not allowed/],
    ];
    for (const [where, bad, message] of cases) {
      expect(bad, where).not.toBe(t);
      expect(rejection(bad).message, where).toMatch(message);
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
    const back = parseResultsFile(t);
    expect(Object.getPrototypeOf(back.steps[0]!.questions[0]!.candidates[0]!)).toBe(Object.prototype);
  });

  it('a newer schema: a higher formatVersion, a field or a config field this page does not know', () => {
    const v3 = rejection(JSON.stringify({ ...json(), formatVersion: 3 }));
    expect(v3.path).toBe('formatVersion');
    expect(v3.message).toMatch(
      /written by a newer MedRank or twin \(results version 3; this page reads up to 2\)\. Reload the page/,
    );
    // Version 2 has scoreAfter on every candidate: a file that says 2 and leaves it out is refused there.
    const v2 = rejection(JSON.stringify({ ...json(), formatVersion: 2 }));
    expect(v2.path).toBe('steps[0].questions[0].candidates[0].scoreAfter');
    expect(v2.message).toMatch(
      /^steps\[0\]\.questions\[0\]\.candidates\[0\]\.scoreAfter: missing; expected null or a finite number/,
    );
    expect(reject({ ...json(), rank: 0 }).message).toMatch(/^rank: unknown field; known fields: config, data, models/);
    const f = json();
    f.config.gradientCheckpointing = true;
    expect(reject(f).message).toMatch(/^config\.gradientCheckpointing: unknown field/);
    const g = json();
    g.steps[0].questions[0].candidates[0].rerankScore = 1;
    expect(reject(g).message).toMatch(/^steps\[0\]\.questions\[0\]\.candidates\[0\]\.rerankScore: unknown field/);
    expect(reject({ ...json(), format: 'other' }).message).toMatch(/^format: expected "medrank-experiment-results" or no format/);
  });

  it('a notebook file or the notebook’s “Results as JSON” export says which import it needs', () => {
    expect(reject({ format: 'medrank-notebook', version: 2 }).message).toMatch(/notebook file.*Import notebook/);
    expect(reject({ format: 'medrank-results', runs: [] }).message).toMatch(/"Results as JSON" export/);
  });

  it('a bad config value is named at its field', () => {
    const f = json();
    f.config.sampled = 20;
    expect(reject(f).message).toMatch(/^config\.sampled: cannot exceed candidates \(20 > 10\)/);
    const g = json();
    delete g.adapter;
    expect(reject(g).message).toMatch(/^adapter: missing; expected a non-empty string/);
  });
});

// ---- in the notebook ----------------------------------------------------------------------------

/** The engine the store talks to: lookup knows only the ids in `known` (another corpus otherwise). */
function fakeEngine(known: Set<string>): EngineApi & { maxsimCalls: number } {
  const engine = {
    maxsimCalls: 0,
    lookup: async (p: PayloadOf<'lookup'>): Promise<LookupResult> => ({
      questions: p.questionIds
        .filter((id) => known.has(id))
        .map((id) => ({ id, question: `text of ${id}`, options: null, answer: 'yes', goldDocIds: [], split: 'train' as const })),
      docs: p.docIds.filter((id) => known.has(id)).map((id) => ({ id, title: null, text: `text of ${id}` })),
      missing: [...p.questionIds, ...p.docIds].filter((id) => !known.has(id)),
    }),
    maxsim: async () => {
      engine.maxsimCalls++;
      throw new Error('the loaded dataset has no such passage');
    },
  };
  return engine as unknown as EngineApi & { maxsimCalls: number };
}

const initial = useStore.getState();
const st = useStore.getState;
let factory: IDBFactory;
let db: NotebookDb;

async function openDb(): Promise<NotebookDb> {
  const p = openNotebookDb({ idbFactory: factory });
  setNotebookDb(p);
  db = await p;
  return db;
}
const blob = (t: string): Blob => new Blob([t], { type: 'application/json' });
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

beforeEach(async () => {
  useStore.setState(initial, true);
  factory = new IDBFactory();
  await openDb();
  setEngineClient(fakeEngine(new Set()));
  await st().openNotebook(); // the demo notebook: its Train cell is c5
});

afterEach(async () => {
  await st().flushSave();
  await tick();
  setEngineClient(null);
});

describe('results file: imported into the notebook', () => {
  it('saves the run with the file’s records and evaluations, listed with its origin, and back after a reload', async () => {
    const id = await st().importResults('c5', blob(text()), 'results.json');
    expect(id).not.toBeNull();
    expect(st().runs.imports.c5).toEqual({
      error: null,
      message:
        'imported “demo-jmlr (google/swiftshader)” from results.json: 2 steps, 2 evaluations, trained on google/swiftshader',
    });
    const file = json();
    const meta = st().runs.list.find((m) => m.id === id)!;
    expect(meta).toMatchObject({
      cellId: 'c5',
      notebookId: st().notebook.doc.id,
      status: 'done',
      steps: 2,
      checkpointStep: null,
    });
    expect(meta.imported).toMatchObject({ adapter: 'google/swiftshader', fileName: 'results.json' });
    expect(meta.evals).toEqual(file.evals);
    expect(st().runs.records[id!]).toEqual(asRead(file.steps));
    // On disk, in one piece.
    expect(await db.getRecords(id!)).toEqual(asRead(file.steps));
    expect((await db.listRuns(st().notebook.doc.id)).map((m) => m.id)).toEqual([id]);

    // A second import of the same file is a second run with its own name.
    const id2 = await st().importResults('c5', blob(text()), 'results.json');
    expect(st().runs.list.map((m) => m.name)).toEqual(['demo-jmlr (google/swiftshader)', 'demo-jmlr (google/swiftshader) #2']);

    // A reload: the runs and their records come back from IndexedDB.
    useStore.setState(initial, true);
    await openDb();
    await st().openNotebook();
    expect(st().runs.list.map((m) => m.id)).toEqual([id, id2]);
    expect(st().runs.list[0]!.imported?.adapter).toBe('google/swiftshader');
    expect(await st().loadRecords(id!)).toEqual(asRead(file.steps));
  });

  it('from the Compare cell: a run of the first Train cell, added to the comparison', async () => {
    const mine = (await st().importResults('c5', blob(text()), 'browser.json'))!;
    st().updateCell('c8', { runIds: [mine] });
    const id = (await st().importResults('c8', blob(twinText()), 'results.json'))!;
    expect(st().runs.list.find((m) => m.id === id)).toMatchObject({ cellId: 'c5', imported: { adapter: 'pytorch/cpu' } });
    expect(st().notebook.doc.cells.find((c) => c.id === 'c8')).toMatchObject({ runIds: [mine, id] });
    expect(st().runs.imports.c8!.message).toMatch(/^imported “tiny-jmlr \(pytorch\/cpu\)” from results\.json: 2 steps/);
    // Without a Train cell there is no cell for the run to belong to.
    st().removeCell('c5');
    expect(await st().importResults('c8', blob(twinText()), 'results.json')).toBeNull();
    expect(st().runs.imports.c8!.error).toMatch(/belongs to a Train cell; add one/);
    expect(st().runs.list).toHaveLength(2);
  });

  it('a twin run imports beside a browser run, each with its origin', async () => {
    const a = (await st().importResults('c5', blob(text()), 'browser.json'))!;
    const b = (await st().importResults('c5', blob(twinText()), 'results.json'))!;
    expect(st().runs.list.map((m) => [m.id, m.name, runOrigin(m)])).toEqual([
      [a, 'demo-jmlr (google/swiftshader)', 'imported: google/swiftshader'],
      [b, 'tiny-jmlr (pytorch/cpu)', 'imported: pytorch/cpu'],
    ]);
    expect(await db.getRecords(b)).toEqual(JSON.parse(twinText()).steps);
  });

  it('travels in a notebook file (version 5) with its origin; a version 1 file still opens', async () => {
    const id = (await st().importResults('c5', blob(text()), 'results.json'))!;
    const exported = await (await st().exportNotebook()).text();
    const back = parseNotebookFile(exported);
    expect(back.version).toBe(5);
    expect(back.runs[0]!.meta.imported).toEqual(st().runs.list[0]!.imported);
    expect(back.runs[0]!.records).toEqual(st().runs.records[id]);
    const v1 = toNotebookFile(st().notebook.doc, [{ meta: runMeta('r1', st().notebook.doc.id), records: [stepRecord(0)] }]);
    expect(parseNotebookFile(serializeNotebookFile({ ...v1, version: 1 })).runs[0]!.meta).toEqual(
      runMeta('r1', st().notebook.doc.id),
    );
    const bad = JSON.parse(exported);
    bad.runs[0].meta.imported.adapter = 7;
    expect(() => parseNotebookFile(JSON.stringify(bad))).toThrow(
      /^runs\[0\]\.meta\.imported\.adapter: expected a non-empty string of at most 200 characters, got 7/,
    );
  });

  it('refuses malformed files with the path, and loses nothing already in the notebook', async () => {
    const good = (await st().importResults('c5', blob(text()), 'good.json'))!;
    st().setTitle('Keep me');
    await st().flushSave();
    const before = { doc: st().notebook.doc, list: st().runs.list, records: st().runs.records };
    const onDisk = { runs: await db.listRuns(before.doc.id), records: await db.getRecords(good) };

    const bad = (f: Record<string, unknown>): string => JSON.stringify(f);
    const huge = json();
    huge.steps[0].questions[0].candidates = new Array(200_000).fill(0);
    const proto = text().replace(/^\{/, '{"__proto__": {"polluted": 1},');
    const nan = text().replace(/"score": 31\.150239944458008/, '"score": NaN');
    const cases: [string, RegExp][] = [
      [text().slice(0, 5000), /^not imported: bad\.json: this is not a results file: it is not valid JSON/],
      [nan, /^not imported: bad\.json: steps\[0\]\.questions\[0\]\.candidates\[0\]\.score: expected a finite number, got NaN/],
      [
        bad({ ...json(), indexMs: '55277' }),
        /^not imported: bad\.json: indexMs: expected a finite number at least 0, got "55277"/,
      ],
      [bad(huge), /^not imported: bad\.json: steps\[0\]\.questions\[0\]\.candidates: 200000 items, more than the 10 allowed/],
      [proto, /^not imported: bad\.json: __proto__: this key is not allowed/],
      [bad({ ...json(), formatVersion: 3 }), /^not imported: bad\.json: formatVersion: this file was written by a newer MedRank/],
    ];
    for (const [t, message] of cases) {
      expect(await st().importResults('c5', blob(t), 'bad.json')).toBeNull();
      expect(st().runs.imports.c5!.error).toMatch(message);
      expect(st().runs.imports.c5!.message).toBeNull();
      expect(st().runs.list).toBe(before.list);
      expect(st().runs.records).toBe(before.records);
      expect(st().notebook.doc).toBe(before.doc);
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(await db.listRuns(before.doc.id)).toEqual(onDisk.runs);
    expect(await db.getRecords(good)).toEqual(onDisk.records);
    expect((await db.loadCurrentNotebook())?.title).toBe('Keep me');
    // A cell that is neither a Train nor a Compare cell imports nothing.
    expect(await st().importResults('c1', blob(text()))).toBeNull();
    expect(st().runs.list).toBe(before.list);
  });

  it('refuses a file over the size limit by its size, before reading it', async () => {
    let read = false;
    const big = { size: MAX_RESULTS_CHARS + 1, text: () => ((read = true), Promise.resolve('{}')) } as unknown as Blob;
    expect(await st().importResults('c5', big, 'big.json')).toBeNull();
    expect(read).toBe(false);
    expect(st().runs.imports.c5!.error).toMatch(
      /^not imported: big\.json: the file is 256\.0 MB, more than the 256\.0 MB allowed/,
    );
  });

  it('a storage failure keeps the run for the session, says so, and writes nothing half', async () => {
    db.importRun = () => Promise.reject(new Error('Browser storage is full'));
    const id = (await st().importResults('c5', blob(text()), 'results.json'))!;
    expect(st().runs.list.map((m) => m.id)).toEqual([id]);
    expect(st().runs.imports.c5!.error).toMatch(/for this session only \(not saved: Browser storage is full\)/);
    expect(await db.listRuns(st().notebook.doc.id)).toEqual([]);
  });

  it('importRun is one transaction: a taken id writes nothing', async () => {
    const r = parseResultsFile(text());
    const run = resultsToRun(r, { id: 'r1', notebookId: 'nb', cellId: 'c5', name: 'n', fileName: 'f', now: 1 });
    await db.importRun(run.meta, run.records);
    await expect(db.importRun({ ...run.meta, name: 'other' }, [stepRecord(7)])).rejects.toThrow(/already stored/);
    expect((await db.listRuns('nb')).map((m) => m.name)).toEqual(['n']);
    expect((await db.getRecords('r1')).map((x) => x.step)).toEqual([0, 1]);
  });

  it('the inspector’s lookups remember ids the loaded dataset lacks, and token matches are not asked for them', async () => {
    const r = parseResultsFile(text());
    const q = r.steps[0]!.questions[0]!;
    const known = new Set([q.id, q.candidates[0]!.docId]);
    const engine = fakeEngine(known);
    setEngineClient(engine);
    useStore.setState((s) => ({ data: { ...s.data, status: 'ready' } }));
    await st().lookupTexts(
      [q.id],
      q.candidates.map((c) => c.docId),
    );
    const t = st().texts;
    expect(Object.keys(t.questions)).toEqual([q.id]);
    expect(Object.keys(t.docs)).toEqual([q.candidates[0]!.docId]);
    expect(Object.keys(t.missing.docs)).toEqual(q.candidates.slice(1).map((c) => c.docId));
    expect(corpusGaps(q, t.missing)).toMatchObject({ question: false, of: 10 });
    expect(corpusGapMessage(corpusGaps(q, t.missing), q.id)).toMatch(/^The loaded dataset does not have 9 of this step's 10/);
    expect(await st().explainMaxSim('a question', q.candidates[1]!.docId)).toBeNull();
    expect(engine.maxsimCalls).toBe(0);
    expect(st().texts.error).toBeNull();
    // A new dataset forgets what was missing from the old one.
    st().clearTexts('all');
    expect(st().texts.missing).toEqual({ questions: {}, docs: {} });
  });
});
