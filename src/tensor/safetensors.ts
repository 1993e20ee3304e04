// Safetensors reader and writer, written by hand (no dependency): the file format of model
// checkpoints and of the PyTorch goldens in test/goldens/.
//
// Layout: u64 little-endian header length N | N bytes of UTF-8 JSON | data section.
// The JSON maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the start of the data section) plus an optional "__metadata__": {string: string}.
// Everything in the header is validated before any tensor is decoded, so a corrupt or hostile
// file fails fast with a message instead of allocating gigabytes or reading garbage: the JSON is
// depth-bounded (parseJson), no object holds a key twice (JSON.parse would keep the last one
// silently), and the tensors tile the data section exactly (from byte 0, no gap, no overlap,
// nothing after the last), as the reference implementation requires; a header length one off
// shows up as a byte before or after the tensors and is refused.

import { MedRankError } from '../core/errors';
import { describe } from '../core/format';
import { JsonInputError, MAX_JSON_DEPTH, parseJson } from '../core/json';

/** A file that is not valid safetensors, or tensors that cannot be written as one. */
export class SafetensorsError extends MedRankError {}

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'BOOL';

/** F32, F16 and BF16 decode to Float32Array; I32 and I64 to Int32Array; U8 and BOOL to Uint8Array. */
export type SafetensorsData = Float32Array | Int32Array | Uint8Array;

export interface SafetensorsTensor {
  /** The dtype stored in the file (the decoded array may be wider, see SafetensorsData). */
  dtype: SafetensorsDType;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  /** In the order of their offsets in the data section. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface WritableTensor {
  dtype: 'F32' | 'I32';
  shape: number[];
  data: Float32Array | Int32Array;
}

const DTYPE_BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, BOOL: 1 };

/** Headers of real checkpoints are a few hundred KB; anything near this is corrupt or hostile. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A validated header: names, dtypes, shapes and where each tensor lies; nothing decoded yet. */
export interface SafetensorsHeader {
  /** In the order of their offsets in the data section. */
  entries: Map<string, { dtype: SafetensorsDType; shape: number[]; bytes: number }>;
  metadata: Record<string, string>;
  /** Decode one tensor (F16/BF16 widen to f32). Throws for an unknown name. */
  decode(name: string): SafetensorsTensor;
}

export function parseSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsFile {
  const header = parseSafetensorsHeader(input);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const name of header.entries.keys()) tensors.set(name, header.decode(name));
  return { tensors, metadata: header.metadata };
}

export interface HeaderOptions {
  /**
   * How long the whole file is, when `input` holds only its start (the header, perhaps some data):
   * a number is the file's size, and the offsets are checked against it; null is "unknown", and
   * the offsets are checked for what a prefix can show (from 0, no gap, no overlap). Default:
   * `input` is the whole file. Decoding a tensor that lies past `input` throws.
   */
  fileBytes?: number | null;
}

/** Names a header may not use: they name a JavaScript object's prototype, not a tensor. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Most items of a list a message prints. */
const LIST_SHOWN = 8;

/** A value from the header for a message: a short list item by item (`[2,-1]`), anything else by describe(). */
function shown(v: unknown): string {
  if (!Array.isArray(v) || v.length > LIST_SHOWN || v.some((x) => typeof x === 'object' && x !== null)) return describe(v);
  return `[${v.map((x) => describe(x)).join(',')}]`;
}

/** A validated shape for a message: at most LIST_SHOWN dims. */
function dims(shape: readonly number[]): string {
  const head = shape.slice(0, LIST_SHOWN).join(', ');
  return `[${head}${shape.length > LIST_SHOWN ? `, … (${shape.length} dims)` : ''}]`;
}

const tensorAt = (name: string): string => `tensor ${describe(name)}`;
const bytesText = (n: number): string => `${n} byte${n === 1 ? '' : 's'}`;

/**
 * Validate the header (length, JSON, dtypes, shapes, offsets that tile the data section exactly,
 * no duplicate names) without decoding any tensor, so a caller can check names and shapes
 * against a config first.
 */
