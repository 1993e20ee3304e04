// Hostile input for the safetensors header (src/tensor/safetensors.ts) and the shard index
// (weightFileNames, src/models/sources/shards.ts). Safetensors cases are a valid header mutated
// in one place by the seeded harness (hostile.ts), framed as a file (8-byte length, the mutated
// text, the valid data section), plus framing cases (the length field or the data off by a few
// bytes). A case passes when it is refused with a SafetensorsError (a ModelFormatError for the
// index) whose message is bounded, or accepted with the invariants held: no non-finite number
// or prototype key, the offsets tile the data section exactly, no tensor name twice (checked
// from the text, not through the parser's own scan); for the index, plain shard names only.
import { describe, expect, it } from 'vitest';
import { MedRankError } from '../../../src/core/errors';
import { folderFiles, MAX_INDEX_SHARDS, ModelFormatError, weightFileNames, type WeightFiles } from '../../../src/models/sources';
import { Checkpoint } from '../../../src/models/checkpoint';
import { parseSafetensors, SafetensorsError, type SafetensorsFile } from '../../../src/tensor/safetensors';
import { casesOf, fuzz, hostileLeft, report, type Case, type Json } from './hostile';

/** Cases per sample. */
const N = 250;

const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Safetensors

const HEADERS: { header: Json; dataBytes: number }[] = [
  {
    header: {
      __metadata__: { format: 'pt', note: 'fuzz' },
      'model.w': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      'model.h': { dtype: 'F16', shape: [4], data_offsets: [24, 32] },
      'model.ids': { dtype: 'I32', shape: [2], data_offsets: [32, 40] },
    },
    dataBytes: 40,
  },
  {
    header: {
      b: { dtype: 'BF16', shape: [1, 2], data_offsets: [0, 4] },
      e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] },
      u: { dtype: 'U8', shape: [3], data_offsets: [4, 7] },
      m: { dtype: 'BOOL', shape: [1], data_offsets: [7, 8] },
    },
    dataBytes: 8,
  },
];

/** Finite, non-NaN data: small integers in every 16- and 32-bit pattern used. */
function data(n: number): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 7 + 1) & 0x3f;
  return d;
}

/** A file: 8-byte length `declared` (default: the text's bytes), the text, then `body`. */
function frame(text: string, body: Uint8Array, declared?: number): Uint8Array {
  const h = enc.encode(text);
  const out = new Uint8Array(8 + h.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? h.byteLength), true);
  out.set(h, 8);
  out.set(body, 8 + h.byteLength);
  return out;
}

interface StCase extends Case {
  file: Uint8Array;
  /** Which of HEADERS it was made from. */
  sample: number;
}

function stCases(): StCase[] {
  const out: StCase[] = [];
  HEADERS.forEach(({ header, dataBytes }, i) => {
    for (const c of casesOf([header], N, 1 + i * 100_003)) out.push({ ...c, sample: i, file: frame(c.text, data(dataBytes)) });
    // Framing: the valid text padded like writeSafetensors, then the length field or the data off by a little.
    const json = JSON.stringify(header);
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8 || 8);
    for (const d of [-9, -8, -2, -1, 1, 2, 8]) {
      out.push({
        seed: -1,
        what: `sample ${i}: header length ${d}`,
        text: padded,
        sample: i,
        file: frame(padded, data(dataBytes), padded.length + d),
      });
      if (d > -dataBytes)
        out.push({
          seed: -1,
          what: `sample ${i}: data ${d} bytes`,
          text: padded,
          sample: i,
          file: frame(padded, data(dataBytes + d)),
        });
    }
  });
  return out;
}

/** Top-level keys of a JSON object text, counted by a scan of its own (strings skipped). */
function topLevelKeys(text: string): number {
  let depth = 0;
  let keys = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) {
        keys++;
        expectKey = false;
      }
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

/** What an accepted file must hold; a problem in words, or null. */
function stInvariant(f: SafetensorsFile, c: StCase): string | null {
  const left = hostileLeft({
    metadata: f.metadata,
    tensors: Object.fromEntries([...f.tensors].map(([k, t]) => [`t:${k}`, { dtype: t.dtype, shape: t.shape }])),
  });
  if (left) return left;
  const view = new DataView(c.file.buffer, c.file.byteOffset, c.file.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const text = new TextDecoder().decode(c.file.subarray(8, 8 + headerLen));
  const parsed = JSON.parse(text) as Record<string, { data_offsets: [number, number] }>;
  const names = Object.keys(parsed).filter((k) => k !== '__metadata__');
  if (topLevelKeys(text) !== Object.keys(parsed).length) return 'a top-level key appears twice';
  if (names.length !== f.tensors.size) return `${names.length} names in the header, ${f.tensors.size} tensors read`;
  const spans = names.map((n) => parsed[n]!.data_offsets).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [b, e] of spans) {
    if (b !== at) return `a tensor begins at ${b}, not ${at}`;
    at = e;
  }
  const dataLen = c.file.byteLength - 8 - headerLen;
  if (at !== dataLen) return `the tensors end at ${at} of a ${dataLen}-byte data section`;
  for (const [name, t] of f.tensors) {
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (t.data.length !== numel) return `tensor ${name.slice(0, 40)} has ${t.data.length} values for ${numel}`;
  }
  return null;
}

