// The limits of src/models/sources: a download's buffer grows with the bytes that arrive (never
// reserved from a Content-Length), an announced length over the caller's cap is refused before
// reading, a body longer than announced is refused; and model.safetensors.index.json is read
// through parseJson and checked key by key (own keys, no prototype keys, plain shard names,
// bounded counts, bounded messages). Against the local hub stand-in (test/setup/hub-server.ts)
// and a bare HTTP server that lies about lengths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MedRankError } from '../../src/core/errors';
import {
  folderFiles,
  hubFiles,
  MAX_INDEX_SHARDS,
  ModelDownloadError,
  ModelFileMissingError,
  ModelFormatError,
  readAll,
  urlFiles,
  weightFileNames,
} from '../../src/models/sources';
import { startHubServer, type HubServer } from '../setup/hub-server';

const enc = new TextEncoder();
const MiB = 1024 * 1024;

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MedRankError);
    expect((e as Error).message.length).toBeLessThan(1000);
    expect((e as Error).message).not.toMatch(/\bundefined\b/);
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** A server whose every answer announces `length` bytes and sends `body`, then closes. */
let liar: Server;
let liarUrl: string;
const lies = new Map<string, { length: number; body: Uint8Array }>();

/** A stub fetch answering with a stream we control (Response.type 'default': every header visible). */
function streamFetch(length: string | null, chunks: Uint8Array[], onPull?: (i: number) => void) {
  let pulls = 0;
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          onPull?.(pulls);
          const next = chunks[pulls++];
          if (next) c.enqueue(next);
          else c.close();
        },
      }),
      { headers: length === null ? {} : { 'Content-Length': length } },
    );
}

let dir: string;
let hub: HubServer;