export function parseSafetensorsHeader(input: Uint8Array | ArrayBuffer, opts: HeaderOptions = {}): SafetensorsHeader {
  // A plain view even for a Node Buffer, whose slice() shares memory instead of copying.
  const bytes =
    input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fileBytes = opts.fileBytes === undefined ? bytes.byteLength : opts.fileBytes;
  if (fileBytes !== null && (!Number.isSafeInteger(fileBytes) || fileBytes < bytes.byteLength)) {
    throw new SafetensorsError(
      `fileBytes ${describe(fileBytes)} is not the size of a file of which ${bytes.byteLength} bytes were given; ` +
        'pass the whole file size, or null when it is unknown',
    );
  }

  if (bytes.byteLength < 8) {
    throw new SafetensorsError(
      `file is truncated: it has ${bytes.byteLength} bytes, fewer than the 8-byte header length; ` +
        're-download the file or check that it is a .safetensors file',
    );
  }
  const lenLo = view.getUint32(0, true);
  const lenHi = view.getUint32(4, true);
  const headerLen = lenHi * 2 ** 32 + lenLo;
  if (lenHi !== 0 || headerLen > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `bad header length: the file declares a ${headerLen}-byte JSON header, above the ${MAX_HEADER_BYTES}-byte limit; ` +
        'this is not a safetensors file or it is corrupt',
    );
  }
  if (8 + headerLen > bytes.byteLength) {
    throw new SafetensorsError(
      `bad header length: the file declares a ${headerLen}-byte JSON header but only ${bytes.byteLength - 8} bytes follow ` +
        'the length field; the file is truncated or is not a safetensors file, re-download it',
    );
  }

  const header = readHeaderJson(bytes.subarray(8, 8 + headerLen));
  const dataStart = 8 + headerLen;
  /** Bytes of the data section: known for a whole file, else null. */
  const dataLen = fileBytes === null ? null : fileBytes - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(raw);
      continue;
    }
    const where = tensorAt(name);
    if (PROTOTYPE_KEYS.has(name)) {
      throw new SafetensorsError(
        `${where} is not a name MedRank reads (it names a JavaScript prototype, not a tensor); rename the tensor and re-export the file`,
      );
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new SafetensorsError(
        `${where}: its header entry is ${describe(raw)}, not an object with dtype, shape and data_offsets; the file is corrupt`,
      );
    }
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw new SafetensorsError(
        `${where}: unknown dtype ${describe(dtype)}; MedRank reads ${Object.keys(DTYPE_BYTES).join(', ')}. ` +
          'Convert the checkpoint (e.g. to F32 or F16) before loading it',
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape ${shown(shape)} is not a list of non-negative integers; the file is corrupt`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(
        `${where}: data_offsets ${shown(offsets)} is not a pair [begin, end] of integers with 0 <= begin <= end; the file is corrupt`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (dataLen !== null && end > dataLen) {
      throw new SafetensorsError(
        `file is truncated: ${where} ends at byte ${end} but the data section has ${dataLen} bytes; re-download the file`,
      );
    }
    const numel = (shape as number[]).reduce((a, d) => a * d, 1);
    const want = numel * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== want) {
      throw new SafetensorsError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${dims(shape as number[])} ` +
          `of ${dtype} needs ${want}; the file is corrupt or was written by a broken exporter`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkTiling(entries, dataLen);

  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    entries: new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: [...e.shape], bytes: e.end - e.begin }])),
    metadata,
    decode(name: string): SafetensorsTensor {
      const e = byName.get(name);
      if (!e) throw new SafetensorsError(`no ${tensorAt(name)} in this file`);
      if (dataStart + e.end > bytes.byteLength) {
        throw new SafetensorsError(
          `${tensorAt(name)} lies past the ${bytes.byteLength} bytes given (it ends at byte ${dataStart + e.end} of the file); ` +
            'read the whole file before decoding it',
        );
      }
      const data = decode(e.name, e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
      return { dtype: e.dtype, shape: [...e.shape], data };
    },
  };
}

