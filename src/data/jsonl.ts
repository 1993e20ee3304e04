// Streamed reading of text data files (JSONL, JSON, TSV) with byte progress, line-by-line JSON
// parsing with line numbers, and a scan of JSON text for what JSON.parse passes over in silence
// (a key given twice keeps only its last value; __proto__ and friends become own keys). Browser
// and Node alike: only web streams and TextDecoder. Errors are made by the caller (datasets.ts
// passes a factory); JSON goes through core's depth-bounded parseJson.
import { clip, describe } from '../core/format';
import { JsonInputError, MAX_JSON_DEPTH, parseJson } from '../core/json';

export interface ReadProgress {
  /** Bytes read so far. */
  loaded: number;
  /** Bytes expected (opts.total, e.g. Content-Length or File.size), or null when unknown. */
  total: number | null;
}

export interface ReadOptions {
  /** The stream's size in bytes, when known; passed through to onProgress. */
  total?: number;
  /**
   * Called with 0 bytes before the first read, after every chunk, and once more at the end with
   * `total` set to the bytes actually read, so a progress bar always ends full. `loaded` never decreases.
   */
  onProgress?: (p: ReadProgress) => void;
  /** Aborting cancels the stream and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface TextLine {
  /** The line without its '\n' or '\r\n'. */
  line: string;
  /** 1-based line number. */
  number: number;
}

/** The chunks of a byte stream, reporting progress; cancels the stream when aborted or left early. */
async function* byteChunks(stream: ReadableStream<Uint8Array>, opts: ReadOptions): AsyncGenerator<Uint8Array> {
  const { signal, onProgress } = opts;
  const total = opts.total ?? null;
  signal?.throwIfAborted();
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  let loaded = 0;
  let finished = false;
  try {
    onProgress?.({ loaded, total });
    for (;;) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      loaded += value.byteLength;
      onProgress?.({ loaded, total });
      yield value;
    }
    finished = true;
    onProgress?.({ loaded, total: loaded });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * The lines of a UTF-8 byte stream, numbered from 1. Multi-byte characters split across chunks
 * are decoded correctly, a leading BOM is dropped and '\r\n' endings are accepted. Blank lines are
 * yielded too (so numbers match the file); a final line without '\n' is yielded, an empty one is not.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>, opts: ReadOptions = {}): AsyncGenerator<TextLine> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let number = 0;
  for await (const chunk of byteChunks(stream, opts)) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
      yield { line: chompCr(buffer.slice(start, nl)), number: ++number };
      start = nl + 1;
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer !== '') yield { line: chompCr(buffer), number: ++number };
}

/** The whole stream as text (UTF-8, BOM dropped), with the same progress and cancellation as readLines. */
export async function readText(stream: ReadableStream<Uint8Array>, opts: ReadOptions = {}): Promise<string> {
  const decoder = new TextDecoder('utf-8');
  const parts: string[] = [];
  for await (const chunk of byteChunks(stream, opts)) parts.push(decoder.decode(chunk, { stream: true }));
  parts.push(decoder.decode());
  return parts.join('');
}

/** Drops a leading byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function chompCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The lines of a text already in memory, numbered from 1 (BOM dropped, '\r\n' accepted, blank lines included). */
export function* textLines(text: string): Generator<TextLine> {
  const s = stripBom(text);
  let number = 0;
  let start = 0;
  while (start < s.length) {
    let nl = s.indexOf('\n', start);
    if (nl < 0) nl = s.length;
    yield { line: chompCr(s.slice(start, nl)), number: ++number };
    start = nl + 1;
  }
}

export interface JsonlRecord {
  value: Record<string, unknown>;
  /** 1-based line number in the file. */
  line: number;
}

/** Builds the error to throw for a bad line; `where` is like 'line 3' or 'corpus.jsonl line 3'. */
export type JsonlErrorFactory = (where: string, message: string) => Error;

export interface JsonlOptions {
  /** Longest line read; a longer one is refused before it is parsed. */
  maxLineChars?: number;
}

/**
 * Parses JSONL text: one JSON object a line; blank lines are skipped. The first line that is
 * too long, not valid JSON, nested past MAX_JSON_DEPTH, gives a key twice or uses a reserved key
 * (see scanJson), or is not an object, throws the error made by `makeError`, so nothing partial
 * is used. Messages are bounded and say where in the line (column) the problem is.
 */
