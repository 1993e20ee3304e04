// Model file sources (src/models/sources.ts) in Chromium, where they run for users: downloads from
// the stand-in hub of test/setup/hub-server.ts (vitest globalSetup, another origin, so CORS is real)
// into the real Cache API, a second read served from that cache with no request (counted by the
// server), a cut-off download rejected and not cached, cancellation, the hub's error headers read
// across origins, sharded checkpoints, and local folders from real browser objects: File objects
// with webkitRelativePath, a DataTransfer, and an OPFS FileSystemDirectoryHandle.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import {
  filesFromDataTransfer,
  folderFiles,
  hubFiles,
  MODEL_CACHE_NAME,
  ModelDownloadAbortedError,
  ModelDownloadError,
  ModelFileMissingError,
  readAll,
  weightFileNames,
  type DownloadProgress,
  type ReadAllProgress,
} from '../../src/models/sources';
import type { HubStats } from '../setup/hub-server';

const hubUrl = inject('hubUrl');
const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

const resolveUrl = (name: string, path: string, prefix = '') => `${hubUrl}${prefix}/medrank-test/${name}/resolve/main/${path}`;

async function stats(): Promise<HubStats> {
  return (await fetch(`${hubUrl}/__stats`, { cache: 'no-store' })).json() as Promise<HubStats>;
}

async function resetStats(): Promise<void> {
  await fetch(`${hubUrl}/__reset`, { method: 'POST' });
}

/** A fixture file straight from the server (counted: call before resetStats). */
async function raw(name: string, path: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(resolveUrl(name, path), { cache: 'no-store' });
  expect(res.ok, `fixture ${name}/${path}`).toBe(true);
  return new Uint8Array(await res.arrayBuffer());
}

