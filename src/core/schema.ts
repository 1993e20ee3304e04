// Shapes declared once: a schema is a value from which both the TypeScript type (Infer<typeof S>)
// and the checked reading come. parse() looks at own properties only, refuses unknown and
// prototype keys, bounds every string and list before copying it, and builds a fresh value, so
// nothing of the input that the schema did not name reaches the caller. The first problem throws
// a SchemaError with its path ("generatorLora.r") and what was found (describe: bounded).

import { MedRankError } from './errors';
import { clip, describe } from './format';

export class SchemaError extends MedRankError {
  constructor(
    /** Where in the value ('' for the value as a whole). */
    readonly path: string,
    /** What is wrong there. */
    readonly problem: string,
  ) {
    super(`${path ? `${path}: ` : ''}${problem}`);
  }
}

export interface Schema<T> {
  /** Checks `v` and returns a fresh copy holding only what the schema names. */
  parse(v: unknown, path?: string): T;
  /** What the schema expects, for messages ("an integer from 1 to 64"). */
  readonly expects: string;
}
export type Infer<S> = S extends Schema<infer T> ? T : never;

const PROTO_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Longest string a schema accepts unless it says otherwise. */
export const DEFAULT_MAX_STRING = 4096;

const fail = (path: string, problem: string): never => {
  throw new SchemaError(path, problem);
};
export const at = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${clip(key, 60)}` : clip(key, 60);
const got = (v: unknown): string =>
  typeof v === 'number' && !Number.isFinite(v) ? `got ${describe(v)} (JSON has no NaN or Infinity)` : `got ${describe(v)}`;
const range = (min: number, max: number): string => (max < Infinity ? `from ${min} to ${max}` : `from ${min} up`);

/** An int() schema's bounds, for a caller that bounds something else by them (a list by the most candidates). */
export interface IntSchema extends Schema<number> {
  readonly min: number;
  readonly max: number;
}

export function int(opts: { min?: number; max?: number } = {}): IntSchema {
  const min = opts.min ?? 0,
    max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const expects = `an integer ${range(min, max)}`;
  return {
    expects,
    min,
    max,
    parse: (v, path = '') =>
      typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(path, `expected ${expects}, ${got(v)}`),
  };
}

/** A finite number in [min, max] (or (min, max] with minExclusive, [min, max) with maxExclusive). */
export function num(opts: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {}): Schema<number> {
  const { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = opts;
  const lo = min === -Infinity ? '' : minExclusive ? `above ${min}` : `at least ${min}`;
  const hi = max === Infinity ? '' : maxExclusive ? `below ${max}` : `at most ${max}`;
  const expects = `a finite number${lo || hi ? ' ' : ''}${[lo, hi].filter(Boolean).join(' and ')}`;
  return {
    expects,
    parse: (v, path = '') => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return fail(path, `expected ${expects}, ${got(v)}`);
      const ok = (minExclusive ? v > min : v >= min) && (maxExclusive ? v < max : v <= max);
      return ok ? v : fail(path, `expected ${expects}, ${got(v)}`);
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    expects: 'true or false',
    parse: (v, path = '') => (typeof v === 'boolean' ? v : fail(path, `expected true or false, ${got(v)}`)),
  };
}

export function str(opts: { max?: number; nonEmpty?: boolean; pattern?: RegExp; hint?: string } = {}): Schema<string> {
  const max = opts.max ?? DEFAULT_MAX_STRING;
  const expects = opts.hint ?? `${opts.nonEmpty ? 'a non-empty' : 'a'} string of at most ${max} characters`;
  return {
    expects,
    parse: (v, path = '') => {
      if (typeof v !== 'string') return fail(path, `expected ${expects}, ${got(v)}`);
      if (v.length > max) return fail(path, `text of ${v.length} characters is longer than the ${max} allowed`);
      if (opts.nonEmpty && !v.trim()) return fail(path, `expected ${expects}, got an empty string`);
      if (opts.pattern && !opts.pattern.test(v)) return fail(path, `expected ${expects}, ${got(v)}`);
      return v;
    },
  };
}

export function literal<const T extends string>(values: readonly T[]): Schema<T> {
  const expects = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return {
    expects,
    parse: (v, path = '') =>
      typeof v === 'string' && values.includes(v as T) ? (v as T) : fail(path, `expected ${expects}, ${got(v)}`),
  };
}

/**
 * A list of at most `max` items (counted before any is checked), each passing `item`. `why` says
 * where the bound comes from, for the message ("the run's config.candidates").
 */
export function list<T>(item: Schema<T>, opts: { min?: number; max: number; why?: string }): Schema<T[]> {
  const min = opts.min ?? 0;
  const size = min === 0 ? `at most ${opts.max}` : range(min, opts.max);
  const expects = `a list of ${size} items, each ${item.expects}`;
  const why = opts.why ? ` (${opts.why})` : '';
  return {
    expects,
    parse: (v, path = '') => {
      if (!Array.isArray(v)) return fail(path, `expected ${expects}, ${got(v)}`);
      if (v.length > opts.max) return fail(path, `${v.length} items, more than the ${opts.max} allowed${why}`);
      if (v.length < min) return fail(path, `${v.length} items, fewer than the ${min} needed${why}`);
      return v.map((x, i) => item.parse(x, at(path, i)));
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return { expects: `null or ${inner.expects}`, parse: (v, path = '') => (v === null ? null : inner.parse(v, path)) };
}

/** `inner`, and then `ok` (a rule a type cannot say: a URL's scheme, 0 or 1); `expects` says both. */
export function refine<T>(inner: Schema<T>, ok: (v: T) => boolean, expects: string): Schema<T> {
  return {
    expects,
    parse: (v, path = '') => {
      const x = inner.parse(v, path);
      return ok(x) ? x : fail(path, `expected ${expects}, ${got(x)}`);
    },
  };
}

/** A key of a JSON object that stands for a positive integer ("1", "10"), read as that number. */
export function intKey(opts: { max: number; hint?: string }): Schema<number> {
  const expects = opts.hint ?? `a whole number from 1 to ${opts.max} as a key`;
  return {
    expects,
    parse: (v, path = '') => {
      const n = typeof v === 'string' && /^[1-9]\d{0,15}$/.test(v) ? Number(v) : NaN;
      return n <= opts.max ? n : fail(path, `expected ${expects}, ${got(v)}`);
    },
  };
}

/** Is K a whole type (string, number) rather than a union of some keys? */
type Wide<K> = string extends K ? true : number extends K ? true : false;
export type RecordOf<K extends string | number, V> = Wide<K> extends true ? Record<K, V> : Partial<Record<K, V>>;

/**
 * A JSON object used as a map: at most `max` keys (counted before any is read), each passing `key`
 * (a pattern, a literal, an intKey), each value passing `value`. Prototype keys are refused.
 */
export function record<K extends string | number, V>(
  key: Schema<K>,
  value: Schema<V>,
  opts: { max: number; what?: string },
): Schema<RecordOf<K, V>> {
  const expects = opts.what ?? `a JSON object of at most ${opts.max} keys, each ${key.expects}, each value ${value.expects}`;
  return {
    expects,
    parse: (v, path = '') => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path, `expected ${expects}, ${got(v)}`);
      const keys = Object.keys(v);
      const proto = keys.find((k) => PROTO_KEYS.has(k));
      if (proto !== undefined) fail(at(path, proto), 'this key is not allowed');
      if (keys.length > opts.max) return fail(path, `${keys.length} keys, more than the ${opts.max} allowed`);
      const out: Record<string, V> = {};
      for (const k of keys) {
        key.parse(k, at(path, k));
        out[k] = value.parse((v as Record<string, unknown>)[k], at(path, k));
      }
      return out as RecordOf<K, V>;
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type Optional<T> = Schema<T> & { readonly optional: true };
export type InferShape<S extends Shape> = {
  [K in keyof S as S[K] extends Optional<unknown> ? never : K]: Infer<S[K]>;
} & { [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: Infer<S[K]> };

/** A field an object may leave out. */
export function optional<T>(inner: Schema<T>): Optional<T> {
  return { ...inner, optional: true };
}

export interface ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  readonly shape: S;
  /** The same fields, every one optional (a partial config, overrides). */
  partial(): Schema<Partial<InferShape<S>>>;
}

function readObject(shape: Shape, v: unknown, path: string, what: string, allOptional: boolean): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path, `expected ${what}, ${got(v)}`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const k of keys) {
    if (PROTO_KEYS.has(k)) fail(at(path, k), 'this key is not allowed');
    if (!Object.hasOwn(shape, k)) {
      const known = Object.keys(shape);
      fail(at(path, k), `unknown field; known fields: ${known.slice(0, 60).join(', ')}${known.length > 60 ? ', …' : ''}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(shape)) {
    if (!Object.hasOwn(o, k)) {
      if (!allOptional && !(s as Partial<Optional<unknown>>).optional) fail(at(path, k), `missing; expected ${s.expects}`);
      continue;
    }
    out[k] = s.parse(o[k], at(path, k));
  }
  return out;
}