const INDEXES: Record<string, string> = {
  deep: `{"metadata":${'{"a":'.repeat(4000)}0${'}'.repeat(4000)},"weight_map":{"w":"model.safetensors"}}`,
  'deep-array': `{"weight_map":{"w":"model.safetensors"},"x":${'['.repeat(4000)}${']'.repeat(4000)}}`,
  'proto-top': '{"__proto__":{"weight_map":{"w":"x.safetensors"}},"weight_map":{"w":"model.safetensors"}}',
  'constructor-top': '{"constructor":1,"weight_map":{"w":"model.safetensors"}}',
  'proto-tensor': '{"weight_map":{"__proto__":"model.safetensors"}}',
  'proto-metadata': '{"metadata":{"__proto__":{"polluted":1}},"weight_map":{"w":"model.safetensors"}}',
  'no-own-map': '{"__proto__":{"weight_map":{"w":"model.safetensors"}}}',
  subfolder: '{"weight_map":{"w":"sub/model.safetensors"}}',
  backslash: '{"weight_map":{"w":"..\\\\model.safetensors"}}',
  control: '{"weight_map":{"w":"model\\u0000.safetensors"}}',
  bare: '{"weight_map":{"w":".safetensors"}}',
  'long-name': JSON.stringify({ weight_map: { w: `${'x'.repeat(300)}.safetensors` } }),
  'long-tensor': JSON.stringify({ weight_map: { ['t'.repeat(100_000)]: 5 } }),
  'infinite-metadata': '{"metadata":{"total_size":1e999},"weight_map":{"w":"model.safetensors"}}',
  'null-map': '{"weight_map":null}',
  'many-shards': JSON.stringify({
    weight_map: Object.fromEntries(Array.from({ length: MAX_INDEX_SHARDS + 1 }, (_, i) => [`t${i}`, `m-${i}.safetensors`])),
  }),
  ok: JSON.stringify({
    metadata: { total_size: 8, note: 'x' },
    weight_map: { b: 'model-2.safetensors', a: 'model-1.safetensors' },
  }),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medrank-limits-'));
  for (const [name, text] of Object.entries(INDEXES)) {
    const path = join(dir, name, 'model.safetensors.index.json');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  await mkdir(join(dir, 'blob'), { recursive: true });
  await writeFile(join(dir, 'blob', 'model.safetensors'), new Uint8Array(3 * MiB));
  hub = await startHubServer(dir);
  liar = createServer((req, res) => {
    const lie = lies.get(req.url ?? '');
    if (!lie) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(lie.length) });
    res.write(lie.body);
    setTimeout(() => res.socket?.destroy(), 20);
  });
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
  liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await hub?.close();
  liar?.closeAllConnections();
  await new Promise<void>((r) => (liar ? liar.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('C1: downloads grow with the bytes, within the cap', () => {
  // First in the file, so no earlier test's buffer is waiting for the collector while memory is sampled.
  it('a server announcing 4 GB for a 16-byte body: the buffer held while reading is small', async () => {
    const before = process.memoryUsage().arrayBuffers;
    let during = Infinity;
    const files = hubFiles('org/name', {
      cache: false,
      fetch: streamFetch('4000000000', [new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)], (i) => {
        if (i === 2) during = process.memoryUsage().arrayBuffers - before; // the reader is reading by now
      }),
    });
    await expect(files.read('model.safetensors')).rejects.toThrow(/cut off after 48 B of 3\.73 GiB/);
    expect(during).toBeLessThan(64 * MiB);
  });

  it('the same from a real server: cut off after 16 B of 3.73 GiB', async () => {
    lies.set('/m/model.safetensors', { length: 4_000_000_000, body: new Uint8Array(16) });
    const e = await rejection(urlFiles(`${liarUrl}/m`, { cache: false }).read('model.safetensors'));
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect(e.message).toMatch(/cut off after 16 B of 3\.73 GiB/);
  });

  it('an announced length over the caller’s cap is refused before reading; the default cap is 4 GiB', async () => {
    let pulled = 0;
    const files = hubFiles('org/name', {
      cache: false,
      fetch: streamFetch(String(2 * MiB), [new Uint8Array(8)], () => pulled++),
    });
    const e = await rejection(files.read('model.safetensors', { maxBytes: MiB }));
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect(e.message).toMatch(
      /model\.safetensors: the server announces 2\.0 MiB \(Content-Length\), more than the 1\.0 MiB this read may hold/,
    );
    expect(pulled).toBeLessThanOrEqual(1); // at most the stream's own first pull; nothing was read into a buffer
    const huge = hubFiles('org/name', { cache: false, fetch: streamFetch(String(5 * 1024 ** 3), [new Uint8Array(8)]) });
    expect((await rejection(huge.read('model.safetensors'))).message).toMatch(/announces 5\.00 GiB .* more than the 4\.00 GiB/);
  });

  it('a body of unknown length is refused once it grows past the cap', async () => {
    const chunk = new Uint8Array(256 * 1024);
    const files = hubFiles('org/name', { cache: false, fetch: streamFetch(null, [chunk, chunk, chunk, chunk, chunk]) });
    const e = await rejection(files.read('model.safetensors', { maxBytes: MiB }));
    expect(e.message).toMatch(/model\.safetensors grew past 1\.0 MiB, the most this read may hold/);
    const ok = await hubFiles('org/name', { cache: false, fetch: streamFetch(null, [chunk, chunk, new Uint8Array(7)]) }).read(
      'x.bin',
    );
    expect(ok.byteLength).toBe(512 * 1024 + 7);
    expect(ok.buffer.byteLength).toBe(ok.byteLength);
  });

  it('a body longer than its Content-Length is refused', async () => {
    const files = hubFiles('org/name', { cache: false, fetch: streamFetch('10', [new Uint8Array(8), new Uint8Array(8)]) });
    const e = await rejection(files.read('model.safetensors'));
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect(e.message).toMatch(/sent more than the 10 B it announced \(Content-Length\).*retry/);
  });

  it('a local file over the cap is refused before it is read; readAll passes the cap to every file', async () => {
    const big = new File([new Uint8Array(3 * MiB)], 'model.safetensors');
    const local = folderFiles([big]);
    const e = await rejection(local.read('model.safetensors', { maxBytes: 2 * MiB }));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toMatch(/model\.safetensors \(3\.0 MiB\) is more than the 2\.0 MiB this read may hold/);
    expect((await local.read('model.safetensors')).byteLength).toBe(3 * MiB);
    const remote = hubFiles('medrank-test/blob', { endpoint: hub.url, cache: false });
    await expect(readAll(remote, ['model.safetensors'], { maxBytes: MiB })).rejects.toThrow(/announces 3\.0 MiB/);
    expect((await readAll(remote, ['model.safetensors'], { maxBytes: 4 * MiB })).get('model.safetensors')!.byteLength).toBe(
      3 * MiB,
    );
  });
});

describe('C2: the shard index is depth-bounded and checked key by key', () => {
  const repo = (name: string) => hubFiles(`medrank-test/${name}`, { endpoint: hub.url, cache: false });

  it.each([
    ['deep', /nests deeper than 64 levels/],
    ['deep-array', /nests deeper than 64 levels/],
    ['proto-top', /the key "__proto__" at the top level names a JavaScript prototype/],
    ['constructor-top', /the key "constructor" at the top level names a JavaScript prototype/],
    ['proto-tensor', /the key "__proto__" in "weight_map" names a JavaScript prototype/],
    ['proto-metadata', /the key "__proto__" in "metadata" names a JavaScript prototype/],
    ['no-own-map', /the key "__proto__" at the top level/],
    ['subfolder', /tensor "w" points to "sub\/model\.safetensors", which is not a file name inside the model folder/],
    ['backslash', /points to "\.\.\\\\model\.safetensors", which is not a file name inside/],
    ['control', /points to "model\\u0000\.safetensors", which is not a file name inside/],
    ['bare', /points to "\.safetensors", which is not a \.safetensors file/],
    ['long-name', /points to "x+…, which is not a file name inside .* at most 255 characters/],
    ['long-tensor', /the file of tensor "t+… is 5, not a string/],
    ['infinite-metadata', /"metadata" holds Infinity at total_size/],
    ['null-map', /"weight_map" is null, not an object/],
    ['many-shards', /"weight_map" names 10001\+ shard files; MedRank reads at most 10000/],
  ])('a hostile index (%s) is a bounded ModelFormatError', async (name, reason) => {
    const e = await rejection(weightFileNames(repo(name)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain(`model.safetensors.index.json in hub:medrank-test/${name}@main is malformed`);
    expect(e.message).toMatch(reason);
  });

  it('a good index still lists its shards, sorted, with its metadata', async () => {
    const w = await weightFileNames(repo('ok'));
    expect(w.files).toEqual(['model-1.safetensors', 'model-2.safetensors']);
    expect(w.metadata).toEqual({ total_size: 8, note: 'x' });
    expect(w.weightMap?.get('a')).toBe('model-1.safetensors');
  });

  it('the index is read with a bounded size', async () => {
    const files = folderFiles([
      new File(
        [enc.encode(`{"weight_map":{"w":"m.safetensors"},"pad":"${' '.repeat(70 * MiB)}"}`)],
        'model.safetensors.index.json',
      ),
    ]);
    const e = await rejection(weightFileNames(files));
    expect(e.message).toMatch(/is more than the 64\.0 MiB this read may hold/);
  });
});
