// Formatting shared by every layer: sizes and values as they appear in messages. A value taken
// from input is printed bounded (describe), so a hostile file cannot make a message huge.

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Longest text describe() returns. */
export const DESCRIBE_MAX = 80;

/**
 * What a value from input is, for a message: numbers as written (NaN, Infinity, -0 kept, which
 * JSON.stringify would print as null), strings quoted and cut, arrays and objects by their size,
 * never their contents. Never longer than DESCRIBE_MAX characters.
 */
export function describe(v: unknown): string {
  let s: string;
  if (v === undefined) s = 'nothing';
  else if (v === null) s = 'null';
  else if (typeof v === 'number') s = Object.is(v, -0) ? '-0' : String(v);
  else if (typeof v === 'string') s = JSON.stringify(v.length > DESCRIBE_MAX ? v.slice(0, DESCRIBE_MAX) : v);
  else if (typeof v === 'boolean' || typeof v === 'bigint') s = String(v);
  else if (Array.isArray(v)) s = `a list of ${v.length}`;
  else if (typeof v === 'object') s = `an object with ${Object.keys(v as object).length} keys`;
  else s = `a ${typeof v}`;
  return s.length > DESCRIBE_MAX ? `${s.slice(0, DESCRIBE_MAX - 1)}…` : s;
}

/** A name from input (a key, a file name) for a message: cut to DESCRIBE_MAX characters. */
export function clip(s: string, max = DESCRIBE_MAX): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
