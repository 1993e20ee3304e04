// Notebook files: export -> parse round trips, the version migration runner, and every kind of
// malformed file rejected with a message that names the field's path.
import { describe, expect, it } from 'vitest';
import { demoNotebook, emptyCell, newCellId } from '../../src/notebook/demo';
import {
  FILE_MIGRATIONS,
  NotebookFileError,
  parseNotebookFile,
  serializeNotebookFile,
  toNotebookFile,
  type FileMigration,
} from '../../src/notebook/file';
import { CELL_KINDS, NOTEBOOK_FILE_VERSION, type NotebookFile } from '../../src/notebook/schema';
import { fullNotebook, runMeta, stepRecord } from './notebook-fixtures';

const goodFile = (): NotebookFile =>
  toNotebookFile(fullNotebook(), [
    { meta: runMeta('r1', 'nb1'), records: [stepRecord(0), stepRecord(1)] },
    {
      meta: runMeta('r2', 'nb1', { status: 'error', message: 'NaN loss', checkpointStep: 2, models: null, data: null }),
      records: [],
    },
  ]);

/** The good file as plain JSON, for a test to break one field of. */
const json = (): Record<string, any> => JSON.parse(serializeNotebookFile(goodFile())); // eslint-disable-line @typescript-eslint/no-explicit-any

