// Dataset adapters: PubMedQA, MedMCQA, MedQA, BEIR and a generic JSONL QA format, each turned into
// one shape (passages + questions with gold passage ids). Every record is checked; the first
// problem throws a DatasetError naming the file, line or record and what to fix, and nothing
// partial is returned. Counts taken from input are bounded (DATASET_LIMITS) and refused before
// anything is built from them; every id check is a Set or Map lookup, so a file is read in time
// linear in its size; values from input reach messages only through describe/clip, so messages
// stay short. Formats and rules: docs/data-formats.md.
import { MedRankError } from '../core/errors';
import { clip, describe as describeValue } from '../core/format';
import {
  count,
  jsonProblemText,
  lineColumn,
  lineLabel,
  parseJsonlLines,
  readJson,
  RESERVED_KEYS,
  stripBom,
  textLines,
  type JsonlRecord,
} from './jsonl';

export interface Passage {
  id: string;
  title?: string;
  text: string;
}

export type QuestionKind = 'multiple-choice' | 'yes-no-maybe' | 'open';

export interface Question {
  id: string;
  question: string;
  kind: QuestionKind;
  /** Multiple choice: the option texts in order (A, B, C, D...). */
  options?: string[];
  /** The answer text (multiple choice: the correct option's text; yes/no/maybe: 'yes' | 'no' | 'maybe'; open: free text, may be ''). */
  answer: string;
  /** Multiple choice: 0-based index into options; yes/no/maybe: index into YES_NO_MAYBE. */
  answerIndex?: number;
  /** Passages that hold the evidence ([] when none). */
  goldDocIds: string[];
  /** The split the file assigns (generic JSONL's optional "split"); training splits the rest by seed. */
  split?: QuestionSplit;
}

export const SPLITS = ['train', 'validation', 'test'] as const;
export type QuestionSplit = (typeof SPLITS)[number];

export type DatasetFormat = 'beir' | 'pubmedqa' | 'medmcqa' | 'medqa' | 'jsonl';

export interface Dataset {
  name: string;
  format: DatasetFormat;
  passages: Passage[];
  questions: Question[];
}

export const YES_NO_MAYBE = ['yes', 'no', 'maybe'] as const;

/**
 * The most a dataset file may hold; past a bound the file is refused with the count found,
 * before anything is built from it. Far above the real datasets (PubMedQA has at most 9
 * contexts a record, MedQA 4 or 5 options, lines of a few kilobytes) and BEIR's largest qrels.
 */
export const DATASET_LIMITS = {
  /** Characters in one JSONL line (one record) or qrels line. */
  recordChars: 4_000_000,
  /** Characters in one text: a question, an option, a passage, a title. */
  textChars: 1_000_000,
  /** Characters in one id (question, passage, PMID). */
  idChars: 1_000,
  /** Passages in one dataset. */
  passages: 2_000_000,
  /** Questions in one dataset. */
  questions: 1_000_000,
  /** Gold passages of one question (PubMedQA: contexts of one record). */
  goldPerQuestion: 100_000,
  /** Options of one multiple-choice question (A to Z). */
  options: 26,
} as const;

export const FORMAT_NAMES: Record<DatasetFormat, string> = {
  beir: 'BEIR',
  pubmedqa: 'PubMedQA',
  medmcqa: 'MedMCQA',
  medqa: 'MedQA',
  jsonl: 'JSONL QA',
};

