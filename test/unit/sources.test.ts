// Model file sources (src/models/sources.ts) in Node, against a real local HTTP server in the hub's
// layout (test/setup/hub-server.ts) serving model folders written to a temp dir: bytes, progress,
// every HTTP failure's message, cut-off bodies, an injected cache, cancellation, local folders
// (File lists, a directory-handle look-alike, drag-and-drop entries) and the safetensors shard list.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MedRankError } from '../../src/core/errors';
import {
  filesFromDataTransfer,
  folderFiles,
  hubFiles,
  ModelDownloadAbortedError,
  ModelDownloadError,
  ModelFileMissingError,
  ModelFormatError,
  ModelSourceError,
  readAll,
  urlFiles,
  weightFileNames,
  type DirectoryHandleLike,
  type DownloadProgress,
  type ModelCache,
  type ReadAllProgress,
} from '../../src/models/sources';
import { GATED_TOKEN, startHubServer, type HubServer } from '../setup/hub-server';

const enc = new TextEncoder();

/** Deterministic bytes (xorshift), so a wrong offset anywhere shows as a mismatch. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const json = (v: unknown) => enc.encode(JSON.stringify(v));

const INDEX = {
  metadata: { total_size: 350_000 },
  weight_map: {
    'model.layers.1.w': 'model-00002-of-00002.safetensors',
    'model.embed.w': 'model-00001-of-00002.safetensors',
    'model.layers.0.w': 'model-00001-of-00002.safetensors',
  },
};

const FILES: Record<string, Uint8Array> = {
  'tiny/config.json': json({ model_type: 'llama', hidden_size: 8 }),
  'tiny/tokenizer.json': json({ model: { type: 'BPE', vocab: { a: 0 } } }),
  'tiny/model.safetensors': noise(600 * 1024, 1),
  'tiny/onnx/extra.json': json({ nested: true }),
  'sharded/config.json': json({ model_type: 'qwen2' }),
  'sharded/model.safetensors.index.json': json(INDEX),
  'sharded/model-00001-of-00002.safetensors': noise(200_000, 2),
  'sharded/model-00002-of-00002.safetensors': noise(150_000, 3),
  'bad-json/model.safetensors.index.json': enc.encode('{"weight_map": {'),
  'no-map/model.safetensors.index.json': json({ metadata: { total_size: 1 } }),
  'escape/model.safetensors.index.json': json({ weight_map: { a: '../secret.safetensors' } }),
  'absolute/model.safetensors.index.json': json({ weight_map: { a: '/etc/x.safetensors' } }),
  'not-string/model.safetensors.index.json': json({ weight_map: { a: 3 } }),
  'empty-map/model.safetensors.index.json': json({ weight_map: {} }),
  'not-st/model.safetensors.index.json': json({ weight_map: { a: 'pytorch_model-00001.bin' } }),
  'array/model.safetensors.index.json': json([1, 2]),
};

let dir: string;
let hub: HubServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medrank-sources-'));
  for (const [path, data] of Object.entries(FILES)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  }
  hub = await startHubServer(dir);
});

afterAll(async () => {
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => hub.reset());

/** An in-memory ModelCache (what a Node tool would pass instead of the Cache API). */
function memoryCache(): ModelCache & { store: Map<string, Uint8Array> } {
  const store = new Map<string, Uint8Array>();
  return {
    store,
    async match(url) {
      const b = store.get(url);
      return b ? new Response(b.slice()) : undefined;
    },
    async put(url, res) {
      store.set(url, new Uint8Array(await res.arrayBuffer()));
    },
  };
}

/** Byte equality without vitest's element-by-element diff (slow on 600 KB). */
function expectBytes(got: Uint8Array | undefined, want: Uint8Array | undefined): void {
  expect(got).toBeInstanceOf(Uint8Array);
  expect(got!.byteLength).toBe(want!.byteLength);
  expect(Buffer.compare(got!, want!), 'bytes differ').toBe(0);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MedRankError);
    return e as Error;
  }
  throw new Error('expected a rejection');
}