function parseSt(c: StCase): SafetensorsFile {
  try {
    return parseSafetensors(c.file);
  } catch (e) {
    if (e instanceof MedRankError && !(e instanceof SafetensorsError))
      throw new Error(`${e.name}, not a SafetensorsError: ${e.message.slice(0, 200)}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Shard index

const INDEXES: Json[] = [
  {
    metadata: { total_size: 350_000, format: 'pt' },
    weight_map: {
      'model.layers.1.w': 'model-00002-of-00002.safetensors',
      'model.embed.w': 'model-00001-of-00002.safetensors',
      'model.layers.0.w': 'model-00001-of-00002.safetensors',
    },
  },
  { weight_map: { 'lm_head.weight': 'model.safetensors' } },
];

// eslint-disable-next-line no-control-regex
const PLAIN_SHARD = /^[^/\\\u0000-\u001f\u007f]{1,243}\.safetensors$/;

function indexInvariant(w: WeightFiles): string | null {
  const left = hostileLeft({ metadata: w.metadata ?? {} });
  if (left) return left;
  if (w.files.length === 0 || w.files.length > MAX_INDEX_SHARDS) return `${w.files.length} shard files`;
  for (let i = 0; i < w.files.length; i++) {
    const f = w.files[i]!;
    if (!PLAIN_SHARD.test(f) || f === '.safetensors') return `shard name ${JSON.stringify(f.slice(0, 40))}`;
    if (i > 0 && !(w.files[i - 1]! < f)) return 'shard files not sorted and unique';
  }
  const files = new Set(w.files);
  for (const [t, f] of w.weightMap ?? []) {
    if (t === '__proto__' || t === 'constructor' || t === 'prototype') return `tensor name ${t}`;
    if (!files.has(f)) return `tensor ${t.slice(0, 40)} maps to a file not listed`;
  }
  return null;
}

async function parseIndex(c: Case): Promise<WeightFiles> {
  try {
    return await weightFileNames(folderFiles([new File([c.text], 'model.safetensors.index.json')]));
  } catch (e) {
    if (e instanceof MedRankError && !(e instanceof ModelFormatError))
      throw new Error(`${e.name}, not a ModelFormatError: ${e.message.slice(0, 200)}`);
    throw e;
  }
}

describe('E: hostile safetensors headers and shard indexes', () => {
  it('safetensors: every mutated header or framing is refused with a bounded SafetensorsError, or accepted intact', async () => {
    const cases = stCases();
    // The harness hands back the cases it was given: each is an StCase.
    const out = await fuzz(
      cases,
      (c) => parseSt(c as StCase),
      (v, c) => stInvariant(v, c as StCase),
    );
    expect(out, report(out)).toEqual([]);
    // The samples themselves, and their framings' exact case, are accepted.
    for (const { header, dataBytes } of HEADERS)
      expect(
        parseSt({ seed: 0, what: 'sample', text: '', sample: 0, file: frame(JSON.stringify(header), data(dataBytes)) }).tensors
          .size,
      ).toBeGreaterThan(0);
  });

  it('shard index: every mutated index is refused with a bounded ModelFormatError, or accepted with plain shard names', async () => {
    const out = await fuzz(casesOf(INDEXES, N, 7), parseIndex, indexInvariant);
    expect(out, report(out)).toEqual([]);
    for (const sample of INDEXES)
      expect(indexInvariant(await parseIndex({ seed: 0, what: 'sample', text: JSON.stringify(sample) }))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Checkpoints: the same files as a model's weights (src/models/checkpoint.ts)

/** What the samples' float tensors are, as a config would list them. */
const SPECS = HEADERS.map(({ header }) =>
  Object.entries(header as Record<string, { dtype?: string; shape?: number[] }>)
    .filter(([name, e]) => name !== '__metadata__' && ['F32', 'F16', 'BF16'].includes(e.dtype ?? ''))
    .map(([name, e]) => ({ name, shape: e.shape! })),
);

describe('hostile checkpoints', () => {
  it('every mutated file as a checkpoint is refused with a bounded MedRankError, or verified and read to finite values', async () => {
    const cases = stCases();
    const out = await fuzz(
      cases,
      (c) => {
        const specs = SPECS[(c as StCase).sample]!;
        const cp = new Checkpoint(new Map([['model.safetensors', (c as StCase).file]]));
        cp.verify(specs, 'the fuzz model');
        return specs.map((s) => cp.read(s.name));
      },
      (values) => (values.some((v) => v.some((x) => !Number.isFinite(x))) ? 'a non-finite weight was read' : null),
    );
    expect(out, report(out)).toEqual([]);
  });

  it('a weight holding NaN in an otherwise valid file is refused when read, naming it', () => {
    const { header, dataBytes } = HEADERS[0]!;
    const body = data(dataBytes);
    new DataView(body.buffer).setFloat32(4, Number.NaN, true); // model.w, element 1
    const cp = new Checkpoint(new Map([['model.safetensors', frame(JSON.stringify(header), body)]]));
    cp.verify(SPECS[0]!, 'the fuzz model');
    expect(() => cp.read('model.w')).toThrow(
      /tensor "model\.w" in model\.safetensors .* 1 non-finite value\(s\) \(the first, NaN, at element 1 of 6\)/,
    );
    expect(cp.read('model.h')).toHaveLength(4);
  });
});
