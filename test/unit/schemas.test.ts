// Every saved or imported shape, pinned: each schema's fields, in order, with what each expects.
// A saved shape is what IndexedDB holds (src/notebook/db.ts), what a notebook file carries and what
// a results file is (src/notebook/file.ts). CHANGING ANYTHING PINNED HERE CHANGES A SAVED SHAPE:
// bump the notebook file's version (NOTEBOOK_FILE_VERSION) with a FILE_MIGRATIONS entry, the
// results file's (RESULTS_FILE_VERSION, RESULTS_MIGRATIONS) where results files carry it, and add
// a store migration (db.ts MIGRATIONS) where IndexedDB holds it, so that every file and database
// written before still reads; then update the pin and the version pins below. (A config field is
// the exception: a saved config reads with the fields added since at their defaults.)

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import * as S from '../../src/core/schema';
import { MIGRATIONS, openNotebookDb } from '../../src/notebook/db';
import {
  FILE_MIGRATIONS,
  NotebookFileError,
  parseNotebookFile,
  parseResultsFile,
  RESULTS_MIGRATIONS,
  ResultsFileError,
  serializeNotebookFile,
  toNotebookFile,
} from '../../src/notebook/file';
import * as N from '../../src/notebook/schema';
import { TRAIN_CONFIG } from '../../src/training/config';
import * as R from '../../src/training/records';
import { checkpoint, fullNotebook, runMeta, stepRecord } from './notebook-fixtures';

type AnyObject = { shape: Record<string, S.Schema<unknown> & { optional?: boolean }> };

/** A schema's fields in order, each with what it expects ("?" after the name: it may be left out). */
function fieldsOf(s: AnyObject): [string, string][] {
  return Object.entries(s.shape).map(([k, v]) => [`${k}${v.optional ? '?' : ''}`, v.expects]);
}
const pin = (s: AnyObject, expected: Record<string, string>): void => expect(fieldsOf(s)).toEqual(Object.entries(expected));
const pinVariants = (s: { variants: Record<string, AnyObject> }, expected: Record<string, Record<string, string>>): void => {
  expect(Object.keys(s.variants)).toEqual(Object.keys(expected));
  for (const [k, v] of Object.entries(s.variants)) expect(fieldsOf(v), k).toEqual(Object.entries(expected[k]!));
};

