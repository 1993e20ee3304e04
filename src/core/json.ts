// JSON from input, bounded before anything recurses over it. JSON.parse itself copes with deep
// nesting, but every validator that walks the value recursively would overflow the stack on a
// file nested a few thousand levels deep; MedRank's own files nest fewer than 12 levels. So a
// text is scanned once (iteratively, strings skipped) and refused past MAX_JSON_DEPTH, and a value
// that did not come from text (a structured clone, an object handed over) is checked the same way.

import { MedRankError } from './errors';

/** Deepest nesting of arrays and objects MedRank reads from any file. */
export const MAX_JSON_DEPTH = 64;

/** A JSON text that cannot be read: its syntax, or nesting past the bound. `what` names the file. */
export class JsonInputError extends MedRankError {
  constructor(
    readonly what: string,
    readonly reason: 'syntax' | 'depth',
    detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

/** Deepest bracket nesting of a JSON text (brackets inside strings do not count), stopping early past `limit`. */
export function jsonTextDepth(text: string, limit = Infinity): number {
  let depth = 0,
    deepest = 0,
    inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}

/** Deepest nesting of arrays and objects in a value, without recursion, stopping early past `limit`. */
export function valueDepth(root: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const here = d + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (typeof x === 'object' && x !== null) stack.push([x, here]);
  }
  return deepest;
}

const depthMessage = (max: number) =>
  `nested deeper than ${max} levels (MedRank's files nest far less); this is not a file MedRank wrote or can read`;

/** Throws JsonInputError when `root` nests deeper than `max`. */
export function checkDepth(root: unknown, what: string, max = MAX_JSON_DEPTH): void {
  if (valueDepth(root, max) > max) throw new JsonInputError(what, 'depth', depthMessage(max));
}

/**
 * JSON.parse with the depth checked first. A syntax error says where (JSON.parse's own words,
 * which name the position) and is a JsonInputError; callers wrap it in their layer's error.
 */
export function parseJson(text: string, what: string, max = MAX_JSON_DEPTH): unknown {
  if (jsonTextDepth(text, max) > max) throw new JsonInputError(what, 'depth', depthMessage(max));
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new JsonInputError(what, 'syntax', `not valid JSON (${msg.length > 200 ? `${msg.slice(0, 199)}…` : msg})`);
  }
}