function expectMonotonic(events: readonly DownloadProgress[], size: number): void {
  expect(events.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThanOrEqual(events[i - 1]!.loaded);
  expect(events.filter((e) => e.done)).toHaveLength(1);
  const last = events[events.length - 1]!;
  expect(last.done).toBe(true);
  expect(last.loaded).toBe(size);
  expect(last.total).toBe(size);
  expect(last.etaSeconds).toBe(0);
}

const tiny = (opts: Parameters<typeof hubFiles>[1] = {}) =>
  hubFiles('medrank-test/tiny', { endpoint: hub.url, cache: false, ...opts });

describe('hubFiles', () => {
  it('reads files (subfolders too) byte for byte, labelled hub:repo@rev', async () => {
    const files = tiny();
    expect(files.label).toBe('hub:medrank-test/tiny@main');
    expect(files.kind).toBe('hub');
    for (const path of ['config.json', 'model.safetensors', 'onnx/extra.json']) {
      const got = await files.read(path);
      expectBytes(got, FILES[`tiny/${path}`]);
      expect(got.byteOffset).toBe(0);
      expect(got.buffer.byteLength).toBe(got.byteLength);
    }
    expect(hub.stats().log).toEqual([
      'GET /medrank-test/tiny/resolve/main/config.json',
      'GET /medrank-test/tiny/resolve/main/model.safetensors',
      'GET /medrank-test/tiny/resolve/main/onnx/extra.json',
    ]);
  });

  it('reports progress: loaded 0 first, monotonic, at most every ~100 ms, one final done with loaded === total', async () => {
    const size = FILES['tiny/model.safetensors']!.byteLength;
    const events: (DownloadProgress & { t: number })[] = [];
    await tiny({ endpoint: `${hub.url}/__slow` }).read('model.safetensors', {
      onProgress: (p) => events.push({ ...p, t: performance.now() }),
    });
    expect(events[0]).toMatchObject({ file: 'model.safetensors', loaded: 0, total: size, done: false, fromCache: false });
    expectMonotonic(events, size);
    const middle = events.slice(1, -1);
    expect(middle.length).toBeGreaterThanOrEqual(1); // the slow route takes ~400 ms
    for (let i = 1; i < events.length - 1; i++) expect(events[i]!.t - events[i - 1]!.t).toBeGreaterThanOrEqual(95);
    for (const e of middle) {
      expect(e.total).toBe(size);
      expect(e.bytesPerSecond).toBeGreaterThan(0);
      expect(e.etaSeconds).not.toBeNull();
      expect(e.etaSeconds!).toBeGreaterThanOrEqual(0);
    }
    expect(events[events.length - 1]!.bytesPerSecond).toBeGreaterThan(0);
  });

  it('builds URLs exactly as the hub lays them out (revision percent-encoded, path segments encoded)', async () => {
    const urls: string[] = [];
    const files = hubFiles('Org-1/name.v2_x', {
      revision: 'refs/pr/1',
      cache: false,
      fetch: async (url, init) => {
        urls.push(`${init?.method} ${url}`);
        return new Response('{}', { headers: { 'Content-Length': '2' } });
      },
    });
    expect(files.label).toBe('hub:Org-1/name.v2_x@refs/pr/1');
    await files.read('onnx/a b.json');
    expect(await files.exists('config.json')).toBe(true);
    expect(urls).toEqual([
      'GET https://huggingface.co/Org-1/name.v2_x/resolve/refs%2Fpr%2F1/onnx/a%20b.json',
      'HEAD https://huggingface.co/Org-1/name.v2_x/resolve/refs%2Fpr%2F1/config.json',
    ]);
  });

  it('rejects malformed repo ids, endpoints and paths with a message saying what to use', () => {
    for (const bad of ['', 'a/b/c', 'org/na me', 'org/-x', 'org/x.', 'org/a--b', 'org/a..b', '/name', 'org/']) {
      expect(() => hubFiles(bad)).toThrow(ModelSourceError);
      expect(() => hubFiles(bad)).toThrow(/owner\/name/);
    }
    expect(() => hubFiles('gpt2')).toThrow(/openai-community\/gpt2/);
    expect(() => hubFiles('https://huggingface.co/org/name')).toThrow(/only the id part/);
    expect(() => hubFiles('org/name', { endpoint: 'ftp://x' })).toThrow(ModelSourceError);
    expect(() => hubFiles('org/name', { revision: ' ' })).toThrow(/revision/);
    expect(() => hubFiles('org/name_1.2-x')).not.toThrow();
  });

  it('rejects paths that leave the model folder, before any request', async () => {
    for (const bad of ['', '/etc/passwd', '../x.json', 'a/../b', 'a//b', 'a\\b', './a']) {
      const e = await rejection(tiny().read(bad));
      expect(e).toBeInstanceOf(ModelSourceError);
      expect(e.message).toMatch(/relative to the model folder/);
    }
    expect(hub.stats().total).toBe(0);
  });

  it('404 for a file names the file, repo and revision and says to check them', async () => {
    const e = await rejection(tiny().read('missing.json'));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toContain('missing.json was not found in hub repo medrank-test/tiny at revision "main" (HTTP 404)');
    expect(e.message).toMatch(/Check the model id and the revision/);
    const st = await rejection(hubFiles('medrank-test/bad-json', { endpoint: hub.url, cache: false }).read('model.safetensors'));
    expect(st.message).toMatch(/pytorch_model\.bin, convert it/);
  });

  it('404 for a revision or a repo says which', async () => {
    const rev = await rejection(tiny({ revision: 'v9' }).read('config.json'));
    expect(rev).toBeInstanceOf(ModelFileMissingError);
    expect(rev.message).toMatch(/Revision "v9" of hub repo medrank-test\/tiny was not found .*Check the revision/);
    const repo = await rejection(hubFiles('medrank-test/nope', { endpoint: hub.url, cache: false }).read('config.json'));
    expect(repo.message).toMatch(/Hub repo medrank-test\/nope was not found .*Check the model id/);
    // exists() is false for a missing file, but a missing repo or revision is an error, not "absent"
    await expect(hubFiles('medrank-test/nope', { endpoint: hub.url, cache: false }).exists('x.json')).rejects.toThrow(
      ModelFileMissingError,
    );
  });

  it('401/403 says the repo may be gated or private and needs a token; a good token works', async () => {
    const gated = (token?: string) =>
      hubFiles('medrank-gated/tiny', { endpoint: hub.url, cache: false, ...(token ? { token } : {}) });
    const e401 = await rejection(gated().read('config.json'));
    expect(e401).toBeInstanceOf(ModelDownloadError);
    expect((e401 as ModelDownloadError).status).toBe(401);
    expect(e401.message).toMatch(/HTTP 401.*gated or private.*access token/);
    const e403 = await rejection(gated('wrong').read('config.json'));
    expect((e403 as ModelDownloadError).status).toBe(403);
    expect(e403.message).toMatch(/HTTP 403.*token was not accepted/);
    expectBytes(await gated(GATED_TOKEN).read('config.json'), FILES['tiny/config.json']);
    await expect(gated().exists('config.json')).rejects.toThrow(/gated or private/);
  });

  it('other statuses and network failures name the URL and suggest the connection or a local folder', async () => {
    const e500 = await rejection(hubFiles('medrank-error/tiny', { endpoint: hub.url, cache: false }).read('config.json'));
    expect(e500).toBeInstanceOf(ModelDownloadError);
    expect((e500 as ModelDownloadError).status).toBe(500);
    expect(e500.message).toContain(`${hub.url}/medrank-error/tiny/resolve/main/config.json answered HTTP 500`);
    expect(e500.message).toMatch(/local folder/);

    const dead = await startHubServer(dir);
    const deadUrl = dead.url;
    await dead.close();
    const net = await rejection(hubFiles('medrank-test/tiny', { endpoint: deadUrl, cache: false }).read('config.json'));
    expect(net).toBeInstanceOf(ModelDownloadError);
    expect(net.message).toContain(`the request to ${deadUrl}/medrank-test/tiny/resolve/main/config.json failed`);
    expect(net.message).toMatch(/Check your internet connection.*local folder/);
  });

  it('a body shorter than its Content-Length is a cut-off download, and is not cached', async () => {
    const cache = memoryCache();
    const files = hubFiles('medrank-test/tiny', { endpoint: `${hub.url}/__truncated`, cache });
    const e = await rejection(files.read('model.safetensors'));
    expect(e).toBeInstanceOf(ModelDownloadError);
    expect(e.message).toMatch(
      /The download of model\.safetensors from hub:medrank-test\/tiny@main was cut off after .* of 600\.0 KiB/,
    );
    expect(e.message).toMatch(/Nothing was cached; retry the download/);
    expect(cache.store.size).toBe(0);
    // a body that ends cleanly but short (a fetch that does not notice) is caught by the length check
    const short = hubFiles('org/name', {
      cache,
      fetch: async () => new Response(new Uint8Array(10), { headers: { 'Content-Length': '20' } }),
    });
    await expect(short.read('model.safetensors')).rejects.toThrow(/cut off after 10 B of 20 B/);
    expect(cache.store.size).toBe(0);
  });

  it('an injected cache serves the second read with no request and one fromCache progress event', async () => {
    const cache = memoryCache();
    const first = await hubFiles('medrank-test/tiny', { endpoint: hub.url, cache }).read('model.safetensors');
    expect(hub.stats().total).toBe(1);
    expect([...cache.store.keys()]).toEqual([`${hub.url}/medrank-test/tiny/resolve/main/model.safetensors`]);
    hub.reset();
    const events: DownloadProgress[] = [];
    const again = hubFiles('medrank-test/tiny', { endpoint: hub.url, cache });
    const second = await again.read('model.safetensors', { onProgress: (p) => events.push(p) });
    expectBytes(second, first);
    const size = first.byteLength;
    expect(events).toEqual([
      expect.objectContaining({ file: 'model.safetensors', loaded: size, total: size, fromCache: true, done: true }),
    ]);
    expect(await again.exists('model.safetensors')).toBe(true);
    expect(hub.stats().total).toBe(0);
    // without a cache (Node has no Cache API) every read is a request
    await tiny({ cache: true }).read('config.json');
    await tiny({ cache: true }).read('config.json');
    expect(hub.stats().total).toBe(2);
  });

  it('exists() asks with HEAD', async () => {
    const files = tiny();
    expect(await files.exists('config.json')).toBe(true);
    expect(await files.exists('onnx/extra.json')).toBe(true);
    expect(await files.exists('model.safetensors.index.json')).toBe(false);
    expect(hub.stats().log.every((l) => l.startsWith('HEAD '))).toBe(true);
    expect(hub.stats().total).toBe(3);
  });

  it('an AbortSignal cancels a download in flight with ModelDownloadAbortedError, and nothing is cached', async () => {
    const cache = memoryCache();
    const ctrl = new AbortController();
    const files = hubFiles('medrank-test/tiny', { endpoint: `${hub.url}/__slow`, cache });
    const e = await rejection(
      files.read('model.safetensors', {
        signal: ctrl.signal,
        onProgress: (p) => {
          if (p.loaded > 0) ctrl.abort();
        },
      }),
    );
    expect(e).toBeInstanceOf(ModelDownloadAbortedError);
    expect(e.message).toMatch(/Reading model\.safetensors from hub:medrank-test\/tiny@main was cancelled.*start it again/);
    expect(cache.store.size).toBe(0);
    hub.reset();
    const pre = AbortSignal.abort();
    await expect(files.read('config.json', { signal: pre })).rejects.toThrow(ModelDownloadAbortedError);
    expect(hub.stats().total).toBe(0);
  });
});

describe('urlFiles', () => {
  it('reads ${baseUrl}/${path} (trailing slash ignored), with 404s that point at the base URL', async () => {
    const base = `${hub.url}/medrank-test/tiny/resolve/main`;
    const files = urlFiles(`${base}/`, { cache: false });
    expect(files.label).toBe(base);
    expect(files.kind).toBe('url');
    const events: DownloadProgress[] = [];
    expectBytes(await files.read('onnx/extra.json', { onProgress: (p) => events.push(p) }), FILES['tiny/onnx/extra.json']);
    expectMonotonic(events, FILES['tiny/onnx/extra.json']!.byteLength);
    const e = await rejection(files.read('nope.json'));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toContain(`nope.json was not found at ${base}/nope.json (HTTP 404). Check the base URL`);
    expect(await files.exists('nope.json')).toBe(false);
    expect(() => urlFiles('not a url')).toThrow(ModelSourceError);
  });
});

describe('weightFileNames', () => {
  const repo = (name: string) => hubFiles(`medrank-test/${name}`, { endpoint: hub.url, cache: false });

  it('is model.safetensors when there is no index', async () => {
    expect(await weightFileNames(repo('tiny'))).toEqual({ files: ['model.safetensors'], weightMap: null, metadata: null });
  });

  it('lists the shards of model.safetensors.index.json, sorted and unique, with the weight map', async () => {
    const w = await weightFileNames(repo('sharded'));
    expect(w.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(w.weightMap?.get('model.layers.1.w')).toBe('model-00002-of-00002.safetensors');
    expect(w.weightMap?.size).toBe(3);
    expect(w.metadata).toEqual({ total_size: 350_000 });
  });

  it.each([
    ['bad-json', /is not valid JSON/],
    ['no-map', /"weight_map" is missing/],
    ['escape', /"\.\.\/secret\.safetensors", which is not a file name inside the model folder/],
    ['absolute', /"\/etc\/x\.safetensors", which is not a file name inside/],
    ['not-string', /the file of tensor "a" is 3, not a string/],
    ['empty-map', /"weight_map" is empty/],
    ['not-st', /not a \.safetensors file/],
    ['array', /top level is not a JSON object/],
  ])('a malformed index (%s) is a ModelFormatError with the reason', async (name, reason) => {
    const e = await rejection(weightFileNames(repo(name)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toContain(`model.safetensors.index.json in hub:medrank-test/${name}@main is malformed`);
    expect(e.message).toMatch(reason);
    expect(e.message).toMatch(/Re-download the model/);
  });
});

describe('readAll', () => {
  it('reads shards with combined progress: sums of loaded and total, one final done', async () => {
    const files = hubFiles('medrank-test/sharded', { endpoint: `${hub.url}/__slow`, cache: false });
    const { files: shards } = await weightFileNames(files);
    const events: ReadAllProgress[] = [];
    const out = await readAll(files, [...shards, shards[0]!], { onProgress: (p) => events.push(p) });
    expect([...out.keys()]).toEqual(shards);
    for (const s of shards) expectBytes(out.get(s), FILES[`sharded/${s}`]);
    const size = 350_000;
    expectMonotonic(events, size);
    expect(events[0]).toMatchObject({ loaded: 0, total: null, done: false, filesTotal: 2 });
    const known = events.filter((e) => !e.done && e.total !== null);
    expect(known.length).toBeGreaterThan(0);
    for (const e of known) expect(e.total).toBe(size);
    expect(events[events.length - 1]).toMatchObject({ filesDone: 2, filesTotal: 2, fromCache: false });
  });

  it('fails with the first error and cancels the rest', async () => {
    const files = hubFiles('medrank-test/sharded', { endpoint: `${hub.url}/__slow`, cache: false });
    const e = await rejection(readAll(files, ['model-00001-of-00002.safetensors', 'missing.safetensors']));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toMatch(/missing\.safetensors was not found/);
    const ctrl = new AbortController();
    const aborted = readAll(files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'], {
      signal: ctrl.signal,
      onProgress: (p) => void (p.loaded > 0 && ctrl.abort()),
    });
    await expect(aborted).rejects.toThrow(ModelDownloadAbortedError);
  });
});

describe('folderFiles', () => {
  /** A File as <input webkitdirectory> gives it: name plus webkitRelativePath. */
  const picked = (path: string, data: Uint8Array): File => {
    const f = new File([data.slice()], path.slice(path.lastIndexOf('/') + 1));
    Object.defineProperty(f, 'webkitRelativePath', { value: path });
    return f;
  };
  const tinyFiles = () => Object.entries(FILES).flatMap(([p, d]) => (p.startsWith('tiny/') ? [picked(p, d)] : []));

  it('reads a picked folder: top-level folder stripped, subfolders kept, progress reported', async () => {
    const files = folderFiles(tinyFiles());
    expect(files.label).toBe('tiny');
    expect(files.kind).toBe('folder');
    expectBytes(await files.read('onnx/extra.json'), FILES['tiny/onnx/extra.json']);
    const events: DownloadProgress[] = [];
    const w = await files.read('model.safetensors', { onProgress: (p) => events.push(p) });
    expectBytes(w, FILES['tiny/model.safetensors']);
    expectMonotonic(events, w.byteLength);
    expect(await files.exists('config.json')).toBe(true);
    expect(await files.exists('tiny/config.json')).toBe(false);
    expect(await weightFileNames(files)).toMatchObject({ files: ['model.safetensors'] });
  });

  it('a missing file lists what the folder contains (first 20) and hints at a nested model folder', async () => {
    const e = await rejection(folderFiles(tinyFiles()).read('model.safetensors.index.json'));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toContain(
      'model.safetensors.index.json is not in the folder "tiny". It contains: config.json, model.safetensors, onnx/extra.json, tokenizer.json.',
    );
    const many = Array.from({ length: 30 }, (_, i) => picked(`big/f${String(i).padStart(2, '0')}.txt`, new Uint8Array(1)));
    const m = await rejection(folderFiles(many).read('config.json'));
    expect(m.message).toMatch(/It contains: f00\.txt, .*, f19\.txt \(and 10 more\)\./);
    const nested = [picked('models/tiny/config.json', FILES['tiny/config.json']!), picked('models/README.md', new Uint8Array(1))];
    const n = await rejection(folderFiles(nested).read('config.json'));
    expect(n.message).toMatch(/There is a "tiny\/config\.json": pick the folder "tiny" itself instead/);
    const w = await rejection(folderFiles(nested).read('model.safetensors'));
    expect(w.message).toMatch(/pytorch_model\.bin/);
  });

  it('plain files without a folder keep their names; an aborted read is ModelDownloadAbortedError', async () => {
    const files = folderFiles([new File([FILES['tiny/config.json']!.slice()], 'config.json')]);
    expect(files.label).toBe('local files');
    expectBytes(await files.read('config.json'), FILES['tiny/config.json']);
    await expect(files.read('config.json', { signal: AbortSignal.abort() })).rejects.toThrow(ModelDownloadAbortedError);
    expect(() => folderFiles([{ nope: 1 }] as unknown as File[])).toThrow(ModelSourceError);
  });

  it('reads through a directory handle (FileSystemDirectoryHandle look-alike), listing it when a file is missing', async () => {
    type Tree = { [name: string]: Uint8Array | Tree };
    const tree: Tree = {};
    for (const [p, d] of Object.entries(FILES)) {
      if (!p.startsWith('tiny/')) continue;
      const parts = p.split('/').slice(1);
      let node = tree;
      for (const s of parts.slice(0, -1)) node = (node[s] ??= {}) as Tree;
      node[parts[parts.length - 1]!] = d;
    }
    let denied = false;
    const handle = (name: string, t: Tree): DirectoryHandleLike => ({
      kind: 'directory',
      name,
      async getDirectoryHandle(n) {
        const c = t[n];
        if (!c) throw new DOMException('no such folder', 'NotFoundError');
        if (c instanceof Uint8Array) throw new DOMException('a file', 'TypeMismatchError');
        return handle(n, c);
      },
      async getFileHandle(n) {
        if (denied) throw new DOMException('denied', 'NotAllowedError');
        const c = t[n];
        if (!c) throw new DOMException('no such file', 'NotFoundError');
        if (!(c instanceof Uint8Array)) throw new DOMException('a folder', 'TypeMismatchError');
        return { getFile: async () => new File([c.slice()], n) };
      },
      async *values() {
        for (const [k, v] of Object.entries(t))
          yield { kind: v instanceof Uint8Array ? ('file' as const) : ('directory' as const), name: k };
      },
    });
    const files = folderFiles(handle('tiny', tree));
    expect(files.label).toBe('tiny');
    expectBytes(await files.read('onnx/extra.json'), FILES['tiny/onnx/extra.json']);
    expect(await files.exists('onnx')).toBe(false);
    expect(await files.exists('onnx/nope.json')).toBe(false);
    expect(await files.exists('config.json')).toBe(true);
    const e = await rejection(files.read('missing/config2.json'));
    expect(e).toBeInstanceOf(ModelFileMissingError);
    expect(e.message).toContain('It contains: config.json, model.safetensors, tokenizer.json, onnx/extra.json.');
    denied = true;
    await expect(files.read('config.json')).rejects.toThrow(/did not grant access to the folder "tiny".*Pick the folder again/);
  });

  it('reads a dropped folder through webkitGetAsEntry (recursively, in readEntries batches), or plain files', async () => {
    const fileEntry = (fullPath: string, data: Uint8Array) => ({
      isFile: true,
      isDirectory: false,
      fullPath,
      file: (ok: (f: File) => void) => ok(new File([data.slice()], fullPath.slice(fullPath.lastIndexOf('/') + 1))),
    });
    const dirEntry = (fullPath: string, children: unknown[]) => ({
      isFile: false,
      isDirectory: true,
      fullPath,
      createReader: () => {
        let i = 0;
        return { readEntries: (ok: (e: unknown[]) => void) => ok(children.slice(i, (i += 2))) }; // 2 per call, like Chrome's 100
      },
    });
    const root = dirEntry(
      '/tiny',
      Object.entries(FILES)
        .filter(([p]) => p.startsWith('tiny/') && !p.includes('onnx'))
        .map(([p, d]) => fileEntry(`/${p}`, d))
        .concat([dirEntry('/tiny/onnx', [fileEntry('/tiny/onnx/extra.json', FILES['tiny/onnx/extra.json']!)]) as never]),
    );
    const dt = { items: [{ kind: 'file', webkitGetAsEntry: () => root, getAsFile: () => null }], files: [] };
    const entries = await filesFromDataTransfer(dt as unknown as DataTransfer);
    expect(entries.map((e) => e.path).sort()).toEqual([
      'tiny/config.json',
      'tiny/model.safetensors',
      'tiny/onnx/extra.json',
      'tiny/tokenizer.json',
    ]);
    const files = folderFiles(entries);
    expect(files.label).toBe('tiny');
    expectBytes(await files.read('onnx/extra.json'), FILES['tiny/onnx/extra.json']);
    expectBytes(await files.read('model.safetensors'), FILES['tiny/model.safetensors']);

    const loose = new File([FILES['tiny/config.json']!.slice()], 'config.json');
    const plain = {
      items: [{ kind: 'file', webkitGetAsEntry: () => null, getAsFile: () => loose }, { kind: 'string' }],
      files: [],
    };
    const flat = folderFiles(await filesFromDataTransfer(plain as unknown as DataTransfer));
    expectBytes(await flat.read('config.json'), FILES['tiny/config.json']);
  });
});