/** A dataset file that cannot be imported as it is. `where` is like 'line 17', 'record 12345678', 'qrels/test.tsv line 3'. */
export class DatasetError extends MedRankError {
  constructor(
    readonly format: DatasetFormat,
    readonly where: string,
    /** What is wrong there, without the prefix. */
    readonly problem: string,
  ) {
    super(`${FORMAT_NAMES[format]} data${where ? `, ${where}` : ''}: ${problem}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Field checks. `Ctx` says where we are; every failure throws.

interface Ctx {
  format: DatasetFormat;
  where: string;
}

function fail(c: Ctx, message: string): never {
  throw new DatasetError(c.format, c.where, message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A value from input for a message (bounded: core's describe); a blank string and null called
 * what they are ('null' alone in "(got null)" reads like a NaN that JSON.stringify printed).
 */
function describe(v: unknown): string {
  if (v === null) return 'a null value';
  return typeof v === 'string' && v.trim() === '' ? 'an empty string' : describeValue(v);
}

/** A field name for a message: `"options"`, or a key from input, quoted and cut. */
function field(key: string): string {
  return JSON.stringify(clip(key, 40));
}

/** Names from input (option keys, file keys) as one bounded list: 'A, B, C'. */
function names(list: readonly string[], max = 160): string {
  let out = '';
  for (let i = 0; i < list.length; i++) {
    const next = (i ? ', ' : '') + clip(list[i]!, 24);
    if (out.length + next.length > max) return `${out}, … (${count(list.length)} in all)`;
    out += next;
  }
  return out;
}

/** A text from input past DATASET_LIMITS.textChars is refused. */
function checkTextSize(v: string, key: string, c: Ctx): void {
  if (v.length > DATASET_LIMITS.textChars) {
    fail(
      c,
      `${field(key)} holds ${count(v.length)} characters, more than the ${count(DATASET_LIMITS.textChars)} a text may hold. Shorten it or split it into several records.`,
    );
  }
}

/** A required string with visible text. */
function reqText(rec: Record<string, unknown>, key: string, c: Ctx, hint = ''): string {
  const v = rec[key];
  if (typeof v !== 'string' || v.trim() === '') {
    fail(
      c,
      `${field(key)} must be a non-empty string (got ${describe(v)}). ${hint || `Fill in ${field(key)} or remove this record.`}`,
    );
  }
  checkTextSize(v, key, c);
  return v;
}

/** An optional string: absent or null gives undefined. */
function optionalString(rec: Record<string, unknown>, key: string, c: Ctx): string | undefined {
  const v = rec[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(c, `${field(key)} must be a string or null (got ${describe(v)}). Correct or drop the field.`);
  checkTextSize(v, key, c);
  return v;
}

/** An id's text: bounded, and not a name JavaScript objects reserve (ids become keys downstream). */
function checkIdText(id: string, what: string, c: Ctx): void {
  if (id.length > DATASET_LIMITS.idChars) {
    fail(
      c,
      `${what} holds ${count(id.length)} characters (got ${describe(id)}), more than the ${count(DATASET_LIMITS.idChars)} an id may hold. Give it a short id.`,
    );
  }
  if (RESERVED_KEYS.has(id)) {
    fail(
      c,
      `${what} ${describe(id)} is refused: __proto__, constructor and prototype are reserved by JavaScript objects. Rename it.`,
    );
  }
}

/** An id: a non-empty string, or a whole number (kept as its decimal text). */
function idOf(v: unknown, key: string, c: Ctx, hint = 'Give every record its own id.'): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      fail(
        c,
        `${field(key)} must be a non-empty string or a whole number below 2^53 (got ${describe(v)}). Write such an id as a string, so it stays exact.`,
      );
    }
    return String(v);
  }
  if (typeof v !== 'string' || v.trim() === '') {
    fail(c, `${field(key)} must be a non-empty string or a number (got ${describe(v)}). ${hint}`);
  }
  checkIdText(v, field(key), c);
  return v;
}

/** Remembers ids and where they were first seen; a second use fails naming both places. Refuses more than `max` ids. */
class UniqueIds {
  private readonly seen = new Map<string, string>();
  constructor(
    private readonly what: string,
    private readonly max: number,
  ) {}
  add(id: string, c: Ctx): void {
    const first = this.seen.get(id);
    if (first !== undefined) {
      fail(
        c,
        `duplicate ${this.what} id ${describe(id)} (first used at ${first}). Every ${this.what} needs its own id: remove the repeat or rename it.`,
      );
    }
    if (this.seen.size >= this.max) {
      fail(c, `more than ${count(this.max)} ${this.what}s, the most one dataset may hold. Split the file or use a part of it.`);
    }
    this.seen.set(id, c.where);
  }
  has(id: string): boolean {
    return this.seen.has(id);
  }
}

function jsonl(text: string, format: DatasetFormat, fileLabel: string): Generator<JsonlRecord> {
  return parseJsonlLines(text, fileLabel, (where, message) => new DatasetError(format, where, message), {
    maxLineChars: DATASET_LIMITS.recordChars,
  });
}

function requireSome(items: unknown[], c: Ctx, what: string): void {
  if (items.length === 0) fail(c, `${what}. Check that you picked the right file and format.`);
}

/**
 * A whole JSON document (readJson: depth-bounded, keys given twice and reserved keys refused).
 * A problem names its line; `keyed` names a problem inside a top-level entry by that entry
 * (PubMedQA: 'record <PMID>'), and a top-level key given twice by `keyed(key)` too.
 */
function parseJsonDocument(
  text: string,
  format: DatasetFormat,
  hint: string,
  keyed: { where: (key: string) => string; twice: (key: string, first: number, again: number) => string },
): unknown {
  const s = stripBom(text);
  const read = readJson(s);
  if (read.ok) return read.value;
  const { problem } = read;
  const { line, column } = lineColumn(s, read.offset);
  if (problem.kind === 'duplicate' && problem.path.length === 0) {
    const first = lineColumn(s, problem.firstOffset).line;
    fail({ format, where: keyed.where(problem.key) }, keyed.twice(problem.key, first, line));
  }
  if (problem.kind === 'duplicate' || problem.kind === 'reserved') {
    // Inside a record: name the record; a reserved key at the top is a record's key itself.
    const [top, ...rest] = problem.path;
    if (top !== undefined)
      fail({ format, where: keyed.where(String(top)) }, `${jsonProblemText({ ...problem, path: rest }, `line ${line}`)}.`);
    fail({ format, where: `line ${line}` }, `${jsonProblemText(problem, `column ${column}`)}.`);
  }
  fail(
    { format, where: `line ${line}` },
    `${jsonProblemText(problem, `column ${column}`)}. ${problem.kind === 'syntax' ? hint : 'This is not a file MedRank can read.'}`,
  );
}

// ---------------------------------------------------------------------------------------------
// PubMedQA

/**
 * PubMedQA (ori_pqal.json): `{"<PMID>": {QUESTION, CONTEXTS: [str], final_decision: yes|no|maybe}}`.
 * Each context becomes passage `${pmid}#${i}`; a question's gold passages are its own contexts.
 * Questions come in ascending PMID order (JavaScript's order for integer-like keys).
 */
export function parsePubMedQA(text: string, name = 'pubmedqa'): Dataset {
  const format = 'pubmedqa';
  const root = parseJsonDocument(
    text,
    format,
    'The file may be cut short or edited; download ori_pqal.json again or fix the JSON at that line.',
    {
      where: (pmid) => `record ${clip(pmid)}`,
      twice: (pmid, first, again) =>
        `PMID ${describe(pmid)} is given twice (lines ${first} and ${again}); JSON would keep only the last record. Remove the repeat or correct its PMID.`,
    },
  );
  if (!isObject(root)) {
    fail(
      { format, where: 'line 1' },
      `the file must be one JSON object mapping each PMID to its record, like {"21645374": {"QUESTION": ..., "CONTEXTS": [...], "final_decision": "yes"}} (got ${describe(root)}). Pick ori_pqal.json, or use the JSONL QA format for other data.`,
    );
  }
  const passages: Passage[] = [];
  const questions: Question[] = [];
  const passageIds = new UniqueIds('passage', DATASET_LIMITS.passages);
  const questionIds = new UniqueIds('question', DATASET_LIMITS.questions);
  for (const [pmid, rec] of Object.entries(root)) {
    const c: Ctx = { format, where: `record ${clip(pmid)}` };
    if (pmid.trim() === '') fail(c, 'the record key (its PMID) is empty. Key every record by its PMID.');
    checkIdText(pmid, 'the record key (its PMID)', c);
    questionIds.add(pmid, c);
    if (!isObject(rec)) fail(c, `must be an object with QUESTION, CONTEXTS and final_decision (got ${describe(rec)}).`);
    const question = reqText(rec, 'QUESTION', c, 'Every record needs its question; fix or remove the record.');
    const contexts = rec.CONTEXTS;
    if (!Array.isArray(contexts)) {
      fail(c, `"CONTEXTS" must be an array of abstract passages (got ${describe(contexts)}). Fix or remove the record.`);
    }
    if (contexts.length > DATASET_LIMITS.goldPerQuestion) {
      fail(
        c,
        `"CONTEXTS" holds ${count(contexts.length)} passages, more than the ${count(DATASET_LIMITS.goldPerQuestion)} one question may have. Is this the right file?`,
      );
    }
    const goldDocIds: string[] = [];
    contexts.forEach((t: unknown, i) => {
      if (typeof t !== 'string' || t.trim() === '') {
        fail(c, `CONTEXTS[${i}] must be a non-empty string (got ${describe(t)}). Remove the empty passage or fix it.`);
      }
      checkTextSize(t, `CONTEXTS[${i}]`, c);
      const id = `${pmid}#${i}`;
      passageIds.add(id, c);
      passages.push({ id, text: t });
      goldDocIds.push(id);
    });
    const decision = rec.final_decision;
    const answerIndex = YES_NO_MAYBE.indexOf(decision as (typeof YES_NO_MAYBE)[number]);
    if (answerIndex < 0) {
      fail(
        c,
        `"final_decision" must be "yes", "no" or "maybe" (got ${describe(decision)}). Correct the label or remove the record.`,
      );
    }
    questions.push({ id: pmid, question, kind: 'yes-no-maybe', answer: YES_NO_MAYBE[answerIndex]!, answerIndex, goldDocIds });
  }
  requireSome(questions, { format, where: '' }, 'the file holds no records');
  return { name, format, passages, questions };
}

// ---------------------------------------------------------------------------------------------
// MedMCQA

const MEDMCQA_OPTIONS = ['opa', 'opb', 'opc', 'opd'] as const;

/**
 * MedMCQA (JSONL): `{id, question, opa, opb, opc, opd, cop: 1..4, exp: str|null}`. Options are
 * opa..opd; cop 1..4 gives answerIndex 0..3. A non-empty exp becomes passage `${id}#exp`, the
 * question's gold passage; without one the question has no gold.
 */
export function parseMedMCQA(text: string, name = 'medmcqa'): Dataset {
  const format = 'medmcqa';
  const passages: Passage[] = [];
  const questions: Question[] = [];
  const ids = new UniqueIds('question', DATASET_LIMITS.questions);
  const passageIds = new UniqueIds('passage', DATASET_LIMITS.passages);
  for (const { value: rec, line } of jsonl(text, format, '')) {
    const c: Ctx = { format, where: lineLabel('', line) };
    const id = idOf(rec.id, 'id', c);
    ids.add(id, c);
    const question = reqText(rec, 'question', c);
    const options = MEDMCQA_OPTIONS.map((k) => reqText(rec, k, c, `Fill in option "${k}" or remove this record.`));
    const cop = rec.cop;
    if (typeof cop !== 'number' || !Number.isInteger(cop) || cop < 1 || cop > 4) {
      fail(
        c,
        `"cop" must be the correct option's number, 1 (opa) to 4 (opd) (got ${describe(cop)}).` +
          (cop === 0
            ? ' A cop of 0 suggests a 0-based export (as on the Hugging Face hub): add 1 to every cop.'
            : ' Correct it or remove this record.'),
      );
    }
    const exp = optionalString(rec, 'exp', c);
    const goldDocIds: string[] = [];
    if (exp !== undefined && exp.trim() !== '') {
      passageIds.add(`${id}#exp`, c);
      passages.push({ id: `${id}#exp`, text: exp });
      goldDocIds.push(`${id}#exp`);
    }
    const answerIndex = cop - 1;
    questions.push({ id, question, kind: 'multiple-choice', options, answer: options[answerIndex]!, answerIndex, goldDocIds });
  }
  requireSome(questions, { format, where: '' }, 'the file holds no questions');
  return { name, format, passages, questions };
}

// ---------------------------------------------------------------------------------------------
// MedQA

/**
 * MedQA (JSONL, e.g. us_4_options_test.jsonl): `{question, options: {A..D}, answer_idx, answer?}`.
 * Options are the values in key order; answer_idx (a key) gives answerIndex. No passages, gold [].
 * Records have no id: a record's id is `${name}-${line}` unless it carries an "id" field.
 */
export function parseMedQA(text: string, name = 'medqa'): Dataset {
  const format = 'medqa';
  const questions: Question[] = [];
  const ids = new UniqueIds('question', DATASET_LIMITS.questions);
  for (const { value: rec, line } of jsonl(text, format, '')) {
    const c: Ctx = { format, where: lineLabel('', line) };
    const id = rec.id === undefined ? `${name}-${line}` : idOf(rec.id, 'id', c);
    ids.add(id, c);
    const question = reqText(rec, 'question', c);
    const opts = rec.options;
    const keys = isObject(opts) ? Object.keys(opts) : [];
    if (!isObject(opts) || keys.length < 2 || keys.length > DATASET_LIMITS.options) {
      fail(
        c,
        `"options" must be an object of 2 to ${DATASET_LIMITS.options} options like {"A": "...", "B": "..."} (got ${describe(opts)}). Fix or remove this record.`,
      );
    }
    const options = keys.map((k) => reqText(opts, k, c, `Fill in option ${field(k)} or remove this record.`));
    const key = rec.answer_idx;
    const answerIndex = typeof key === 'string' ? keys.indexOf(key) : -1;
    if (answerIndex < 0) {
      fail(
        c,
        `"answer_idx" must be one of the option keys ${names(keys)} (got ${describe(key)}). Correct it or remove this record.`,
      );
    }
    const answer = options[answerIndex]!;
    const stated = optionalString(rec, 'answer', c);
    if (stated !== undefined && stated.trim() !== answer.trim()) {
      fail(
        c,
        `"answer" ${describe(stated)} is not option ${describe(key)} ${describe(answer)}. answer_idx and answer disagree: correct one of them.`,
      );
    }
    questions.push({ id, question, kind: 'multiple-choice', options, answer, answerIndex, goldDocIds: [] });
  }
  requireSome(questions, { format, where: '' }, 'the file holds no questions');
  return { name, format, passages: [], questions };
}

// ---------------------------------------------------------------------------------------------
// BEIR

export interface BeirFileNames {
  corpus?: string;
  queries?: string;
  qrels?: string;
}

/** Reads a corpus JSONL ({<idKey>, title?, text}) into passages with unique ids. */
function parseCorpus(
  text: string,
  format: DatasetFormat,
  fileLabel: string,
  idKey: string,
): { passages: Passage[]; ids: UniqueIds } {
  const passages: Passage[] = [];
  const ids = new UniqueIds('passage', DATASET_LIMITS.passages);
  for (const { value: rec, line } of jsonl(text, format, fileLabel)) {
    const c: Ctx = { format, where: lineLabel(fileLabel, line) };
    const id = idOf(rec[idKey], idKey, c);
    ids.add(id, c);
    const title = optionalString(rec, 'title', c);
    const body = rec.text;
    if (typeof body !== 'string') fail(c, `"text" must be a string (got ${describe(body)}). Give every passage its text.`);
    checkTextSize(body, 'text', c);
    if (body.trim() === '' && !title?.trim()) fail(c, 'the passage has neither text nor title. Fill one in or remove the line.');
    passages.push(title ? { id, title, text: body } : { id, text: body });
  }
  requireSome(passages, { format, where: fileLabel }, 'the corpus holds no passages');
  return { passages, ids };
}

/**
 * BEIR: corpus.jsonl `{_id, title?, text}`, queries.jsonl `{_id, text}`, qrels TSV
 * `query-id<TAB>corpus-id<TAB>score` (header optional). Score > 0 marks a gold passage. Queries
 * without a positive qrels line are dropped. Questions are 'open' with answer ''.
 */
export function parseBeir(
  files: { corpus: string; queries: string; qrels: string },
  name = 'beir',
  fileNames: BeirFileNames = {},
): Dataset {
  const format = 'beir';
  const corpusLabel = clip(fileNames.corpus ?? 'corpus.jsonl');
  const queriesLabel = clip(fileNames.queries ?? 'queries.jsonl');
  const qrelsLabel = clip(fileNames.qrels ?? 'qrels/test.tsv');
  const { passages, ids: passageIds } = parseCorpus(files.corpus, format, corpusLabel, '_id');

  const queries: { id: string; question: string }[] = [];
  const queryIds = new UniqueIds('query', DATASET_LIMITS.questions);
  for (const { value: rec, line } of jsonl(files.queries, format, queriesLabel)) {
    const c: Ctx = { format, where: lineLabel(queriesLabel, line) };
    const id = idOf(rec._id, '_id', c);
    queryIds.add(id, c);
    queries.push({ id, question: reqText(rec, 'text', c, 'Fill in the query text or remove the line.') });
  }

  const gold = new Map<string, Set<string>>();
  let first = true;
  for (const { line, number } of textLines(files.qrels)) {
    if (line.trim() === '') continue;
    const c: Ctx = { format, where: lineLabel(qrelsLabel, number) };
    if (line.length > DATASET_LIMITS.recordChars) {
      fail(
        c,
        `the line holds ${count(line.length)} characters; a qrels line is "query-id corpus-id score". Is this the right file?`,
      );
    }
    let cols = line.split('\t');
    if (cols.length < 3) cols = line.trim().split(/\s+/);
    const isFirst = first;
    first = false;
    if (isFirst && cols[0]?.trim() === 'query-id') continue; // the header
    if (cols.length !== 3) {
      fail(c, `expected 3 tab-separated columns "query-id corpus-id score" (got ${cols.length}). Fix the line or remove it.`);
    }
    const [qid, did, scoreText] = cols.map((s) => s.trim()) as [string, string, string];
    const score = Number(scoreText);
    if (scoreText === '' || !Number.isFinite(score))
      fail(c, `the score must be a number (got ${describe(scoreText)}). Use 1 (or higher) for relevant, 0 for not.`);
    if (!queryIds.has(qid)) fail(c, `query-id ${describe(qid)} is not in ${queriesLabel}. Add the query or remove this line.`);
    if (!passageIds.has(did))
      fail(c, `corpus-id ${describe(did)} is not in ${corpusLabel}. Add the passage to the corpus or remove this line.`);
    if (score > 0) {
      let set = gold.get(qid);
      if (!set) gold.set(qid, (set = new Set()));
      if (set.size >= DATASET_LIMITS.goldPerQuestion && !set.has(did)) {
        fail(
          c,
          `query-id ${describe(qid)} has more than ${count(DATASET_LIMITS.goldPerQuestion)} gold passages, the most one question may have. Is this the right qrels file?`,
        );
      }
      set.add(did);
    }
  }

  const questions: Question[] = [];
  for (const q of queries) {
    const g = gold.get(q.id);
    if (g) questions.push({ id: q.id, question: q.question, kind: 'open', answer: '', goldDocIds: [...g] });
  }
  requireSome(
    questions,
    { format, where: qrelsLabel },
    'no query has a qrels line with a score above 0, so there is nothing to evaluate',
  );
  return { name, format, passages, questions };
}

// ---------------------------------------------------------------------------------------------
// Generic JSONL QA

export interface JsonlFileNames {
  questions?: string;
  corpus?: string;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The generic format. Questions JSONL: `{id, question, options?: [str], answer, gold_doc_ids?: [id]}`;
 * corpus JSONL: `{id, title?, text}`. With options the question is multiple choice and answer is
 * an option's text, its letter ('A'...) or its 0-based index; without, an answer of yes/no/maybe
 * (any case) makes it yes-no-maybe, anything else open. gold_doc_ids must name corpus passages.
 */
export function parseJsonlQA(
  files: { questions: string; corpus?: string },
  name = 'jsonl',
  fileNames: JsonlFileNames = {},
): Dataset {
  const format = 'jsonl';
  const questionsLabel = clip(fileNames.questions ?? 'questions.jsonl');
  const corpusLabel = clip(fileNames.corpus ?? 'corpus.jsonl');
  const corpus = files.corpus === undefined ? undefined : parseCorpus(files.corpus, format, corpusLabel, 'id');

  const questions: Question[] = [];
  const ids = new UniqueIds('question', DATASET_LIMITS.questions);
  for (const { value: rec, line } of jsonl(files.questions, format, questionsLabel)) {
    const c: Ctx = { format, where: lineLabel(questionsLabel, line) };
    const id = idOf(rec.id, 'id', c);
    ids.add(id, c);
    const question = reqText(rec, 'question', c);

    const rawGold = rec.gold_doc_ids;
    const goldDocIds: string[] = [];
    if (rawGold !== undefined && rawGold !== null) {
      if (!Array.isArray(rawGold)) fail(c, `"gold_doc_ids" must be an array of passage ids (got ${describe(rawGold)}).`);
      if (rawGold.length > DATASET_LIMITS.goldPerQuestion) {
        fail(
          c,
          `"gold_doc_ids" lists ${count(rawGold.length)} passages, more than the ${count(DATASET_LIMITS.goldPerQuestion)} one question may have. Keep the passages that hold the evidence.`,
        );
      }
      const seen = new Set<string>();
      for (let i = 0; i < rawGold.length; i++) {
        const gid = idOf(rawGold[i], `gold_doc_ids[${i}]`, c, 'List the ids of corpus passages.');
        if (!corpus)
          fail(
            c,
            `"gold_doc_ids" names passage ${describe(gid)}, but no corpus was given. Add the corpus JSONL, or drop gold_doc_ids.`,
          );
        if (!corpus.ids.has(gid))
          fail(c, `gold passage ${describe(gid)} is not in ${corpusLabel}. Add it to the corpus or remove it from gold_doc_ids.`);
        if (!seen.has(gid)) {
          seen.add(gid);
          goldDocIds.push(gid);
        }
      }
    }

    const rawSplit = rec.split;
    let split: QuestionSplit | undefined;
    if (rawSplit !== undefined && rawSplit !== null) {
      if (typeof rawSplit !== 'string' || !(SPLITS as readonly string[]).includes(rawSplit))
        fail(c, `"split" must be one of ${SPLITS.join(', ')} (got ${describe(rawSplit)}). Fix it or leave it out.`);
      split = rawSplit as QuestionSplit;
    }
    const withSplit = <T extends Question>(q: T): T => (split ? { ...q, split } : q);

    const answer = rec.answer;
    const rawOptions = rec.options;
    if (rawOptions !== undefined && rawOptions !== null) {
      if (!Array.isArray(rawOptions) || rawOptions.length < 2 || rawOptions.length > DATASET_LIMITS.options) {
        fail(
          c,
          `"options" must be an array of 2 to ${DATASET_LIMITS.options} option texts (got ${describe(rawOptions)}). Fix it, or leave it out for a question without options.`,
        );
      }
      const options = rawOptions.map((o: unknown, i) => {
        if (typeof o !== 'string' || o.trim() === '') fail(c, `options[${i}] must be a non-empty string (got ${describe(o)}).`);
        checkTextSize(o, `options[${i}]`, c);
        return o;
      });
      let answerIndex = -1;
      if (typeof answer === 'string') {
        answerIndex = options.indexOf(answer);
        if (answerIndex < 0) answerIndex = options.findIndex((o) => o.trim() === answer.trim());
        if (answerIndex < 0 && /^[A-Z]$/.test(answer.trim())) {
          const i = LETTERS.indexOf(answer.trim());
          if (i < options.length) answerIndex = i;
        }
      } else if (typeof answer === 'number' && Number.isInteger(answer) && answer >= 0 && answer < options.length) {
        answerIndex = answer;
      }
      if (answerIndex < 0) {
        fail(
          c,
          `"answer" ${describe(answer)} is not one of its ${options.length} options. Give the correct option's exact text, ` +
            `its letter (A to ${LETTERS[options.length - 1]}) or its 0-based index (0 to ${options.length - 1}).`,
        );
      }
      questions.push(
        withSplit({ id, question, kind: 'multiple-choice', options, answer: options[answerIndex]!, answerIndex, goldDocIds }),
      );
      continue;
    }
    if (typeof answer !== 'string') {
      fail(
        c,
        `"answer" must be a string (got ${describe(answer)}); use "" for retrieval-only questions. Fill it in or remove the record.`,
      );
    }
    const ynm = YES_NO_MAYBE.indexOf(answer.trim().toLowerCase() as (typeof YES_NO_MAYBE)[number]);
    if (ynm >= 0)
      questions.push(withSplit({ id, question, kind: 'yes-no-maybe', answer: YES_NO_MAYBE[ynm]!, answerIndex: ynm, goldDocIds }));
    else questions.push(withSplit({ id, question, kind: 'open', answer, goldDocIds }));
  }
  requireSome(questions, { format, where: questionsLabel }, 'the file holds no questions');
  return { name, format, passages: corpus?.passages ?? [], questions };
}

// ---------------------------------------------------------------------------------------------
// Dispatch and merging

/** The files each format needs, by key. Single-file formats take `data`, or the only file given. */
export const DATASET_FILES: Record<DatasetFormat, { required: string[]; optional: string[] }> = {
  pubmedqa: { required: ['data'], optional: [] },
  medmcqa: { required: ['data'], optional: [] },
  medqa: { required: ['data'], optional: [] },
  beir: { required: ['corpus', 'queries', 'qrels'], optional: [] },
  jsonl: { required: ['questions'], optional: ['corpus'] },
};

/**
 * Parses `files` (file texts by key, see DATASET_FILES) as `format`. `fileNames` (by the same keys)
 * are the files as the user picked them (a file's name, a URL): every problem names the file.
 */
export function parseDataset(
  format: DatasetFormat,
  files: Record<string, string>,
  name?: string,
  fileNames: Record<string, string> = {},
): Dataset {
  const keys = Object.keys(files);
  const own = (key: string): unknown => (Object.hasOwn(files, key) ? files[key] : undefined);
  const text = (key: string, v: unknown): string => {
    if (typeof v !== 'string') fail({ format, where: 'files' }, `the file ${field(key)} must be text (got ${describe(v)}).`);
    return v;
  };
  const picked = (key: string): string | undefined => (Object.hasOwn(fileNames, key) ? fileNames[key] : undefined);
  /** The single file of PubMedQA, MedMCQA, MedQA: its problems are prefixed with the file it came from. */
  const single = (parse: (text: string, name?: string) => Dataset): Dataset => {
    const key = own('data') === undefined && keys.length === 1 ? keys[0]! : 'data';
    const text = get('data');
    const file = picked(key);
    try {
      return parse(text, name);
    } catch (err) {
      if (!(err instanceof DatasetError) || !file) throw err;
      throw new DatasetError(err.format, err.where ? `${clip(file)} ${err.where}` : clip(file), err.problem);
    }
  };
  /** The names of the files picked for these keys, where known. */
  const namesOf = <K extends string>(...ks: K[]): Partial<Record<K, string>> =>
    Object.fromEntries(ks.flatMap((k) => (picked(k) === undefined ? [] : [[k, picked(k)!]]))) as Partial<Record<K, string>>;
  const get = (key: string): string => {
    let v = own(key);
    let name = key;
    if (v === undefined && key === 'data' && keys.length === 1) v = own((name = keys[0]!));
    if (v === undefined) {
      const { required, optional } = DATASET_FILES[format];
      fail(
        { format, where: 'files' },
        `the file "${key}" is missing (given: ${names(keys) || 'none'}). ${FORMAT_NAMES[format]} needs ${required.join(', ')}` +
          (optional.length ? ` and optionally ${optional.join(', ')}` : '') +
          '.',
      );
    }
    return text(name, v);
  };
  switch (format) {
    case 'pubmedqa':
      return single(parsePubMedQA);
    case 'medmcqa':
      return single(parseMedMCQA);
    case 'medqa':
      return single(parseMedQA);
    case 'beir':
      return parseBeir(
        { corpus: get('corpus'), queries: get('queries'), qrels: get('qrels') },
        name,
        namesOf('corpus', 'queries', 'qrels'),
      );
    case 'jsonl':
      return parseJsonlQA(
        { questions: get('questions'), corpus: own('corpus') === undefined ? undefined : text('corpus', own('corpus')) },
        name,
        namesOf('questions', 'corpus'),
      );
  }
}

/**
 * One dataset from several: passages and questions concatenated in order (e.g. PubMedQA contexts
 * + MedMCQA explanations as one retrieval corpus). The name joins the names with '+'; the format is
 * the common one, or 'jsonl' when they differ. A passage or question id in two datasets is an error.
 */
export function mergeCorpora(...sets: Dataset[]): Dataset {
  if (sets.length === 0) fail({ format: 'jsonl', where: '' }, 'nothing to merge. Pass at least one dataset.');
  const passages: Passage[] = [];
  const questions: Question[] = [];
  const passageFrom = new Map<string, string>();
  const questionFrom = new Map<string, string>();
  for (const set of sets) {
    for (const p of set.passages) {
      const other = passageFrom.get(p.id);
      if (other !== undefined) {
        fail(
          { format: set.format, where: `passage ${clip(p.id)}` },
          `passage id ${describe(p.id)} is in both ${describe(other)} and ${describe(set.name)}. Merge each dataset once, or rename the passages of one of them.`,
        );
      }
      passageFrom.set(p.id, set.name);
      passages.push(p);
    }
    for (const q of set.questions) {
      const other = questionFrom.get(q.id);
      if (other !== undefined) {
        fail(
          { format: set.format, where: `question ${clip(q.id)}` },
          `question id ${describe(q.id)} is in both ${describe(other)} and ${describe(set.name)}. Merge each dataset once, or rename the questions of one of them.`,
        );
      }
      questionFrom.set(q.id, set.name);
      questions.push(q);
    }
  }
  const first = sets[0]!;
  const format = sets.every((s) => s.format === first.format) ? first.format : 'jsonl';
  return { name: sets.map((s) => s.name).join('+'), format, passages, questions };
}
