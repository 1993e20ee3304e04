// "Export for a cluster": the experiment bundle of loaded models (src/worker/bundle-export.ts) and
// its .zip (src/notebook/zip.ts), on the tiny fixture models and data read from disk in place of
// the GPU engine. The zip holds exactly the manifest's files and manifest.json at its root, every
// entry's size and sha256 is the manifest's, `unzip -d DIR` gives the bundle folder, model folders
// carry config.json and the tokenizer files as loaded plus the current weights, a model from the
// hub at a commit and untrained goes in as {hub, revision} alone; and the store's action sends the
// cell's config to the worker (the request typed end to end) and zips what comes back.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseJsonlQA } from '../../src/data/datasets';
import { answerIds } from '../../src/models/generator';
import { padIdOf } from '../../src/models/decoder';
import { generatorConfigOf, readModelTokenizer, retrieverTokenizer } from '../../src/models/load';
import { ModelFileMissingError, type ModelFiles } from '../../src/models/sources';
import { readZip, zipBundle, ZipError } from '../../src/notebook/zip';
import { useStore } from '../../src/store';
import { setEngineClient } from '../../src/store/engine';
import { dataLabel } from '../../src/store/runsSlice';
import {
  BundleError,
  bundleManifestJson,
  readBundleManifest,
  sha256Hex,
  verifyBundleFiles,
  type BundleManifest,
} from '../../src/training/bundle';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import { clusterBundle, hubRef, MAX_TAB_BUNDLE_WEIGHT_BYTES, type BundleModel } from '../../src/worker/bundle-export';
import { EngineClient } from '../../src/worker/client';
import type { EngineApi, EngineRequest, EngineResponse, ExportedBundle, PayloadOf, CallOptions } from '../../src/worker/protocol';

const root = path.resolve(__dirname, '../..');
const DIRS = {
  data: path.join(root, 'test/fixtures/tiny-qa'),
  retriever: path.join(root, 'test/fixtures/models/tiny-colbert'),
  generator: path.join(root, 'test/fixtures/models/tiny-llama'),
};
const CONFIG = resolveConfig({ name: 'tiny', batchSize: 1, candidates: 4, sampled: 2, topM: 2, docMaxTokens: 12 });
const COMMIT = 'a'.repeat(40);

/** A model folder on disk as the loader sees it, counting what is read. */
function diskFiles(dir: string, reads: string[] = []): ModelFiles {
  return {
    label: path.relative(root, dir),
    kind: 'folder',
    async read(p) {
      const full = path.join(dir, p);
      if (!existsSync(full)) throw new ModelFileMissingError(p, dir, `${dir} has no ${p}`);
      reads.push(p);
      return new Uint8Array(readFileSync(full));
    },
    async exists(p) {
      return existsSync(path.join(dir, p));
    },
  };
}

/** Stand-in "current weights": distinct bytes per model, so a test sees which file went where. */
const fakeWeights = (role: string): Uint8Array => new TextEncoder().encode(`weights of the ${role}, as trained`);

interface Setup {
  inputs: Parameters<typeof clusterBundle>[0]['inputs'];
  models: { retriever: BundleModel; generator: BundleModel };
  weightCalls: string[];
  reads: { retriever: string[]; generator: string[] };
}

async function setup(over: Partial<Record<'retriever' | 'generator', Partial<BundleModel>>> = {}): Promise<Setup> {
  const ds = parseJsonlQA({
    questions: readFileSync(path.join(DIRS.data, 'questions.jsonl'), 'utf8'),
    corpus: readFileSync(path.join(DIRS.data, 'corpus.jsonl'), 'utf8'),
  });
  const reads = { retriever: [] as string[], generator: [] as string[] };
  const rHead = await readModelTokenizer(diskFiles(DIRS.retriever));
  const gHead = await readModelTokenizer(diskFiles(DIRS.generator));
  const gConfig = generatorConfigOf(gHead, 'tiny-llama');
  const weightCalls: string[] = [];
  const model = (role: 'retriever' | 'generator'): BundleModel => ({
    files: diskFiles(DIRS[role], reads[role]),
    hub: null,
    asLoaded: true,
    weightBytes: 1000,
    weights: async () => (weightCalls.push(role), fakeWeights(role)),
    ...over[role],
  });
  return {
    inputs: {
      config: CONFIG,
      passages: ds.passages,
      questions: ds.questions,
      retriever: retrieverTokenizer(rHead, 'tiny-colbert'),
      generator: {
        tokenizer: gHead.tokenizer,
        encodeAnswer: (t) => answerIds(gHead.tokenizer, t),
        padTokenId: padIdOf(gConfig, gHead.tokenizer),
        maxPositions: gConfig.maxPositions,
      },
      medrankVersion: '0.1.0',
      source: 'test/fixtures/tiny-qa',
    },
    models: { retriever: model('retriever'), generator: model('generator') },
    weightCalls,
    reads,
  };
}