/** parseNotebookFile's error for this text (fails the test if it parses). */
function rejection(text: string, opts?: Parameters<typeof parseNotebookFile>[1]): NotebookFileError {
  try {
    parseNotebookFile(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(NotebookFileError);
    return err as NotebookFileError;
  }
  throw new Error('the file was accepted');
}
const reject = (f: unknown): NotebookFileError => rejection(JSON.stringify(f));

describe('notebook file: round trip', () => {
  it('export -> serialize -> parse gives the same notebook, runs and records', () => {
    const file = goodFile();
    const back = parseNotebookFile(serializeNotebookFile(file));
    expect(back).toEqual(file);
    expect(back.format).toBe('medrank-notebook');
    expect(back.version).toBe(NOTEBOOK_FILE_VERSION);
    // Fresh objects, not the parsed ones: nothing shared with the input.
    expect(back.notebook).not.toBe(file.notebook);
  });

  it('the demo notebook and every empty cell pass their own validation', () => {
    const demo = demoNotebook();
    expect(demo.cells.map((c) => c.kind)).toEqual([
      'markdown',
      'markdown',
      'data',
      'models',
      'index',
      'train',
      'evaluate',
      'inspect',
      'compare',
    ]);
    expect(demo.cells.map((c) => c.id)).toEqual(['c1', 'note', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    const cells = CELL_KINDS.map((k, i) => emptyCell(k, `x${i}`));
    const nb = { ...demo, cells: [...demo.cells, ...cells] };
    expect(parseNotebookFile(serializeNotebookFile(toNotebookFile(nb, []))).notebook).toEqual(nb);
    expect(newCellId(demo)).toBe('c9');
    expect(newCellId({ ...demo, cells: [emptyCell('index', 'c12'), emptyCell('index', 'other')] })).toBe('c13');
    expect(demoNotebook()).not.toBe(demoNotebook()); // callers may edit it
  });

  it('a run saved while "running" imports as "interrupted"; a version 2 record without scoreAfter gets null', () => {
    const f = json();
    f.runs[0].meta.status = 'running';
    f.version = 2; // before scoreAfter: its candidates may leave it out
    delete f.runs[0].records[0].questions[0].candidates[0].scoreAfter;
    const back = parseNotebookFile(JSON.stringify(f));
    expect(back.runs[0]!.meta.status).toBe('interrupted');
    expect(back.runs[0]!.records[0]!.questions[0]!.candidates[0]!.scoreAfter).toBeNull();
  });

  it('Train cell overrides: with a preset each field is checked alone, without one they are the whole config', () => {
    // jomed's candidates (50) allow sampled 40; the defaults (20) would not.
    const f = json();
    expect(f.notebook.cells[4]).toMatchObject({ preset: 'jomed', overrides: { sampled: 40 } });
    expect(() => parseNotebookFile(JSON.stringify(f))).not.toThrow();
    f.notebook.cells[4].preset = null;
    expect(reject(f).message).toMatch(/^notebook\.cells\[4\]\.overrides\.sampled: cannot exceed candidates \(40 > 20\)/);
    // A loss that needs another schedule is fine alone under a preset.
    const g = json();
    g.notebook.cells[4].overrides = { retrieverLoss: 'none' };
    expect(parseNotebookFile(JSON.stringify(g)).notebook.cells[4]).toMatchObject({ overrides: { retrieverLoss: 'none' } });
  });
});

describe('notebook file: versions', () => {
  it('FILE_MIGRATIONS lead to the current version', () => {
    expect(FILE_MIGRATIONS.length + 1).toBe(NOTEBOOK_FILE_VERSION);
  });

  it('migrates an older file through each step once, then validates it as current', () => {
    // Pretend version 1 called the title "name" and version 2 is today's shape.
    let calls = 0;
    const renameTitle: FileMigration = (f) => {
      calls++;
      const nb = f.notebook as Record<string, unknown>;
      const { name, ...rest } = nb;
      return { ...f, notebook: { ...rest, title: name } };
    };
    const v1 = json();
    v1.version = 1;
    v1.notebook.name = v1.notebook.title;
    delete v1.notebook.title;
    const out = parseNotebookFile(JSON.stringify(v1), { migrations: [renameTitle] });
    expect(calls).toBe(1);
    expect(out.version).toBe(2);
    expect(out.notebook).toEqual(goodFile().notebook);

    // A version 2 file skips the step; version 3 is from a newer MedRank.
    const v2 = { ...json(), version: 2 };
    expect(parseNotebookFile(JSON.stringify(v2), { migrations: [renameTitle] }).notebook.title).toBe(fullNotebook().title);
    expect(calls).toBe(1);
    expect(rejection(JSON.stringify({ ...json(), version: 3 }), { migrations: [renameTitle] }).message).toMatch(
      /^version: this file was made by a newer MedRank \(file version 3; this page reads up to 2\)\. Reload/,
    );
    // Without the migration, the version 1 file's "name" is an unknown field.
    expect(reject(v1).message).toMatch(/^notebook\.name: unknown field/);
  });

  it('refuses a file from a newer MedRank', () => {
    const err = reject({ ...json(), version: NOTEBOOK_FILE_VERSION + 1 });
    expect(err.path).toBe('version');
    expect(err.message).toMatch(/made by a newer MedRank/);
    expect(reject({ ...json(), version: 1.5 }).message).toMatch(/^version: expected an integer from 1 up, got 1.5/);
    expect(reject({ ...json(), version: '1' }).message).toMatch(/^version: expected an integer from 1 up, got "1"/);
  });
});

describe('notebook file: malformed files', () => {
  it('not JSON, or not a MedRank notebook file', () => {
    expect(rejection('{"format": "medrank-notebook", ').message).toMatch(
      /not valid JSON.*Choose a \.json file that MedRank exported/,
    );
    expect(rejection('[1, 2]').message).toMatch(/expected a notebook file \(a JSON object\), got a list of 2/);
    expect(reject({ ...json(), format: 'jupyter' }).message).toMatch(/^format: expected "medrank-notebook", got "jupyter"/);
    expect(rejection('x'.repeat(101), { maxChars: 100 }).message).toMatch(
      /more than the .* MB allowed\. Export the notebook with fewer runs/,
    );
  });

  it('an unknown cell kind, a field that does not belong, a missing field', () => {
    const f = json();
    f.notebook.cells[3].kind = 'python';
    expect(reject(f).message).toMatch(/^notebook\.cells\[3\]\.kind: expected one of "markdown", .*"compare", got "python"/);
    const g = json();
    g.notebook.cells[3].code = 'alert(1)';
    expect(reject(g).message).toMatch(/^notebook\.cells\[3\]\.code: unknown field; known fields: id, kind\./);
    const h = json();
    delete h.notebook.cells[0].text;
    expect(reject(h).message).toMatch(/^notebook\.cells\[0\]\.text: missing/);
    const i = json();
    i.notebook.cells[0].text = 42;
    expect(reject(i).message).toMatch(/^notebook\.cells\[0\]\.text: expected a string of at most 1048576 characters, got 42/);
    const j = json();
    j.notebook.cells[2] = 'models';
    expect(reject(j).message).toMatch(/^notebook\.cells\[2\]: expected a cell \(a JSON object\), got "models"/);
  });

  it('a bad override type or value names the field and reuses the config check', () => {
    const f = json();
    f.notebook.cells[4].overrides.lrRetriever = 'abc';
    const err = reject(f);
    expect(err.path).toBe('notebook.cells[4].overrides.lrRetriever');
    expect(err.message).toMatch(
      /^notebook\.cells\[4\]\.overrides\.lrRetriever: expected a finite number at least 0 and at most 1, got "abc"\. The notebook was not imported/,
    );
    const g = json();
    g.notebook.cells[4].overrides.steps = -1;
    expect(reject(g).message).toMatch(/^notebook\.cells\[4\]\.overrides\.steps: expected an integer from 0 to 100000, got -1/);
    const h = json();
    h.notebook.cells[4].overrides.learningRate = 1;
    expect(reject(h).message).toMatch(/^notebook\.cells\[4\]\.overrides\.learningRate: unknown field; known fields: name, seed/);
    const i = json();
    i.notebook.cells[4].overrides.generatorLora = { r: 8, alpha: 16, dropout: 0, targetModules: [1] };
    expect(reject(i).message).toMatch(
      /^notebook\.cells\[4\]\.overrides\.generatorLora\.targetModules\[0\]: expected a module name like "q_proj", got 1/,
    );
    const j = json();
    j.runs[0].meta.config.topM = 50;
    expect(reject(j).message).toMatch(/^runs\[0\]\.meta\.config\.topM: expected an integer from 1 to 20, got 50/);
  });

  it('a number written as a string ("NaN") in a step record, or NaN/Infinity anywhere', () => {
    const f = json();
    f.runs[0].records[1].loss.retriever = 'NaN';
    expect(reject(f).message).toMatch(/^runs\[0\]\.records\[1\]\.loss\.retriever: expected a finite number, got "NaN"/);
    const g = json();
    g.runs[0].records[0].questions[1].candidates[2].prob = '0.2';
    expect(reject(g).message).toMatch(
      /^runs\[0\]\.records\[0\]\.questions\[1\]\.candidates\[2\]\.prob: expected a finite number, got "0.2"/,
    );
    const h = json();
    h.runs[0].records[0].ms.utility = null;
    expect(reject(h).message).toMatch(/^runs\[0\]\.records\[0\]\.ms\.utility: expected a finite number at least 0, got null/);
    const i = json();
    i.runs[0].records[0].recall = { 0: 1 };
    expect(reject(i).message).toMatch(/^runs\[0\]\.records\[0\]\.recall\.0: expected a k/);
    // JSON has no NaN; a hand-written 1e999 parses to Infinity.
    const text = serializeNotebookFile(goodFile()).replace('"gpuBytes":1024', '"gpuBytes":1e999');
    expect(rejection(text).message).toMatch(
      /^runs\[0\]\.records\[0\]\.gpuBytes: expected an integer from 0 to \d+, got Infinity \(JSON has no NaN or Infinity\)/,
    );
  });

  it('run metadata: status, evaluations and ids are checked', () => {
    const f = json();
    f.runs[1].meta.status = 'paused';
    expect(reject(f).message).toMatch(/^runs\[1\]\.meta\.status: expected one of "running", .*got "paused"/);
    const g = json();
    g.runs[0].meta.evals[1].result.accuracy.oracle = '1';
    expect(reject(g).message).toMatch(
      /^runs\[0\]\.meta\.evals\[1\]\.result\.accuracy\.oracle: expected a finite number, got "1"/,
    );
    const h = json();
    h.runs[1].meta.id = 'r1';
    expect(reject(h).message).toMatch(/^runs\[1\]\.meta\.id: "r1" is used by runs\[0\] too; run ids must be unique/);
    const i = json();
    i.runs[0].meta.notebookId = 'elsewhere';
    expect(reject(i).message).toMatch(/^runs\[0\]\.meta\.notebookId: expected the notebook's id "nb1"/);
    const j = json();
    j.runs[0].records[1].step = 0;
    expect(reject(j).message).toMatch(/^runs\[0\]\.records\[1\]\.step: 0 is used by runs\[0\]\.records\[0\] too/);
  });

  it('duplicate cell ids', () => {
    const f = json();
    f.notebook.cells[5].id = 'c2';
    expect(reject(f).message).toMatch(
      /^notebook\.cells\[5\]\.id: "c2" is used by notebook\.cells\[1\] too; cell ids must be unique/,
    );
  });

  it('references: only http(s) URLs, hub repo names, data formats', () => {
    const f = json();
    f.notebook.cells[2].retriever = { kind: 'url', url: 'javascript:alert(1)' };
    expect(reject(f).message).toMatch(/^notebook\.cells\[2\]\.retriever\.url: expected an http\(s\) URL/);
    const g = json();
    g.notebook.cells[1].source = { kind: 'url', format: 'csv', urls: {} };
    expect(reject(g).message).toMatch(/^notebook\.cells\[1\]\.source\.format: expected one of "beir"/);
    const h = json();
    h.runs[0].meta.models.generator.repo = '../../etc';
    expect(reject(h).message).toMatch(/^runs\[0\]\.meta\.models\.generator\.repo: expected a Hugging Face repo/);
  });

  it('markdown longer than 1 MB', () => {
    const f = json();
    f.notebook.cells[0].text = 'a'.repeat(2 ** 20 + 1);
    expect(reject(f).message).toMatch(
      /^notebook\.cells\[0\]\.text: text of 1048577 characters is longer than the 1048576 allowed/,
    );
  });

  it('__proto__ keys are rejected wherever they appear and pollute nothing', () => {
    const proto = '"__proto__": {"polluted": 1}';
    const text = serializeNotebookFile(goodFile());
    const places: [string, string, RegExp][] = [
      ['top level', text.replace('{"format"', `{${proto}, "format"`), /^__proto__: this key is not allowed/],
      ['notebook', text.replace('"notebook":{', `"notebook":{${proto},`), /^notebook\.__proto__: this key is not allowed/],
      [
        'a cell',
        text.replace('{"id":"c4","kind":"index"', `{"id":"c4",${proto},"kind":"index"`),
        /^notebook\.cells\[3\]\.__proto__: this key is not allowed/,
      ],
      [
        'overrides',
        text.replace('"overrides":{', `"overrides":{${proto},`),
        /^notebook\.cells\[4\]\.overrides\.__proto__: this key is not allowed/,
      ],
      [
        'a map',
        text.replace('"names":{', `"names":{${proto},`),
        /^notebook\.cells\[1\]\.source\.names\.__proto__: this key is not allowed/,
      ],
      ['recall', text.replace('"recall":{', `"recall":{${proto},`), /recall\.__proto__: this key is not allowed/],
      [
        'phaseMs',
        text.replace('"phaseMs":{', `"phaseMs":{${proto},`),
        /^runs\[0\]\.meta\.phaseMs\.__proto__: this key is not allowed/,
      ],
    ];
    for (const [where, t, message] of places) {
      expect(t, where).not.toBe(text);
      expect(rejection(t).message, where).toMatch(message);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // The accepted file's objects have the ordinary prototype and no extra keys.
    const back = parseNotebookFile(text);
    expect(Object.getPrototypeOf(back.notebook.cells[4]!)).toBe(Object.prototype);
    expect(Object.keys(back.runs[0]!.meta).sort()).toEqual(Object.keys(runMeta('r1', 'nb1')).sort());
  });
});