export function* parseJsonlLines(
  text: string,
  fileLabel: string,
  makeError: JsonlErrorFactory,
  opts: JsonlOptions = {},
): Generator<JsonlRecord> {
  const maxLine = opts.maxLineChars ?? Infinity;
  for (const { line, number } of textLines(text)) {
    if (line.trim() === '') continue;
    const where = lineLabel(fileLabel, number);
    if (line.length > maxLine) {
      throw makeError(
        where,
        `the line holds ${count(line.length)} characters, more than the ${count(maxLine)} one record may hold. Check that this is the right file; split very long texts into several records.`,
      );
    }
    const read = readJson(line);
    if (!read.ok) {
      const { problem, offset } = read;
      const hint =
        problem.kind === 'syntax'
          ? ' Each line must hold one complete JSON object; fix or remove this line.'
          : problem.kind === 'depth'
            ? ' Dataset records nest a few levels at most; this is not a file MedRank can read.'
            : '';
      throw makeError(where, `${jsonProblemText(problem, `column ${offset + 1}`)}.${hint}`);
    }
    const value = read.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw makeError(
        where,
        `each line must hold one JSON object {...}, but this one holds ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}.`,
      );
    }
    yield { value: value as Record<string, unknown>, line: number };
  }
}

/** 'line 3', or 'corpus.jsonl line 3' when the file has a label (cut to a readable length). */
export function lineLabel(fileLabel: string, line: number): string {
  return fileLabel ? `${clip(fileLabel)} line ${line}` : `line ${line}`;
}

/** 1234567 as '1,234,567'. */
export function count(n: number): string {
  return Number.isFinite(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : String(n);
}

// ---------------------------------------------------------------------------------------------
// Reading one JSON text from input

/** Keys refused in any object of input: JSON.parse makes them own keys, and copying them is how prototypes get polluted. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Where a key sits: the keys (and array indices) of the objects around it, outermost first. */
export type JsonPath = (string | number)[];

/** What scanJson found wrong with a JSON text; `offset` is where (0-based, in UTF-16 units). */
export type JsonProblem =
  | { kind: 'syntax'; offset: number; expected: string; found: string }
  | { kind: 'depth'; offset: number; max: number }
  | { kind: 'duplicate'; offset: number; firstOffset: number; key: string; path: JsonPath }
  | { kind: 'reserved'; offset: number; key: string; path: JsonPath };

interface Frame {
  /** An object's keys and where each was first given; null for an array. */
  keys: Map<string, number> | null;
  /** Where this container sits in its parent. */
  name: string | number | null;
  /** Arrays: the index of the current element. */
  index: number;
  /** Objects: the key whose value is being read. */
  key: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const VALUE = 0,
  AFTER = 1,
  KEY = 2;

function skipSpace(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = s.charCodeAt(++i));
  return i;
}

function foundAt(s: string, i: number): string {
  return i >= s.length ? 'the end of the text' : describe(s.charAt(i));
}

/** The offset just past the string starting at `i` (a '"'), or the syntax problem inside it. */
function stringEnd(s: string, i: number): number | JsonProblem {
  const n = s.length;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 34) return j + 1;
    if (c === 92) {
      const e = s.charCodeAt(j + 1);
      if (e === 117) {
        if (!/^[0-9a-fA-F]{4}$/.test(s.slice(j + 2, j + 6)))
          return { kind: 'syntax', offset: j, expected: 'four hex digits after \\u', found: describe(s.slice(j, j + 6)) };
        j += 5;
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) j++;
      else return { kind: 'syntax', offset: j, expected: 'an escape such as \\n or \\"', found: foundAt(s, j + 1) };
    } else if (c < 32) {
      return {
        kind: 'syntax',
        offset: j,
        expected: 'no raw control character inside a string (write \\n, \\t)',
        found: foundAt(s, j),
      };
    }
  }
  return { kind: 'syntax', offset: n, expected: 'the closing quote of a string', found: 'the end of the text' };
}

/**
 * Scans a JSON text iteratively (no recursion, so any nesting is safe) and returns its first
 * problem: a syntax error, nesting deeper than `maxDepth`, a key given twice in one object, or a
 * key in RESERVED_KEYS; null when it has none. The grammar is JSON's own (RFC 8259), as JSON.parse
 * reads it, so JSON.parse accepts exactly the texts that give no syntax problem here.
 */