/** The header text as an object of entries: UTF-8, JSON nested at most MAX_JSON_DEPTH, no key twice in any object. */
function readHeaderJson(raw: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new SafetensorsError(
      'the header is not valid UTF-8 JSON (its bytes are not UTF-8); the file is corrupt or is not a safetensors file',
    );
  }
  let header: unknown;
  try {
    header = parseJson(text, 'the header');
  } catch (e) {
    if (!(e instanceof JsonInputError)) throw e;
    throw new SafetensorsError(
      e.reason === 'depth'
        ? `the header nests deeper than ${MAX_JSON_DEPTH} levels (a safetensors header nests 3); the file is corrupt or is not a safetensors file`
        : `the header is not valid UTF-8 JSON ${e.message.slice(e.what.length + 2).replace(/^not valid JSON /, '')}; ` +
            'the file is corrupt or is not a safetensors file',
    );
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(
      `the header is JSON but ${describe(header)}, not an object of tensors; the file is corrupt or is not a safetensors file`,
    );
  }
  const twice = duplicateKey(text);
  if (twice) {
    throw new SafetensorsError(
      twice.parent === null
        ? `${twice.key === '__metadata__' ? '"__metadata__"' : tensorAt(twice.key)} appears twice in the header, and a JSON reader ` +
            'keeps only one of the two; the file is corrupt or was written by a broken exporter, re-export it'
        : `the header entry ${describe(twice.parent)} has the key ${describe(twice.key)} twice, and a JSON reader keeps only one ` +
            'of the two; the file is corrupt or was written by a broken exporter, re-export it',
    );
  }
  return header as Record<string, unknown>;
}

/**
 * The first key that appears twice in one object of a valid JSON text (JSON.parse keeps the last
 * silently), with the key its object sits under (null at the top level). One pass, no recursion.
 */
export function duplicateKey(text: string): { key: string; parent: string | null } | null {
  type Frame = { keys: Set<string> | null; under: string | null; expectKey: boolean };
  const stack: Frame[] = [];
  let lastKey: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const start = i;
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const literal = text.slice(start, i + 1);
        const key = literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
        if (top.keys.has(key)) return { key, parent: top.under };
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
    } else if (c === 123 || c === 91) {
      const top = stack.at(-1);
      // The key this value sits under: the last key read in an object, the array's own in a list.
      const under = top === undefined ? null : top.keys ? lastKey : top.under;
      stack.push({ keys: c === 123 ? new Set() : null, under, expectKey: c === 123 });
    } else if (c === 125 || c === 93) stack.pop();
    else if (c === 44) {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

/**
 * Tensors sorted by begin must tile the data section: the first begins at 0, each begins where
 * the one before ended, and the last ends where the data section does (when its size is known).
 * A gap or trailing bytes belong to no tensor, and are what a header length one off looks like.
 */
function checkTiling(sorted: readonly { name: string; begin: number; end: number }[], dataLen: number | null): void {
  let at = 0;
  let prev: { name: string; begin: number; end: number } | null = null;
  for (const cur of sorted) {
    if (cur.begin < at && prev) {
      throw new SafetensorsError(
        `tensors ${describe(prev.name)} [${prev.begin}, ${prev.end}) and ${describe(cur.name)} [${cur.begin}, ${cur.end}) overlap in the data section; ` +
          'the file is corrupt or was written by a broken exporter',
      );
    }
    if (cur.begin > at) {
      throw new SafetensorsError(
        (prev
          ? `the data section has ${bytesText(cur.begin - at)} between ${tensorAt(prev.name)} (ending at byte ${at}) and ${tensorAt(cur.name)} (beginning at ${cur.begin})`
          : `the first tensor, ${describe(cur.name)}, begins at byte ${cur.begin} of the data section, not 0`) +
          ' that belong to no tensor; the header length or the data_offsets are wrong, the file is corrupt: re-download or re-export it',
      );
    }
    at = cur.end;
    prev = cur;
  }
  if (dataLen !== null && at !== dataLen) {
    throw new SafetensorsError(
      (prev
        ? `the data section has ${bytesText(dataLen - at)} after the last tensor, ${describe(prev.name)} (ending at byte ${at}), that belong to no tensor`
        : `the header names no tensor but ${dataLen} data bytes follow it`) +
        '; the header length or the data_offsets are wrong, the file is corrupt: re-download or re-export it',
    );
  }
}

function checkMetadata(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(`"__metadata__" is ${describe(raw)}, not an object of strings; the file is corrupt`);
  }
  for (const [k, v] of Object.entries(raw)) {
    if (PROTOTYPE_KEYS.has(k)) {
      throw new SafetensorsError(
        `"__metadata__" has the key "${k}", which names a JavaScript prototype; MedRank does not read it, the file is corrupt or hostile`,
      );
    }
    if (typeof v !== 'string') {
      throw new SafetensorsError(`"__metadata__" key ${describe(k)} holds ${describe(v)}, not a string; the file is corrupt`);
    }
  }
  return { ...(raw as Record<string, string>) };
}