describe('schemas: every saved shape, pinned (a change here bumps a version, with a migration)', () => {
  it('the versions that go with these pins', () => {
    expect(N.NOTEBOOK_FILE_VERSION).toBe(5);
    expect(FILE_MIGRATIONS).toHaveLength(N.NOTEBOOK_FILE_VERSION - 1);
    expect(N.RESULTS_FILE_VERSION).toBe(2);
    expect(RESULTS_MIGRATIONS).toHaveLength(N.RESULTS_FILE_VERSION - 1);
    expect(MIGRATIONS).toHaveLength(2); // the store's version
  });

  it('step records, their questions and candidates (records.ts)', () => {
    pin(R.CANDIDATE_RECORD, {
      docId: 'an id (a string of at most 4096 characters)',
      score: 'a finite number',
      scoreAfter: 'null or a finite number',
      prob: 'a finite number',
      sampled: 'true or false',
      utility: 'null or a finite number',
      gold: 'true or false',
    });
    pin(R.QUESTION_RECORD, {
      id: 'an id (a string of at most 4096 characters)',
      candidates: 'a list of at most 100 items, each a candidate',
      spearman: 'null or a finite number',
      kendall: 'null or a finite number',
      'goldRank?': "null or a gold passage's rank (rank at most of)",
      'nllNoDoc?': 'null or a finite number',
    });
    pin(R.GOLD_RANK_FIELDS, {
      docId: 'an id (a string of at most 4096 characters)',
      rank: 'an integer from 1 to 9007199254740991',
      of: 'an integer from 1 to 9007199254740991',
      score: 'a finite number',
      utility: 'null or a finite number',
    });
    pin(R.STEP_RECORD, {
      step: 'an integer from 0 to 100000',
      trains: '{ retriever, generator }, each true or false',
      loss: '{ retriever, generator }, each null or a finite number',
      questions: 'a list of at most 64 items, each a question record',
      alignment: '{ spearman, kendall }, each null or a finite number',
      recall: 'a JSON object of at most 100 keys, each a k (1, 5, 10...), each value a finite number',
      ms: '{ refresh, retrieve, retrieverForward, utility, retrieverLoss, generatorForward, backward, update }, each a finite number at least 0',
      gpuBytes: 'an integer from 0 to 9007199254740991',
      'probes?': 'a list of at most 64 items, each a question record',
    });
    pin(R.PER_QUESTION_RESULT, {
      ids: 'a list of at most 100000 items, each an id (a string of at most 4096 characters)',
      correct: '{ none, retrieved, oracle }, each a list of at most 100000 items, each 0, 1 or null',
      recall:
        'a JSON object of at most 100 keys, each a k (1, 5, 10...), each value a list of at most 100000 items, each a number in [0, 1]',
      rr10: 'a list of at most 100000 items, each a number in [0, 1]',
      spearman: 'a list of at most 100000 items, each null or a finite number',
    });
    pin(R.EVAL_RESULT, {
      questions: 'an integer from 0 to 10000000',
      accuracy: '{ none, retrieved, oracle }, each a finite number',
      scored: 'an integer from 0 to 10000000',
      recall: 'a JSON object of at most 100 keys, each a k (1, 5, 10...), each value a finite number',
      mrr10: 'a finite number',
      alignment: '{ spearman, kendall }, each a finite number',
      ms: 'a finite number at least 0',
      'perQuestion?': "an evaluation's per-question results",
    });
    pin(R.EVAL_ENTRY, {
      step: 'an integer from 0 to 100000',
      split: 'one of "train", "validation", "test"',
      result: 'an evaluation result',
    });
    pin(R.CHECKPOINT_META, {
      step: 'an integer from 0 to 100000',
      config: 'a config (a JSON object of fields, see public/presets/)',
      records: 'a list of at most 100000 items, each a step record',
      evals: 'a list of at most 10000 items, each an evaluation',
    });
  });

  it('the notebook, its cells and runs, the notebook file (notebook/schema.ts)', () => {
    pin(N.NOTEBOOK_FILE, {
      format: 'one of "medrank-notebook"',
      version: 'an integer from 1 to 5',
      exportedAt: 'a finite number',
      notebook: 'a notebook',
      runs: 'a list of at most 10000 items, each a run',
    });
    pin(N.NOTEBOOK, {
      id: 'an id (a non-empty string of at most 200 characters)',
      title: 'a string of at most 1000 characters',
      cells: 'a list of at most 10000 items, each a cell (a JSON object)',
      updatedAt: 'a finite number',
    });
    pin(N.RUN_FILE, {
      meta: 'a run',
      records: 'a list of at most 100000 items, each a step record',
    });
    pin(N.RUN_META, {
      id: 'an id (a non-empty string of at most 200 characters)',
      notebookId: 'an id (a non-empty string of at most 200 characters)',
      cellId: 'an id (a non-empty string of at most 200 characters)',
      name: 'a string of at most 1000 characters',
      createdAt: 'a finite number',
      config: 'a config (a JSON object of fields, see public/presets/)',
      models: 'null or the run models',
      data: 'null or a data reference (a JSON object)',
      status: 'one of "running", "done", "stopped", "error", "interrupted"',
      steps: 'an integer from 0 to 100000',
      evals: 'a list of at most 10000 items, each an evaluation',
      phaseMs:
        'a JSON object of at most 8 keys, each one of "refresh", "retrieve", "retrieverForward", "utility", "retrieverLoss", "generatorForward", "backward", "update", each value a finite number at least 0',
      message: 'null or a string of at most 65536 characters',
      checkpointStep: 'null or an integer from 0 to 100000',
      updatedAt: 'a finite number',
      'imported?': 'where an imported run was trained',
      'start?': 'where the run started (a JSON object)',
    });
    pin(N.RUN_MODELS, {
      retriever: 'a model reference (a JSON object)',
      generator: 'a model reference (a JSON object)',
    });
    pin(N.RUN_ORIGIN, {
      adapter: 'a non-empty string of at most 200 characters',
      data: 'a non-empty string of at most 4096 characters',
      models: 'the models (their paths or hub ids)',
      'engine?': 'a string of at most 1000 characters',
      wallSeconds: 'a finite number at least 0',
      indexMs: 'a finite number at least 0',
      fileName: 'a string of at most 1000 characters',
      importedAt: 'a finite number',
    });
    pin(N.MODEL_LABELS, {
      retriever: 'a non-empty string of at most 4096 characters',
      generator: 'a non-empty string of at most 4096 characters',
    });
    pin(N.LAST_EVALUATION, {
      at: 'a finite number',
      runId: 'null or an id (a non-empty string of at most 200 characters)',
      result: 'an evaluation result',
    });
    pinVariants(N.CELL, {
      markdown: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "markdown"',
        text: 'a string of at most 1048576 characters',
      },
      data: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "data"',
        source: 'a data reference (a JSON object)',
      },
      models: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "models"',
        retriever: 'a model reference (a JSON object)',
        generator: 'a model reference (a JSON object)',
      },
      index: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "index"',
      },
      train: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "train"',
        preset: 'null or a preset name like "jmlr-code"',
        overrides: 'a config (a JSON object of fields, see public/presets/)',
      },
      evaluate: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "evaluate"',
        split: 'one of "train", "validation", "test"',
        limit: 'an integer from 0 to 10000000',
        last: 'null or the last evaluation',
      },
      inspect: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "inspect"',
        runId: 'null or an id (a non-empty string of at most 200 characters)',
        questionId: 'null or an id (a string of at most 4096 characters)',
        step: 'null or an integer from 0 to 100000',
      },
      compare: {
        id: 'an id (a non-empty string of at most 200 characters)',
        kind: 'one of "compare"',
        runIds: 'a list of at most 10000 items, each an id (a non-empty string of at most 200 characters)',
      },
    });
    pinVariants(R.RUN_START, {
      loaded: { from: 'one of "loaded"' },
      run: { from: 'one of "run"', runId: 'a non-empty string of at most 200 characters', step: 'an integer from 0 to 100000' },
    });
    pinVariants(N.MODEL_REF, {
      demo: {
        kind: 'one of "demo"',
        'model?': 'one of "dense-retriever"',
        'frozenDtype?': 'one of "f32", "f16"',
      },
      hub: {
        kind: 'one of "hub"',
        repo: 'a Hugging Face repo like "owner/name"',
        'revision?': 'an id (a non-empty string of at most 200 characters)',
        'frozenDtype?': 'one of "f32", "f16"',
      },
      url: {
        kind: 'one of "url"',
        url: 'an http(s) URL',
        'frozenDtype?': 'one of "f32", "f16"',
      },
      folder: {
        kind: 'one of "folder"',
        label: 'a string of at most 1000 characters',
        'frozenDtype?': 'one of "f32", "f16"',
      },
    });
    pinVariants(N.DATA_REF, {
      demo: {
        kind: 'one of "demo"',
      },
      url: {
        kind: 'one of "url"',
        format: 'one of "beir", "pubmedqa", "medmcqa", "medqa", "jsonl"',
        urls: 'a JSON object of at most 100 keys, each a short name (letters, digits, _ . -), each value an http(s) URL',
      },
      files: {
        kind: 'one of "files"',
        format: 'one of "beir", "pubmedqa", "medmcqa", "medqa", "jsonl"',
        names:
          'a JSON object of at most 100 keys, each a short name (letters, digits, _ . -), each value a string of at most 1000 characters',
      },
    });
  });

  it('results files (notebook/schema.ts)', () => {
    pin(N.RESULTS_FILE, {
      config: 'a config (a JSON object of fields, see public/presets/)',
      data: 'a non-empty string of at most 4096 characters',
      models: 'the models',
      adapter: 'a non-empty string of at most 200 characters',
      'engine?': 'null or the engine that trained the run',
      indexMs: 'a finite number at least 0',
      wallSeconds: 'a finite number at least 0',
      stopped: 'null or where the run stopped',
      phaseMs:
        'a JSON object of at most 8 keys, each one of "refresh", "retrieve", "retrieverForward", "utility", "retrieverLoss", "generatorForward", "backward", "update", each value a finite number at least 0',
      evals: 'a list of at most 10000 items, each an evaluation',
      steps: 'a list of at most 100000 items, each a step record',
      'format?': 'one of "medrank-experiment-results"',
      'formatVersion?': 'an integer from 1 to 2',
    });
    pin(N.RESULTS_MODELS, {
      retriever: 'a model (a path, {"dir": folder} or {"hub": id, "revision": commit})',
      generator: 'a model (a path, {"dir": folder} or {"hub": id, "revision": commit})',
    });
    pin(N.BUNDLE_DIR, {
      dir: 'a non-empty string of at most 4096 characters',
    });
    pin(N.HUB_AT, {
      hub: 'a non-empty string of at most 4096 characters',
      revision: 'a non-empty string of at most 4096 characters',
    });
    pin(N.ENGINE, {
      name: 'a non-empty string of at most 200 characters',
      version: 'a string of at most 200 characters',
      'torch?': 'a string of at most 200 characters',
      'processes?': 'an integer from 1 to 1000000',
    });
    pin(N.STOPPED, {
      step: 'an integer from 0 to 100000',
      message: 'a string of at most 4096 characters',
    });
    expect(N.MODEL_IN_RESULTS.expects).toBe(N.HUB_AT.expects);
  });

  it('the training config a run saves (config.ts: a field comes with its default, no version)', () => {
    pin(TRAIN_CONFIG, {
      name: 'a run name (up to 200 characters)',
      seed: 'an integer from 0 to 4294967295',
      steps: 'an integer from 0 to 100000',
      batchSize: 'an integer from 1 to 64',
      schedule: 'one of "synchronous", "staged", "frozen-retriever", "retriever-only"',
      stagedReaderFraction: 'a finite number above 0 and below 1',
      retrieverLoss:
        'one of "llm-rank", "listwise", "jomed", "pdist", "loop", "emdr2", "replug", "rag-marginal", "infonce", "none"',
      candidates: 'an integer from 2 to 100',
      sampled: 'an integer from 1 to 100',
      sampling: 'true or false',
      samplingTemperature: 'a finite number above 0',
      llmRankMargin: 'a finite number at least 0',
      tauS: 'a finite number above 0',
      tauG: 'a finite number above 0',
      jomedPrior: 'true or false',
      jomedWeighting: 'true or false',
      infoNceTau: 'a finite number above 0',
      inBatchNegatives: 'true or false',
      pretrainPairs: 'one of "none", "title", "ict"',
      topM: 'an integer from 1 to 20',
      generatorContext: 'one of "concat", "per-document"',
      docMaxTokens: 'an integer from 4 to 4096',
      retrieverSide: 'one of "query", "both"',
      retrieverTraining: 'one of "projection", "lora", "full"',
      generatorLora: '{ r, alpha, dropout, targetModules }',
      generatorEmbeddings: 'true or false',
      generatorNorms: 'true or false',
      lrRetriever: 'a finite number at least 0 and at most 1',
      lrGenerator: 'a finite number at least 0 and at most 1',
      weightDecay: 'a finite number at least 0 and at most 10',
      maxGradNorm: 'a finite number at least 0',
      dropout: 'true or false',
      s2attn: 'null or { ratio in (0, 1], shift: "roll" | "split" }',
      refreshIndexEvery: 'an integer from 0 to 100000',
      checkpointEvery: 'an integer from 0 to 100000',
      evalSplit: 'one of "validation", "test"',
      evalAtStart: 'true or false',
      reportTest: 'true or false',
      evalEvery: 'an integer from 0 to 100000',
      evalLimit: 'an integer from 0 to 10000000',
      evalAlignmentCandidates: 'an integer from 2 to 100',
      recordScoresAfter: 'true or false',
      probeQuestions: 'an integer from 0 to 64',
      probeEvery: 'an integer from 1 to 100000',
    });
    pin(TRAIN_CONFIG.shape.generatorLora, {
      r: 'an integer from 1 to 1024',
      alpha: 'a finite number above 0 and at most 1000000',
      dropout: 'a finite number at least 0 and below 1',
      targetModules: 'a list of from 1 to 64 items, each a module name like "q_proj"',
    });
    expect(R.SAVED_CONFIG.expects).toBe(TRAIN_CONFIG.expects);
  });
});

