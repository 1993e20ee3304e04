// The seeded hostile-input generator and the harness every validator's fuzz test runs through.
// A case is a valid sample mutated in one place (a value swapped for a hostile one, a key added
// or removed, the text truncated, nesting thousands deep). A validator passes a case when it
// either refuses it with a MedRankError whose message is bounded, names no `undefined` and
// prints no `(got null)` for a number, or accepts it and the accepted value holds the
// validator's own invariant. Anything else (a TypeError, a RangeError from the stack, a case
// that takes longer than a second) fails with the case's seed, so it can be replayed.

import { mulberry32 } from '../../../src/tensor';
import { MedRankError } from '../../../src/core/errors';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Longest message a refusal may have. */
export const MAX_MESSAGE = 1_000;
/** Slowest a single case may be, in ms. */
export const MAX_CASE_MS = 1_000;

export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
}

export function rng(seed: number): Rng {
  const r = mulberry32(seed);
  return {
    next: r,
    int: (n) => Math.floor(r() * n),
    pick: (xs) => xs[Math.floor(r() * xs.length)]!,
  };
}

/** A value nested `depth` levels deep: [[[...]]] or {"a":{"a":...}}. */
export function deep(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
}

/** Hostile values as JSON text (so 1e999 is Infinity and __proto__ is an own key after JSON.parse). */
export const HOSTILE_TEXT: readonly string[] = [
  'null',
  'true',
  '0',
  '-1',
  '-0',
  '0.5',
  '1e999',
  '-1e999',
  '1e308',
  String(2 ** 31),
  String(2 ** 53 + 2),
  '10000000',
  '""',
  '"x"',
  JSON.stringify('x'.repeat(100_000)),
  '"__proto__"',
  '"../../etc/passwd"',
  '[]',
  '{}',
  '[1,2,3]',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  deep(4_000),
  deep(4_000, 'object'),
  `[${Array(100_000).fill('0').join(',')}]`,
  `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":0`).join(',')}}`,
];

type Path = (string | number)[];

/** Plain-ASCII placeholders (JSON.stringify escapes control characters, so they must not be any). */
const HOSTILE_MARK = '__medrank_fuzz_value_7f3a__';
const KEY_MARK = '__medrank_fuzz_key_7f3a__';

/** Every path to a node of a JSON value (the root is []). */
function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k]!, [...at, k], out);
  return out;
}

/** JSON text of `v` with the node at `path` replaced by the raw JSON text `raw` (or removed when raw is null). */
function replaceAt(v: Json, path: Path, raw: string | null): string {
  const MARK = `"${HOSTILE_MARK}"`;
  if (path.length === 0) return raw ?? '';
  const copy = structuredClone(v) as Json;
  let node = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (raw === null) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
    return JSON.stringify(copy);
  }
  node[last] = HOSTILE_MARK;
  return JSON.stringify(copy).replace(MARK, raw);
}

export interface Case {
  seed: number;
  /** What was done, for the failure message. */
  what: string;
  text: string;
}

/** Case `seed` of a sample: one mutation, chosen and placed by the seed. */
export function mutate(sample: Json, seed: number): Case {
  const r = rng(seed);
  const all = paths(sample);
  const kind = r.int(10);
  const text = JSON.stringify(sample);
  if (kind === 0) {
    const at = r.int(text.length);
    return { seed, what: `truncated at ${at}`, text: text.slice(0, at) };
  }
  if (kind === 1) {
    const path = r.pick(all.filter((p) => p.length > 0).concat([[]]));
    return { seed, what: `removed ${path.join('.')}`, text: path.length ? replaceAt(sample, path, null) : '' };
  }
  if (kind === 2) {
    const objects = all.filter((p) => {
      let n: Json = sample;
      for (const k of p) n = (n as Record<string | number, Json>)[k]!;
      return n !== null && typeof n === 'object' && !Array.isArray(n);
    });
    const path = r.pick(objects);
    const key = r.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'x'.repeat(10_000)]);
    const value = r.pick(HOSTILE_TEXT.slice(0, 22));
    const inner = replaceAt(sample, [...path, KEY_MARK], value).replace(`"${KEY_MARK}"`, JSON.stringify(key));
    return { seed, what: `added key ${key.slice(0, 20)} at ${path.join('.') || 'top'}`, text: inner };
  }
  const path = r.pick(all);
  const raw = r.pick(HOSTILE_TEXT);
  return { seed, what: `${path.join('.') || 'top'} = ${raw.slice(0, 30)}`, text: replaceAt(sample, path, raw) };
}

export interface Outcome {
  seed: number;
  what: string;
  problem: string;
}

/**
 * Runs `cases` through `validate` and returns what went wrong (empty when all passed).
 * `accepted(value, c)` returns a problem when an accepted value breaks the validator's invariant.
 */
export async function fuzz<T>(
  cases: Case[],
  validate: (c: Case) => T | Promise<T>,
  accepted: (value: T, c: Case) => string | null = () => null,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    try {
      const v = await validate(c);
      const p = accepted(v, c);
      if (p) out.push({ seed: c.seed, what: c.what, problem: `wrongly accepted: ${p}` });
    } catch (err) {
      const p = refusalProblem(err);
      if (p) out.push({ seed: c.seed, what: c.what, problem: p });
    }
    const ms = performance.now() - t0;
    if (ms > MAX_CASE_MS) out.push({ seed: c.seed, what: c.what, problem: `took ${ms.toFixed(0)} ms` });
  }
  return out;
}

/** Why a thrown value is not a good refusal, or null when it is. */
export function refusalProblem(err: unknown): string | null {
  if (!(err instanceof MedRankError))
    return `generic error ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err).slice(0, 200)}`;
  const m = err.message;
  if (m.length > MAX_MESSAGE) return `message of ${m.length} characters: ${m.slice(0, 120)}…`;
  if (/\bundefined\b/.test(m)) return `message prints undefined: ${m.slice(0, 200)}`;
  if (/\(got null\)/.test(m)) return `message prints (got null): ${m.slice(0, 200)}`;
  return null;
}

/** A problem when a value holds a non-finite number, an own prototype key, or nests deeper than `max`. */
export function hostileLeft(v: unknown, max = 64): string | null {
  const stack: [unknown, number, string][] = [[v, 0, '']];
  while (stack.length) {
    const [x, d, at] = stack.pop()!;
    if (d > max) return `nested deeper than ${max} at ${at}`;
    if (typeof x === 'number' && !Number.isFinite(x)) return `${x} at ${at}`;
    if (x && typeof x === 'object') {
      if (ArrayBuffer.isView(x)) continue;
      for (const k of Object.keys(x)) {
        if (k === '__proto__' || k === 'constructor' || k === 'prototype') return `key ${k} at ${at}`;
        stack.push([(x as Record<string, unknown>)[k], d + 1, `${at}.${k}`]);
      }
    }
  }
  return null;
}

/** `n` cases of each sample, seeds from `base`. */
export function casesOf(samples: Json[], n: number, base = 1): Case[] {
  return samples.flatMap((s, i) => Array.from({ length: n }, (_, j) => mutate(s, base + i * 100_003 + j)));
}

export const report = (o: Outcome[]): string =>
  o
    .slice(0, 15)
    .map((x) => `seed ${x.seed} (${x.what}): ${x.problem}`)
    .join('\n');