function expectBytes(got: Uint8Array | undefined, want: Uint8Array, what: string): void {
  expect(got, what).toBeInstanceOf(Uint8Array);
  expect(got!.byteLength, what).toBe(want.byteLength);
  let first = -1;
  for (let i = 0; i < want.byteLength && first < 0; i++) if (got![i] !== want[i]) first = i;
  expect(first, `${what}: first differing byte`).toBe(-1);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

beforeEach(async () => {
  await caches.delete(MODEL_CACHE_NAME);
  await resetStats();
});

describe('hubFiles in the browser', () => {
  it('downloads a whole model into the Cache API, then serves it again with zero requests', async () => {
    const want = new Map<string, Uint8Array<ArrayBuffer>>();
    for (const f of MODEL_FILES) want.set(f, await raw('tiny-llama', f));
    const size = [...want.values()].reduce((a, b) => a + b.byteLength, 0);
    await resetStats();

    const events: ReadAllProgress[] = [];
    const files = hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl });
    const got = await readAll(files, MODEL_FILES, { onProgress: (p) => events.push(p) });
    for (const f of MODEL_FILES) expectBytes(got.get(f), want.get(f)!, f);
    for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThanOrEqual(events[i - 1]!.loaded);
    expect(events.filter((e) => e.done)).toHaveLength(1);
    expect(events[events.length - 1]).toMatchObject({
      done: true,
      loaded: size,
      total: size,
      filesDone: 4,
      filesTotal: 4,
      fromCache: false,
    });

    const first = await stats();
    expect(first.total).toBe(4);
    for (const f of MODEL_FILES) expect(first.paths[`/medrank-test/tiny-llama/resolve/main/${f}`]).toBe(1);
    const cache = await caches.open(MODEL_CACHE_NAME);
    for (const f of MODEL_FILES) expect(await cache.match(resolveUrl('tiny-llama', f)), `cached ${f}`).toBeDefined();

    await resetStats();
    const again = hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl });
    for (const f of MODEL_FILES) {
      const ev: DownloadProgress[] = [];
      expectBytes(await again.read(f, { onProgress: (p) => ev.push(p) }), want.get(f)!, `${f} from cache`);
      expect(ev).toEqual([expect.objectContaining({ file: f, fromCache: true, done: true, loaded: want.get(f)!.byteLength })]);
    }
    expect(await again.exists('config.json')).toBe(true);
    expect((await stats()).total).toBe(0);
  });

  it('a cut-off download is rejected with its message and not cached', async () => {
    const files = hubFiles('medrank-test/tiny-llama', { endpoint: `${hubUrl}/__truncated` });
    const e = await rejection(files.read('model.safetensors'));
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect(e.message).toMatch(/The download of model\.safetensors from hub:medrank-test\/tiny-llama@main was cut off/);
    expect(e.message).toMatch(/Nothing was cached; retry the download/);
    const cache = await caches.open(MODEL_CACHE_NAME);
    expect(await cache.match(resolveUrl('tiny-llama', 'model.safetensors', '/__truncated'))).toBeUndefined();
    expect(await cache.keys()).toHaveLength(0);
  });

  it('an AbortSignal cancels a download in flight', async () => {
    const ctrl = new AbortController();
    const files = hubFiles('medrank-test/tiny-colbert', { endpoint: `${hubUrl}/__slow` });
    const e = await rejection(
      files.read('model.safetensors', { signal: ctrl.signal, onProgress: (p) => void (!p.done && ctrl.abort()) }),
    );
    expect(e).toBeInstanceOf(ModelDownloadAbortedError);
    expect(await (await caches.open(MODEL_CACHE_NAME)).keys()).toHaveLength(0);
  });

  it("reads the hub's error headers across origins: missing revision, missing file, gated repo", async () => {
    const rev = await rejection(hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl, revision: 'v2' }).read('config.json'));
    expect(rev).toBeInstanceOf(ModelFileMissingError);
    expect(rev.message).toMatch(/Revision "v2" of hub repo medrank-test\/tiny-llama was not found/);
    const file = await rejection(hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl }).read('nope.json'));
    expect(file.message).toMatch(/nope\.json was not found in hub repo medrank-test\/tiny-llama at revision "main"/);
    const gated = await rejection(hubFiles('medrank-gated/tiny-llama', { endpoint: hubUrl }).read('config.json'));
    expect(gated.message).toMatch(/HTTP 401.*gated or private.*access token/);
    // with a token (an Authorization header: a CORS preflight) the file comes through
    const ok = await hubFiles('medrank-gated/tiny-llama', { endpoint: hubUrl, token: 'medrank-test-token' }).read('config.json');
    expect(JSON.parse(new TextDecoder().decode(ok))).toBeTypeOf('object');
    expect(await hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl }).exists('model.safetensors.index.json')).toBe(false);
  });

  it('lists and reads a sharded checkpoint (tiny-qwen2) through its index', async () => {
    const index = JSON.parse(new TextDecoder().decode(await raw('tiny-qwen2', 'model.safetensors.index.json'))) as {
      weight_map: Record<string, string>;
    };
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    const want = await Promise.all(shards.map((s) => raw('tiny-qwen2', s)));
    const files = hubFiles('medrank-test/tiny-qwen2', { endpoint: hubUrl });
    const w = await weightFileNames(files);
    expect(w.files).toEqual(shards);
    expect(w.files.length).toBeGreaterThan(1);
    expect(w.weightMap?.size).toBe(Object.keys(index.weight_map).length);
    const events: ReadAllProgress[] = [];
    const got = await readAll(files, w.files, { onProgress: (p) => events.push(p) });
    shards.forEach((s, i) => expectBytes(got.get(s), want[i]!, s));
    const size = want.reduce((a, b) => a + b.byteLength, 0);
    expect(events[events.length - 1]).toMatchObject({ done: true, loaded: size, total: size, filesDone: shards.length });
    expect((await weightFileNames(hubFiles('medrank-test/tiny-llama', { endpoint: hubUrl }))).files).toEqual([
      'model.safetensors',
    ]);
  });
});