/** A step record as written before scoreAfter existed: no candidate has it. */
function beforeScoreAfter(step: number): Record<string, unknown> {
  const r = structuredClone(stepRecord(step)) as unknown as { questions: { candidates: Record<string, unknown>[] }[] };
  for (const q of r.questions) for (const c of q.candidates) delete c.scoreAfter;
  return r as unknown as Record<string, unknown>;
}
const withNullScoreAfter = (step: number) => {
  const r = stepRecord(step);
  return {
    ...r,
    questions: r.questions.map((q) => ({ ...q, candidates: q.candidates.map((c) => ({ ...c, scoreAfter: null })) })),
  };
};

describe('schemas: scoreAfter came with a version and a migration', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const file = (): Record<string, any> =>
    JSON.parse(
      serializeNotebookFile(
        toNotebookFile(fullNotebook(), [{ meta: runMeta('r1', 'nb1'), records: [stepRecord(0), stepRecord(1)] }]),
      ),
    );

  it('a version 2 notebook file whose candidates lack scoreAfter migrates to scoreAfter null', () => {
    const f = file();
    f.version = 2;
    f.runs[0].records = [beforeScoreAfter(0), stepRecord(1)]; // a run's records from before, and one from after
    const back = parseNotebookFile(JSON.stringify(f));
    expect(back.version).toBe(5);
    expect(back.runs[0]!.records).toEqual([withNullScoreAfter(0), stepRecord(1)]);
    // A version 1 file migrates through both steps.
    expect(parseNotebookFile(JSON.stringify({ ...f, version: 1 })).runs[0]!.records[0]).toEqual(withNullScoreAfter(0));
  });

  it('a version 3 (or later) notebook file without scoreAfter is refused, naming the path', () => {
    const f = file();
    delete f.runs[0].records[1].questions[1].candidates[2].scoreAfter;
    let err: unknown;
    try {
      parseNotebookFile(JSON.stringify(f));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotebookFileError);
    expect((err as NotebookFileError).path).toBe('runs[0].records[1].questions[1].candidates[2].scoreAfter');
    expect((err as NotebookFileError).problem).toBe('missing; expected null or a finite number');
  });

  it('a results file of version 1 (no formatVersion) reads scoreAfter null where it lacks it; version 2 must have it', () => {
    const results = {
      config: { ...runMeta('r', 'nb').config, steps: 2, batchSize: 2, candidates: 3, sampled: 2, topM: 2 },
      data: 'data',
      models: { retriever: 'r', generator: 'g' },
      adapter: 'google/swiftshader',
      indexMs: 1,
      wallSeconds: 2,
      stopped: null,
      phaseMs: { retrieve: 1 },
      evals: [],
      steps: [beforeScoreAfter(0), stepRecord(1)],
    };
    const r = parseResultsFile(JSON.stringify(results));
    expect(r.steps).toEqual([withNullScoreAfter(0), stepRecord(1)]);
    expect(r.engine).toBeNull();
    expect(parseResultsFile(JSON.stringify({ ...results, formatVersion: 1 })).steps).toEqual(r.steps);
    expect(() => parseResultsFile(JSON.stringify({ ...results, formatVersion: 2 }))).toThrow(ResultsFileError);
    expect(() => parseResultsFile(JSON.stringify({ ...results, formatVersion: 2 }))).toThrow(
      /^steps\[0\]\.questions\[0\]\.candidates\[0\]\.scoreAfter: missing/,
    );
    const v2 = { ...results, formatVersion: 2, steps: [stepRecord(0), stepRecord(1)] };
    expect(parseResultsFile(JSON.stringify(v2)).steps).toEqual(v2.steps);
  });

  it('IndexedDB: records and checkpoints stored before scoreAfter read with null there after the upgrade', async () => {
    const factory = new IDBFactory();
    const open = (migrations?: typeof MIGRATIONS) =>
      openNotebookDb({ idbFactory: factory, name: 'migrate', migrations, liveRuns: async () => new Set() });
    const v1 = await open(MIGRATIONS.slice(0, 1));
    await v1.putRun(runMeta('r1', 'nb1'));
    const old = [beforeScoreAfter(0), stepRecord(1)] as unknown as R.StepRecord[];
    await v1.appendRecords('r1', old);
    const cp = checkpoint(2);
    await v1.putCheckpoint('r1', { ...cp, records: old });
    v1.close();

    const db = await open();
    expect(db.version).toBe(MIGRATIONS.length);
    expect(await db.getRecords('r1')).toEqual([withNullScoreAfter(0), stepRecord(1)]);
    const back = (await db.getCheckpoint('r1'))!;
    expect(back.records).toEqual([withNullScoreAfter(0), stepRecord(1)]);
    expect(back.params).toEqual(cp.params);
    expect(back.optimizers).toEqual(cp.optimizers);
    // What the store holds exports as a current notebook file that reads back.
    const f = toNotebookFile(fullNotebook(), [{ meta: runMeta('r1', 'nb1'), records: await db.getRecords('r1') }]);
    expect(parseNotebookFile(serializeNotebookFile(f)).runs[0]!.records).toEqual(await db.getRecords('r1'));
    db.close();
  });

  it('the migration leaves anything not shaped like records as it was, for the schema to refuse', () => {
    const same = [null, 7, 'x', [1, { questions: 3 }], [{ questions: [{ candidates: [1, null] }] }]];
    for (const v of same) expect(R.addScoreAfter(v)).toBe(v);
    const r = [stepRecord(0)];
    expect(R.addScoreAfter(r)).toBe(r); // nothing to add: the same value
  });
});