describe('the cluster bundle of loaded models', () => {
  it('carries each model folder: config.json and tokenizer files as loaded, the current weights as model.safetensors', async () => {
    const s = await setup();
    const messages: string[] = [];
    const b = await clusterBundle({ inputs: s.inputs, models: s.models, onProgress: (m) => messages.push(m) });
    expect(b.manifest.models).toEqual({ retriever: { dir: 'retriever' }, generator: { dir: 'generator' } });
    const folder = (dir: string): string[] =>
      Object.keys(b.files)
        .filter((p) => p.startsWith(`${dir}/`))
        .map((p) => p.slice(dir.length + 1));
    // What the fixture folders have, but the weights: those are the current ones, in one file.
    for (const role of ['retriever', 'generator'] as const) {
      const onDisk = readdirSync(DIRS[role]).filter((f) => !f.endsWith('.safetensors') && !f.endsWith('.index.json'));
      expect(folder(role).sort()).toEqual([...onDisk, 'model.safetensors'].sort());
      for (const f of onDisk) expect(b.files[`${role}/${f}`]).toEqual(new Uint8Array(readFileSync(path.join(DIRS[role], f))));
      expect(b.files[`${role}/model.safetensors`]).toEqual(fakeWeights(role));
    }
    expect(s.weightCalls).toEqual(['retriever', 'generator']);
    expect(Object.keys(b.files).filter((p) => !p.includes('/'))).toEqual(['inputs.safetensors', 'ids.json', 'README.md']);
    // The manifest lists every file with its size and sha256, and passes the twin's first check.
    expect(Object.keys(b.manifest.files)).toEqual(Object.keys(b.files).sort());
    for (const [p, bytes] of Object.entries(b.files))
      expect(b.manifest.files[p]).toEqual({ bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
    expect(readBundleManifest(bundleManifestJson(b.manifest))).toEqual(b.manifest);
    expect(b.manifest).toMatchObject({ config: CONFIG, data: { passages: 6, source: 'test/fixtures/tiny-qa' } });
    expect(new TextDecoder().decode(b.files['README.md'])).toContain('copied from `test/fixtures/models/tiny-colbert`');
    expect(messages[0]).toBe('tokenizing the dataset for the bundle');
    expect(messages).toContain('generator: its current weights (1000 B)');
  });

  it('a model from the hub at a commit, untrained, goes in as {hub, revision} without its files', async () => {
    const hub = { repo: 'owner/colbert', revision: COMMIT };
    const s = await setup({ retriever: { hub } });
    const b = await clusterBundle({ inputs: s.inputs, models: s.models });
    expect(b.manifest.models.retriever).toEqual({ hub: 'owner/colbert', revision: COMMIT });
    expect(Object.keys(b.files).some((p) => p.startsWith('retriever/'))).toBe(false);
    expect(s.weightCalls).toEqual(['generator']);
    expect(s.reads.retriever).toEqual([]);
    expect(readBundleManifest(bundleManifestJson(b.manifest)).models.retriever).toEqual({
      hub: 'owner/colbert',
      revision: COMMIT,
    });
    // Otherwise its files go in: trained since it was loaded, a branch (it can move), another endpoint.
    const base: BundleModel = s.models.retriever;
    expect(hubRef({ ...base, hub })).toEqual({ hub: 'owner/colbert', revision: COMMIT });
    expect(hubRef({ ...base, hub: { ...hub, endpoint: 'https://huggingface.co/' } })).not.toBeNull();
    expect(hubRef({ ...base, hub, asLoaded: false })).toBeNull();
    expect(hubRef({ ...base, hub: { repo: 'owner/colbert', revision: 'main' } })).toBeNull();
    expect(hubRef({ ...base, hub: { repo: 'owner/colbert' } })).toBeNull();
    expect(hubRef({ ...base, hub: { ...hub, endpoint: 'http://127.0.0.1:8000' } })).toBeNull();
    expect(hubRef({ ...base, hub: null })).toBeNull();
  });

  it('refuses weights too large for the tab before reading any, and a config the run would refuse', async () => {
    const s = await setup({ generator: { weightBytes: MAX_TAB_BUNDLE_WEIGHT_BYTES } });
    await expect(clusterBundle({ inputs: s.inputs, models: s.models })).rejects.toThrow(
      /^the retriever and generator weights \(2\.00 GiB\) are more than a bundle made in the browser may hold .*npm run export-experiment/,
    );
    expect(s.weightCalls).toEqual([]);
    const t = await setup();
    const config: TrainConfig = { ...CONFIG, batchSize: 64 };
    await expect(clusterBundle({ inputs: { ...t.inputs, config }, models: t.models })).rejects.toBeInstanceOf(BundleError);
    expect(t.weightCalls).toEqual([]);
  });
});

describe('the bundle as a zip', () => {
  it('holds the manifest’s files and manifest.json at its root, each with the manifest’s size and sha256', async () => {
    const s = await setup();
    const b = await clusterBundle({ inputs: s.inputs, models: s.models });
    const zip = zipBundle(b);
    const entries = readZip(zip);
    expect(Object.keys(entries).sort()).toEqual([...Object.keys(b.manifest.files), 'manifest.json'].sort());
    const manifest: BundleManifest = readBundleManifest(new TextDecoder().decode(entries['manifest.json']));
    expect(manifest).toEqual(b.manifest);
    expect(new TextDecoder().decode(entries['manifest.json'])).toBe(bundleManifestJson(b.manifest));
    for (const [p, e] of Object.entries(manifest.files)) {
      expect(entries[p]!.byteLength, p).toBe(e.bytes);
      expect(await sha256Hex(entries[p]!), p).toBe(e.sha256);
    }
    await verifyBundleFiles(manifest, async (p) => entries[p] ?? null);
    // The same bundle zips to the same bytes (fixed dates, fixed order).
    expect(zipBundle(b)).toEqual(zip);
  });

  it('`unzip x.zip -d DIR` gives the bundle folder', async () => {
    const s = await setup();
    const b = await clusterBundle({ inputs: s.inputs, models: s.models });
    const dir = mkdtempSync(path.join(tmpdir(), 'medrank-bundle-'));
    const file = path.join(dir, 'x.zip');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, zipBundle(b)));
    const out = path.join(dir, 'DIR');
    await promisify(execFile)('unzip', ['-q', file, '-d', out]);
    const manifest = readBundleManifest(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    await verifyBundleFiles(manifest, async (p) =>
      existsSync(path.join(out, p)) ? new Uint8Array(readFileSync(path.join(out, p))) : null,
    );
    expect(readdirSync(out).sort()).toEqual([
      'README.md',
      'generator',
      'ids.json',
      'inputs.safetensors',
      'manifest.json',
      'retriever',
    ]);
  });

  it('refuses a bundle whose files are not its manifest’s, and a file that is not a zip', async () => {
    const s = await setup();
    const b = await clusterBundle({ inputs: s.inputs, models: s.models });
    const { 'ids.json': _, ...fewer } = b.files;
    expect(() => zipBundle({ manifest: b.manifest, files: fewer })).toThrow(ZipError);
    expect(() => zipBundle({ manifest: b.manifest, files: { ...b.files, 'extra.txt': new Uint8Array(1) } })).toThrow(
      /are not the 13 its manifest lists/,
    );
    expect(() => readZip(new TextEncoder().encode('not a zip'))).toThrow(/not a readable zip file/);
  });
});

// ---- the request, typed end to end --------------------------------------------------------------

class FakeWorker extends EventTarget {
  sent: EngineRequest[] = [];
  postMessage(msg: EngineRequest): void {
    this.sent.push(msg);
  }
  reply(msg: EngineResponse): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: msg }));
  }
  terminate(): void {}
}