/** A copy of `src` in a fresh, aligned ArrayBuffer (tensors in a file need not be 4-aligned). */
function aligned(src: Uint8Array): ArrayBuffer {
  return src.slice().buffer;
}

function decode(name: string, dtype: SafetensorsDType, src: Uint8Array): SafetensorsData {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN) return new Float32Array(aligned(src));
      const out = new Float32Array(src.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      if (LITTLE_ENDIAN) return new Int32Array(aligned(src));
      const out = new Int32Array(src.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(src.byteLength / 2);
      for (let i = 0; i < out.length; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of an f32: shift the bits up and reinterpret.
      const bits = new Uint32Array(src.byteLength / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64': {
      const out = new Int32Array(src.byteLength / 8);
      for (let i = 0; i < out.length; i++) {
        const lo = view.getUint32(8 * i, true);
        const hi = view.getUint32(8 * i + 4, true);
        // In int32 range iff the high word is the sign extension of the low word.
        if (hi !== (lo & 0x80000000 ? 0xffffffff : 0)) {
          throw new SafetensorsError(
            `tensor "${name}": I64 element ${i} (${view.getBigInt64(8 * i, true)}) does not fit in int32; ` +
              'MedRank reads I64 as Int32Array, so store this tensor as F32 or with smaller values',
          );
        }
        out[i] = lo | 0;
      }
      return out;
    }
    case 'U8':
    case 'BOOL':
      return src.slice();
  }
}

/** IEEE 754 half (binary16) bits to a float. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Serialises tensors in the order given. The JSON header is padded with spaces so the data
 * section starts 8-byte aligned (as the reference implementation does).
 */
export function writeSafetensors(tensors: Record<string, WritableTensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(
          `metadata key ${describe(k)} holds ${describe(v)}; safetensors metadata values must be strings`,
        );
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: { bytes: Uint8Array; at: number }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const where = tensorAt(name);
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor; rename it');
    if (PROTOTYPE_KEYS.has(name)) throw new SafetensorsError(`${where} names a JavaScript prototype, not a tensor; rename it`);
    const wantCtor = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
    if (!wantCtor) throw new SafetensorsError(`${where}: dtype ${describe(t.dtype)} cannot be written; use F32 or I32`);
    if (!(t.data instanceof wantCtor)) {
      throw new SafetensorsError(`${where}: dtype ${t.dtype} needs a ${wantCtor.name}, got ${t.data.constructor.name}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape ${shown(t.shape)} is not a list of non-negative integers`);
    }
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (t.data.length !== numel) {
      throw new SafetensorsError(`${where}: shape [${t.shape.join(', ')}] has ${numel} elements but data has ${t.data.length}`);
    }
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + raw.byteLength] };
    parts.push({ bytes: raw, at: offset });
    offset += raw.byteLength;
  }

  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.byteLength, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  const dataStart = 8 + json.byteLength;
  for (const p of parts) {
    if (LITTLE_ENDIAN) {
      out.set(p.bytes, dataStart + p.at);
    } else {
      // Byte-swap each 4-byte element to little-endian (F32 and I32 are both 4 bytes).
      for (let i = 0; i < p.bytes.byteLength; i += 4) {
        for (let b = 0; b < 4; b++) out[dataStart + p.at + i + b] = p.bytes[i + 3 - b]!;
      }
    }
  }
  return out;
}
