// A checkpoint's several files: readAll reads them with one combined progress (through the same
// ProgressMeter as a single read), and weightFileNames lists the safetensors shards from
// model.safetensors.index.json, read depth-bounded, own keys only, prototype keys refused, shard
// names plain .safetensors file names, counts and size bounded.

import { clip, describe } from '../../core/format';
import { JsonInputError, MAX_JSON_DEPTH, parseJson } from '../../core/json';
import { ModelFormatError } from './errors';
import { maxOf, ProgressMeter } from './stream';
import type { DownloadProgress, ModelFiles, ReadAllOptions, ReadOptions, WeightFiles } from './types';

/**
 * Reads `paths` (duplicates once) with combined progress, for sharded checkpoints. On the first
 * failure the other reads are cancelled and that failure is thrown. Result keyed by path, in order.
 */
export async function readAll(
  files: ModelFiles,
  paths: readonly string[],
  opts: ReadAllOptions = {},
): Promise<Map<string, Uint8Array>> {
  const unique = [...new Set(paths)];
  const { signal, onProgress } = opts;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const state = unique.map(() => ({ loaded: 0, total: null as number | null, started: false, done: false, fromCache: true }));
  const sink = onProgress
    ? (p: DownloadProgress) => onProgress({ ...p, filesDone: state.filter((s) => s.done).length, filesTotal: unique.length })
    : undefined;
  const meter = new ProgressMeter(unique[0] ?? '', sink);
  const sumTotal = (): number | null =>
    state.every((s) => s.started && s.total !== null) ? state.reduce((a, s) => a + (s.total ?? 0), 0) : null;
  meter.begin(unique.length === 0 ? 0 : null);

  const results: (Uint8Array | undefined)[] = unique.map(() => undefined);
  const inner = new AbortController();
  const onAbort = (): void => inner.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) inner.abort();
  let failed = false;
  let failure: unknown;
  let next = 0;

  const lane = async (): Promise<void> => {
    while (!failed && next < unique.length) {
      const i = next++;
      const path = unique[i]!;
      const s = state[i]!;
      try {
        results[i] = await files.read(path, {
          signal: inner.signal,
          ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
          onProgress: (p) => {
            s.started = true;
            s.loaded = p.loaded;
            s.total = p.total ?? (p.done ? p.loaded : null);
            s.fromCache &&= p.fromCache;
            s.done = p.done;
            meter.fromCache = state.every((x) => !x.started || x.fromCache);
            meter.setTotal(sumTotal());
            if (!state.every((x) => x.done))
              meter.update(
                state.reduce((a, x) => a + x.loaded, 0),
                path,
              );
          },
        });
        s.done = true;
      } catch (e) {
        if (!failed) {
          failed = true;
          failure = e;
          inner.abort();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, unique.length) }, lane));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (failed) throw failure;
  meter.fromCache = state.every((x) => x.fromCache);
  meter.finish(
    results.reduce((a, r) => a + (r?.byteLength ?? 0), 0),
    unique[unique.length - 1] ?? '',
  );
  return new Map(unique.map((p, i) => [p, results[i]!]));
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
/** Largest index read (real ones are a few MB even for models with ~100k tensors). */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Most tensors an index may map. */
export const MAX_INDEX_TENSORS = 1_000_000;
/** Most shard files an index may name. */
export const MAX_INDEX_SHARDS = 10_000;
/** Longest shard file name. */
const MAX_SHARD_NAME = 255;
/** Keys that name a JavaScript prototype: never a tensor, a field or a metadata key. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A plain file name (no folder, no "\\", no control character) ending in .safetensors; else why not. */
function shardNameProblem(file: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (file.length > MAX_SHARD_NAME || file.includes('/') || file.includes('\\') || /[\u0000-\u001f\u007f]/.test(file))
    return `which is not a file name inside the model folder (a shard is a plain name of at most ${MAX_SHARD_NAME} characters, with no "/", "\\" or control characters)`;
  if (!file.endsWith('.safetensors') || file === '.safetensors') return 'which is not a .safetensors file';
  return null;
}