describe('exportBundle through the client and the store', () => {
  const initial = useStore.getState();
  beforeEach(() => {
    useStore.setState(initial, true);
    // The demo notebook's Train cell (c5) names the jmlr-code preset: served from public/presets.
    vi.stubGlobal('fetch', async (url: string) => {
      const m = /^\/presets\/([\w-]+)\.json$/.exec(url);
      return m
        ? new Response(readFileSync(path.join(root, 'public/presets', `${m[1]}.json`), 'utf8'), { status: 200 })
        : new Response('not found', { status: 404 });
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    setEngineClient(null);
  });

  it('the client posts the config and source, streams progress, and resolves the bundle', async () => {
    const w = new FakeWorker();
    const client = new EngineClient(w as unknown as Worker);
    const got: string[] = [];
    const p = client.exportBundle({ config: { steps: 3 }, source: 'public/demo' }, { onProgress: (pr) => got.push(pr.message) });
    const req = w.sent[0]!;
    expect(req).toEqual({ kind: 'exportBundle', id: req.id, config: { steps: 3 }, source: 'public/demo' });
    w.reply({ kind: 'progress', id: req.id, done: 0, total: 5, message: 'tokenizing the dataset for the bundle' });
    const s = await setup();
    const value = await clusterBundle({ inputs: s.inputs, models: s.models });
    w.reply({ kind: 'result', id: req.id, request: 'exportBundle', value });
    await expect(p).resolves.toBe(value);
    expect(got).toEqual(['tokenizing the dataset for the bundle']);
  });

  it('the store sends the cell’s run config and the data’s name, and zips what comes back for download', async () => {
    const s = await setup();
    const bundle = await clusterBundle({ inputs: s.inputs, models: s.models });
    const calls: PayloadOf<'exportBundle'>[] = [];
    const engine = {
      exportBundle: async (p: PayloadOf<'exportBundle'>, o?: CallOptions): Promise<ExportedBundle> => {
        calls.push(p);
        o?.onProgress?.({ done: 1, total: 5, message: 'generator: its current weights' });
        expect(useStore.getState().runs.bundles.c5).toMatchObject({ busy: true });
        return bundle;
      },
    };
    setEngineClient(engine as unknown as EngineApi);
    const out = await useStore.getState().exportBundle('c5');
    expect(out?.fileName).toBe('jmlr-code-bundle.zip');
    // The config a run of the cell would train with: the preset, the cell's fields, scores after each update.
    const preset = JSON.parse(readFileSync(path.join(root, 'public/presets/jmlr-code.json'), 'utf8')) as Partial<TrainConfig>;
    const cell = useStore.getState().notebook.doc.cells.find((c) => c.id === 'c5')!;
    expect(cell.kind).toBe('train');
    expect(calls).toEqual([
      {
        config: expect.objectContaining({ ...preset, ...(cell.kind === 'train' ? cell.overrides : {}), recordScoresAfter: true }),
        source: 'public/demo',
      },
    ]);
    expect(resolveConfig(calls[0]!.config)).toEqual(calls[0]!.config);
    const entries = readZip(new Uint8Array(await out!.blob.arrayBuffer()));
    expect(Object.keys(entries).sort()).toEqual([...Object.keys(bundle.manifest.files), 'manifest.json'].sort());
    expect(useStore.getState().runs.bundles.c5).toMatchObject({ busy: false, error: null, progress: null });
    expect(useStore.getState().runs.bundles.c5!.message).toMatch(
      /^jmlr-code-bundle\.zip: 14 files, .* MB\. On the cluster: unzip it/,
    );
  });

  it('a refusal from the worker is shown on the cell and nothing downloads', async () => {
    setEngineClient({
      exportBundle: () => Promise.reject(new BundleError('2 training questions cannot fill a batch of 8')),
    } as unknown as EngineApi);
    expect(await useStore.getState().exportBundle('c5')).toBeNull();
    expect(useStore.getState().runs.bundles.c5).toEqual({
      busy: false,
      progress: null,
      error: '2 training questions cannot fill a batch of 8',
      message: null,
    });
    expect(await useStore.getState().exportBundle('c1')).toBeNull(); // not a Train cell
  });

  it('names the data as the manifest shows it', () => {
    expect(dataLabel({ kind: 'demo' })).toBe('public/demo');
    expect(dataLabel(null)).toBe('public/demo');
    expect(
      dataLabel({ kind: 'url', format: 'jsonl', urls: { questions: 'https://x/q.jsonl', corpus: 'https://x/c.jsonl' } }),
    ).toBe('https://x/q.jsonl https://x/c.jsonl');
    expect(dataLabel({ kind: 'files', format: 'beir', names: { corpus: 'corpus.jsonl' } })).toBe('beir files: corpus.jsonl');
  });
});