export function scanJson(s: string, maxDepth = Infinity): JsonProblem | null {
  const n = s.length;
  const stack: Frame[] = [];
  const pathTo = (): JsonPath => stack.slice(1).map((f) => f.name!);
  let mode = VALUE;
  let i = 0;
  for (;;) {
    i = skipSpace(s, i);
    const c = s.charCodeAt(i);
    if (mode === VALUE) {
      if (c === 123 || c === 91) {
        if (stack.length >= maxDepth) return { kind: 'depth', offset: i, max: maxDepth };
        const parent = stack.at(-1);
        const name = parent ? (parent.keys ? parent.key : parent.index) : null;
        const close = c === 123 ? 125 : 93;
        const j = skipSpace(s, i + 1);
        if (s.charCodeAt(j) === close) {
          i = j + 1;
          mode = AFTER;
          continue;
        }
        stack.push({ keys: c === 123 ? new Map() : null, name, index: 0, key: '' });
        i = j;
        mode = c === 123 ? KEY : VALUE;
        continue;
      }
      if (c === 34) {
        const end = stringEnd(s, i);
        if (typeof end !== 'number') return end;
        i = end;
      } else if (c === 45 || (c >= 48 && c <= 57)) {
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(s);
        if (!m) return { kind: 'syntax', offset: i + 1, expected: 'a digit', found: foundAt(s, i + 1) };
        i += m[0].length;
      } else if (s.startsWith('true', i)) i += 4;
      else if (s.startsWith('false', i)) i += 5;
      else if (s.startsWith('null', i)) i += 4;
      else return { kind: 'syntax', offset: i, expected: 'a value', found: foundAt(s, i) };
      mode = AFTER;
      continue;
    }
    const top = stack.at(-1);
    if (mode === KEY) {
      if (c !== 34) return { kind: 'syntax', offset: i, expected: 'a key in double quotes', found: foundAt(s, i) };
      const end = stringEnd(s, i);
      if (typeof end !== 'number') return end;
      const raw = s.slice(i + 1, end - 1);
      const key = raw.includes('\\') ? (JSON.parse(s.slice(i, end)) as string) : raw;
      if (RESERVED_KEYS.has(key)) return { kind: 'reserved', offset: i, key, path: pathTo() };
      const keys = top!.keys!;
      const first = keys.get(key);
      if (first !== undefined) return { kind: 'duplicate', offset: i, firstOffset: first, key, path: pathTo() };
      keys.set(key, i);
      top!.key = key;
      i = skipSpace(s, end);
      if (s.charCodeAt(i) !== 58) return { kind: 'syntax', offset: i, expected: "':' after the key", found: foundAt(s, i) };
      i++;
      mode = VALUE;
      continue;
    }
    // AFTER a value
    if (!top) return i < n ? { kind: 'syntax', offset: i, expected: 'the end of the text', found: foundAt(s, i) } : null;
    if (c === 44) {
      i++;
      if (top.keys) mode = KEY;
      else {
        top.index++;
        mode = VALUE;
      }
    } else if (c === (top.keys ? 125 : 93)) {
      stack.pop();
      i++;
    } else {
      return { kind: 'syntax', offset: i, expected: top.keys ? "',' or '}'" : "',' or ']'", found: foundAt(s, i) };
    }
  }
}

/** A path for a message: 'options.A', 'CONTEXTS[2]', cut to its last few steps. */
export function pathText(path: JsonPath): string {
  const steps = path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k > 0 ? '.' : ''}${clip(p, 24)}`));
  const shown = steps.length > 4 ? ['…', ...steps.slice(-4)] : steps;
  return clip(shown.join(''), 120);
}

/** What a scan problem is, in words, without its position (the caller says where: `at` is like 'column 7'). */
export function jsonProblemText(p: JsonProblem, at: string): string {
  const inside = 'path' in p && p.path.length ? ` in ${pathText(p.path)}` : '';
  switch (p.kind) {
    case 'syntax':
      return `not valid JSON (expected ${p.expected} at ${at}, found ${p.found})`;
    case 'depth':
      return `nested deeper than ${p.max} levels (at ${at})`;
    case 'duplicate':
      return `the key ${describe(p.key)}${inside} is given twice (again at ${at}); JSON keeps only the last, so give it once`;
    case 'reserved':
      return `the key ${describe(p.key)}${inside} (at ${at}) is refused: __proto__, constructor and prototype are reserved by JavaScript objects; rename or remove it`;
  }
}

export type JsonRead = { ok: true; value: unknown } | { ok: false; problem: JsonProblem; offset: number };

/**
 * One JSON text from input: parsed by core's parseJson (depth bounded by MAX_JSON_DEPTH), then
 * scanned (scanJson) for keys given twice and reserved keys. A refusal says what and where.
 */
export function readJson(text: string, maxDepth = MAX_JSON_DEPTH): JsonRead {
  let value: unknown;
  try {
    value = parseJson(text, 'JSON', maxDepth);
  } catch (err) {
    if (!(err instanceof JsonInputError)) throw err;
    const p = scanJson(text, maxDepth);
    if (p && (p.kind === 'syntax' || p.kind === 'depth')) return { ok: false, problem: p, offset: p.offset };
    // The scan found the text sound where JSON.parse did not (it should not happen): say so without a position.
    const problem: JsonProblem =
      err.reason === 'depth'
        ? { kind: 'depth', offset: 0, max: maxDepth }
        : { kind: 'syntax', offset: 0, expected: 'valid JSON', found: 'text JSON.parse refuses' };
    return { ok: false, problem, offset: 0 };
  }
  const p = scanJson(text, maxDepth);
  if (p && (p.kind === 'duplicate' || p.kind === 'reserved')) return { ok: false, problem: p, offset: p.offset };
  return { ok: true, value };
}

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1,
    start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < offset; nl = text.indexOf('\n', start)) {
    line++;
    start = nl + 1;
  }
  return { line, column: offset - start + 1 };
}