/** Where in `metadata` a non-finite number or a prototype key sits (walked without recursion; depth is bounded). */
function metadataProblem(metadata: Record<string, unknown>): string | null {
  const stack: [unknown, string][] = [[metadata, '']];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return `"metadata" holds ${describe(v)} at ${clip(at.slice(1))}`;
    if (typeof v !== 'object' || v === null) continue;
    for (const k of Object.keys(v)) {
      if (PROTOTYPE_KEYS.has(k)) return `the key "${k}" in "metadata" names a JavaScript prototype, not a field`;
      stack.push([(v as Record<string, unknown>)[k], `${at}.${k}`]);
    }
  }
  return null;
}

/**
 * The safetensors files of a model: the shards named by model.safetensors.index.json
 * (`{ metadata?, weight_map: { tensorName: fileName } }`) when it exists, else ['model.safetensors'].
 * The index is read depth-bounded (parseJson) and at most MAX_INDEX_BYTES; only its own keys
 * count, prototype keys are refused, every shard is a plain .safetensors file name in the model
 * folder, and the counts are bounded. A malformed index is a ModelFormatError naming the problem.
 */
export async function weightFileNames(files: ModelFiles, opts: ReadOptions = {}): Promise<WeightFiles> {
  if (!(await files.exists(SAFETENSORS_INDEX))) return { files: ['model.safetensors'], weightMap: null, metadata: null };
  const bytes = await files.read(SAFETENSORS_INDEX, { ...opts, maxBytes: Math.min(maxOf(opts.maxBytes), MAX_INDEX_BYTES) });
  const bad = (reason: string): ModelFormatError =>
    new ModelFormatError(
      SAFETENSORS_INDEX,
      `${SAFETENSORS_INDEX} in ${clip(files.label)} is malformed: ${reason}. Re-download the model (or fix the file); ` +
        'it must be {"metadata": {...}, "weight_map": {"tensor name": "shard file name"}}.',
    );
  let parsed: unknown;
  try {
    parsed = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes), SAFETENSORS_INDEX);
  } catch (e) {
    if (e instanceof JsonInputError)
      throw bad(
        e.reason === 'depth'
          ? `it nests deeper than ${MAX_JSON_DEPTH} levels (an index nests 2)`
          : `it is ${e.message.slice(e.what.length + 2)}`,
      );
    throw bad('it is not valid JSON (its bytes are not UTF-8)');
  }
  if (!isPlainObject(parsed)) throw bad(`the top level is not a JSON object (it is ${describe(parsed)})`);
  for (const k of Object.keys(parsed))
    if (PROTOTYPE_KEYS.has(k)) throw bad(`the key "${k}" at the top level names a JavaScript prototype, not a field`);
  const own = (key: string): unknown => (Object.hasOwn(parsed, key) ? parsed[key] : undefined);
  const metadata = own('metadata');
  if (metadata !== undefined && metadata !== null && !isPlainObject(metadata))
    throw bad(`"metadata" is ${describe(metadata)}, not an object`);
  const mdProblem = isPlainObject(metadata) ? metadataProblem(metadata) : null;
  if (mdProblem) throw bad(mdProblem);
  const map = own('weight_map');
  if (map === undefined) throw bad('"weight_map" is missing');
  if (!isPlainObject(map)) throw bad(`"weight_map" is ${describe(map)}, not an object`);
  const names = Object.keys(map);
  if (names.length > MAX_INDEX_TENSORS)
    throw bad(`"weight_map" maps ${names.length} tensors; MedRank reads at most ${MAX_INDEX_TENSORS}`);
  const weightMap = new Map<string, string>();
  const shards = new Set<string>();
  for (const tensor of names) {
    if (PROTOTYPE_KEYS.has(tensor)) throw bad(`the key "${tensor}" in "weight_map" names a JavaScript prototype, not a tensor`);
    const file = map[tensor];
    if (typeof file !== 'string') throw bad(`the file of tensor ${describe(tensor)} is ${describe(file)}, not a string`);
    const problem = shardNameProblem(file);
    if (problem) throw bad(`tensor ${describe(tensor)} points to ${describe(file)}, ${problem}`);
    weightMap.set(tensor, file);
    shards.add(file);
    if (shards.size > MAX_INDEX_SHARDS)
      throw bad(`"weight_map" names ${shards.size}+ shard files; MedRank reads at most ${MAX_INDEX_SHARDS}`);
  }
  if (shards.size === 0) throw bad('"weight_map" is empty');
  return { files: [...shards].sort(), weightMap, metadata: isPlainObject(metadata) ? metadata : null };
}