/** An object with exactly these fields (optional() ones may be left out). */
export function object<S extends Shape>(shape: S, what = 'a JSON object'): ObjectSchema<S> {
  return {
    shape,
    expects: what,
    parse: (v, path = '') => readObject(shape, v, path, what, false) as InferShape<S>,
    partial: () => ({
      expects: what,
      parse: (v, path = '') => readObject(shape, v, path, what, true) as Partial<InferShape<S>>,
    }),
  };
}

/** An object with exactly these keys, each passing `value` (one entry per phase, per condition). */
export function keyed<const K extends string, T>(
  keys: readonly K[],
  value: Schema<T>,
  what?: string,
): ObjectSchema<Record<K, Schema<T>>> {
  const shape = Object.fromEntries(keys.map((k) => [k, value])) as Record<K, Schema<T>>;
  return object(shape, what ?? `{ ${keys.join(', ')} }, each ${value.expects}`);
}

/**
 * One of several object shapes, told apart by their `tag` field (`kind`): the tag is checked
 * first, then the object against its variant (each variant's shape has the tag as a literal).
 */
export function tagged<V extends Record<string, ObjectSchema<Shape>>>(
  tag: string,
  variants: V,
  what: string,
): Schema<Infer<V[keyof V]>> & { readonly variants: V } {
  const kinds = Object.keys(variants);
  const kindsText = `one of ${kinds.map((k) => JSON.stringify(k)).join(', ')}`;
  return {
    expects: what,
    variants,
    parse: (v, path = '') => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path, `expected ${what}, ${got(v)}`);
      const t = Object.hasOwn(v, tag) ? (v as Record<string, unknown>)[tag] : undefined;
      if (typeof t !== 'string' || !Object.hasOwn(variants, t)) return fail(at(path, tag), `expected ${kindsText}, ${got(t)}`);
      return variants[t]!.parse(v, path) as Infer<V[keyof V]>;
    },
  };
}
