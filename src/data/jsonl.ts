// Streamed reading of text data files (JSONL, JSON, TSV) with byte progress, and line-by-line
// JSON parsing with line numbers. Browser and Node alike: only web streams and TextDecoder.
// Errors are made by the caller (datasets.ts passes a factory), so this file imports nothing.

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

/**
 * Parses JSONL text: one JSON object a line; blank lines are skipped. The first line that is not
 * valid JSON, or not an object, throws the error made by `makeError`, so nothing partial is used.
 */
export function* parseJsonlLines(text: string, fileLabel: string, makeError: JsonlErrorFactory): Generator<JsonlRecord> {
  for (const { line, number } of textLines(text)) {
    if (line.trim() === '') continue;
    const where = lineLabel(fileLabel, number);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw makeError(
        where,
        `not valid JSON (${(e as Error).message}). Each line must hold one complete JSON object; fix or remove this line.`,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw makeError(
        where,
        `each line must hold one JSON object {...}, but this one holds ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'null' : `a ${typeof value}`}.`,
      );
    }
    yield { value: value as Record<string, unknown>, line: number };
  }
}

/** 'line 3', or 'corpus.jsonl line 3' when the file has a label. */
export function lineLabel(fileLabel: string, line: number): string {
  return fileLabel ? `${fileLabel} line ${line}` : `line ${line}`;
}
