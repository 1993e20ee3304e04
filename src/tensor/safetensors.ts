// Safetensors reader and writer, written by hand (no dependency): the file format of model
// checkpoints and of the PyTorch goldens in test/goldens/.
//
// Layout: u64 little-endian header length N | N bytes of UTF-8 JSON | data section.
// The JSON maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the start of the data section) plus an optional "__metadata__": {string: string}.
// Everything in the header is validated before any tensor is decoded, so a corrupt or hostile
// file fails fast with a message instead of allocating gigabytes or reading garbage.

import { MedRankError } from '../core/errors';

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

/**
 * Validate the header (length, JSON, dtypes, shapes, offsets in range and not overlapping)
 * without decoding any tensor, so a caller can check names and shapes against a config first.
 */
export function parseSafetensorsHeader(input: Uint8Array | ArrayBuffer): SafetensorsHeader {
  // A plain view even for a Node Buffer, whose slice() shares memory instead of copying.
  const bytes =
    input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

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

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(
      `the header is not valid UTF-8 JSON (${(e as Error).message}); the file is corrupt or is not a safetensors file`,
    );
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(
      'the header is JSON but not an object of tensors; the file is corrupt or is not a safetensors file',
    );
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(raw);
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new SafetensorsError(
        `${where}: its header entry is not an object with dtype, shape and data_offsets; the file is corrupt`,
      );
    }
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw new SafetensorsError(
        `${where}: unknown dtype ${JSON.stringify(dtype)}; MedRank reads ${Object.keys(DTYPE_BYTES).join(', ')}. ` +
          'Convert the checkpoint (e.g. to F32 or F16) before loading it',
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers; the file is corrupt`,
      );
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(
        `${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of integers with 0 <= begin <= end; the file is corrupt`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) {
      throw new SafetensorsError(
        `file is truncated: ${where} ends at byte ${end} but the data section has ${dataLen} bytes; re-download the file`,
      );
    }
    const numel = (shape as number[]).reduce((a, d) => a * d, 1);
    const want = numel * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== want) {
      throw new SafetensorsError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] ` +
          `of ${dtype} needs ${want}; the file is corrupt or was written by a broken exporter`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.begin < prev.end) {
      throw new SafetensorsError(
        `tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap in the data section; ` +
          'the file is corrupt or was written by a broken exporter',
      );
    }
  }

  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    entries: new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: [...e.shape], bytes: e.end - e.begin }])),
    metadata,
    decode(name: string): SafetensorsTensor {
      const e = byName.get(name);
      if (!e) throw new SafetensorsError(`no tensor "${name}" in this file`);
      const data = decode(e.name, e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
      return { dtype: e.dtype, shape: [...e.shape], data };
    },
  };
}

function checkMetadata(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError('"__metadata__" is not an object of strings; the file is corrupt');
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(`"__metadata__" key "${k}" holds ${JSON.stringify(v)}, not a string; the file is corrupt`);
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
        throw new SafetensorsError(`metadata key "${k}" holds ${JSON.stringify(v)}; safetensors metadata values must be strings`);
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: { bytes: Uint8Array; at: number }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const where = `tensor "${name}"`;
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor; rename it');
    const wantCtor = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
    if (!wantCtor) throw new SafetensorsError(`${where}: dtype ${JSON.stringify(t.dtype)} cannot be written; use F32 or I32`);
    if (!(t.data instanceof wantCtor)) {
      throw new SafetensorsError(`${where}: dtype ${t.dtype} needs a ${wantCtor.name}, got ${t.data.constructor.name}`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
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