describe('schema combinators the saved shapes use', () => {
  const problem = (s: S.Schema<unknown>, v: unknown): [string, string] => {
    try {
      s.parse(v, 'x');
    } catch (err) {
      if (err instanceof S.SchemaError) return [err.path, err.problem];
      throw err;
    }
    throw new Error('accepted');
  };

  it('record: keys by their schema, values by theirs, bounded, prototype keys refused first', () => {
    const m = S.record(S.intKey({ max: 99, hint: 'a k' }), S.num(), { max: 3 });
    expect(m.parse({ 1: 0.5, 10: 1 })).toEqual({ 1: 0.5, 10: 1 });
    expect(problem(m, { 0: 1 })).toEqual(['x.0', 'expected a k, got "0"']);
    expect(problem(m, { 100: 1 })).toEqual(['x.100', 'expected a k, got "100"']);
    expect(problem(m, { 1: 'a' })).toEqual(['x.1', 'expected a finite number, got "a"']);
    expect(problem(m, { 1: 1, 2: 2, 3: 3, 4: 4 })).toEqual(['x', '4 keys, more than the 3 allowed']);
    expect(problem(m, JSON.parse('{"1": 1, "2": 2, "3": 3, "__proto__": 4}'))).toEqual([
      'x.__proto__',
      'this key is not allowed',
    ]);
    expect(problem(m, [1])[1]).toMatch(
      /^expected a JSON object of at most 3 keys, each a k, each value a finite number, got a list of 1/,
    );
  });

  it('tagged: the tag first, then the variant; keyed: exactly these keys; refine: a rule after the type', () => {
    const t = S.tagged(
      'kind',
      { a: S.object({ kind: S.literal(['a']), n: S.num() }), b: S.object({ kind: S.literal(['b']) }) },
      'an a or a b',
    );
    expect(t.parse({ kind: 'a', n: 1 })).toEqual({ kind: 'a', n: 1 });
    expect(problem(t, 'a')).toEqual(['x', 'expected an a or a b, got "a"']);
    expect(problem(t, { kind: 'constructor' })).toEqual(['x.kind', 'expected one of "a", "b", got "constructor"']);
    expect(problem(t, { n: 1 })).toEqual(['x.kind', 'expected one of "a", "b", got nothing']);
    expect(problem(t, { kind: 'b', n: 1 })).toEqual(['x.n', 'unknown field; known fields: kind']);
    const k = S.keyed(['p', 'q'], S.bool());
    expect(k.expects).toBe('{ p, q }, each true or false');
    expect(problem(k, { p: true })).toEqual(['x.q', 'missing; expected true or false']);
    const flag = S.refine(S.num(), (v) => v === 0 || v === 1, '0 or 1');
    expect(problem(flag, 2)).toEqual(['x', 'expected 0 or 1, got 2']);
    expect(problem(flag, NaN)).toEqual(['x', 'expected a finite number, got NaN (JSON has no NaN or Infinity)']);
  });

  it('list: its length against the bound (and where the bound comes from) before any item', () => {
    const l = S.list(S.num(), { max: 2, why: "the run's config.candidates" });
    expect(l.expects).toBe('a list of at most 2 items, each a finite number');
    expect(problem(l, ['a', 'b', 'c'])).toEqual(['x', "3 items, more than the 2 allowed (the run's config.candidates)"]);
    expect(problem(S.list(S.num(), { min: 1, max: 2 }), [])).toEqual(['x', '0 items, fewer than the 1 needed']);
    expect(S.int({ min: 1, max: 64 })).toMatchObject({ min: 1, max: 64 });
  });
});