describe('folderFiles in the browser', () => {
  async function fixture(name: string, paths = MODEL_FILES): Promise<Map<string, Uint8Array<ArrayBuffer>>> {
    const out = new Map<string, Uint8Array<ArrayBuffer>>();
    for (const f of paths) out.set(f, await raw(name, f));
    return out;
  }

  it('reads File objects as <input webkitdirectory> gives them (webkitRelativePath, subfolders)', async () => {
    const want = await fixture('tiny-llama');
    want.set('onnx/extra.json', new TextEncoder().encode('{"nested":true}'));
    const picked = [...want].map(([path, data]) => {
      const f = new File([data], path.slice(path.lastIndexOf('/') + 1));
      Object.defineProperty(f, 'webkitRelativePath', { value: `tiny-llama/${path}` });
      return f;
    });
    expect(picked[0]!.webkitRelativePath).toBe('tiny-llama/config.json');
    const files = folderFiles(picked);
    expect(files.label).toBe('tiny-llama');
    for (const [path, data] of want) expectBytes(await files.read(path), data, path);
    const e = await rejection(files.read('model.safetensors.index.json'));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toMatch(
      /is not in the folder "tiny-llama"\. It contains: config\.json, model\.safetensors, onnx\/extra\.json/,
    );
    expect((await weightFileNames(files)).files).toEqual(['model.safetensors']);
  });

  // A DataTransfer built in the page gives no entries (webkitGetAsEntry() is null), so this covers the
  // plain-files path; the recursive directory walk is covered with entry look-alikes in test/unit.
  it('reads the files of a DataTransfer (what a drop of plain files gives)', async () => {
    const want = await fixture('tiny-colbert');
    const dt = new DataTransfer();
    for (const [path, data] of want) dt.items.add(new File([data], path));
    const entries = await filesFromDataTransfer(dt);
    expect(entries.map((e) => e.path).sort()).toEqual([...want.keys()].sort());
    const files = folderFiles(entries);
    for (const [path, data] of want) expectBytes(await files.read(path), data, path);
  });

  it('reads a real FileSystemDirectoryHandle (OPFS), subfolders included', async () => {
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const want = await fixture('tiny-qwen2', ['config.json', 'tokenizer.json', 'model.safetensors.index.json', ...shards]);
    want.set('onnx/extra.json', new TextEncoder().encode('{"nested":true}'));
    const root = await navigator.storage.getDirectory();
    const name = 'medrank-sources-test';
    await root.removeEntry(name, { recursive: true }).catch(() => {});
    const dir = await root.getDirectoryHandle(name, { create: true });
    try {
      for (const [path, data] of want) {
        const parts = path.split('/');
        let d = dir;
        for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create: true });
        const w = await (await d.getFileHandle(parts[parts.length - 1]!, { create: true })).createWritable();
        await w.write(data);
        await w.close();
      }
      const files = folderFiles(dir);
      expect(files.label).toBe(name);
      const events: DownloadProgress[] = [];
      for (const [path, data] of want) expectBytes(await files.read(path, { onProgress: (p) => events.push(p) }), data, path);
      expect(events.filter((e) => e.done)).toHaveLength(want.size);
      expect(await files.exists('onnx/extra.json')).toBe(true);
      expect(await files.exists('onnx')).toBe(false);
      expect(await files.exists('model.safetensors')).toBe(false);
      const e = await rejection(files.read('model.safetensors'));
      expect(e).toBeInstanceOf(ModelFileMissingError);
      expect(e.message).toMatch(/model\.safetensors is not in the folder "medrank-sources-test"\. It contains: config\.json, /);
      expect(e.message).toMatch(/onnx\/extra\.json/);
      const w = await weightFileNames(files);
      expect(w.files).toEqual(shards);
    } finally {
      await root.removeEntry(name, { recursive: true });
    }
  });
});
