// The experiment bundle (src/training/bundle.ts, scripts/export-experiment.ts) on the tiny fixtures
// and the demo set: every id the bundle holds is the id the browser's training uses. Prompts
// rebuilt from the tensors equal PromptBuilder's (with and without documents, with answers and
// options); ColBERT query and document ids equal ColbertRetriever's tokenization and an
// independent rebuild of ColBERT's rule; splits, options and gold equal splitOf and optionsOf;
// hashes verify; exports are byte-identical; malformed inputs and manifests fail with their reason.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Passage, Question } from '../../src/data/datasets';
import type { BertEncoder } from '../../src/models/bert';
import { ColbertRetriever } from '../../src/models/colbert';
import { Generator } from '../../src/models/generator';
import type { DecoderModel } from '../../src/models/decoder';
import { generatorConfigOf, readModelTokenizer, retrieverTokenizer } from '../../src/models/load';
import { padIdOf } from '../../src/models/decoder';
import { docText } from '../../src/retrieval/index';
import type { Tensor } from '../../src/tensor';
import { parseSafetensors } from '../../src/tensor/safetensors';
import {
  BundleError,
  buildBundle,
  bundleManifestJson,
  readBundleManifest,
  verifyBundleFiles,
  withBundleFiles,
  type Bundle,
  type BundleInput,
} from '../../src/training/bundle';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import { optionsOf, PromptBuilder } from '../../src/training/prompts';
import { splitOf } from '../../src/training/run';
import { readConfig, readData } from '../../scripts/experiment';
import { nodeModelFiles } from '../../scripts/export-experiment';

const root = path.resolve(__dirname, '../..');
const TINY = {
  data: path.join(root, 'test/fixtures/tiny-qa'),
  retriever: path.join(root, 'test/fixtures/models/tiny-colbert'),
  generator: path.join(root, 'test/fixtures/models/tiny-llama'),
};
const DEMO = {
  data: path.join(root, 'public/demo'),
  retriever: path.join(root, 'public/demo/models/retriever'),
  generator: path.join(root, 'public/demo/models/generator'),
};
const TINY_CONFIG = resolveConfig({ name: 'tiny', batchSize: 1, candidates: 4, sampled: 2, topM: 2, docMaxTokens: 12 });

interface Setup {
  input: BundleInput;
  /** The models as the browser's training holds them, on stand-in weights (tokenizing reads none). */
  retriever: ColbertRetriever;
  generator: Generator;
}

async function setup(which: typeof TINY, config: TrainConfig, edit?: (q: Question[], p: Passage[]) => void): Promise<Setup> {
  const ds = readData(which.data, 'jsonl');
  edit?.(ds.questions, ds.passages);
  const r = await readModelTokenizer(nodeModelFiles(which.retriever));
  const g = await readModelTokenizer(nodeModelFiles(which.generator));
  const gc = generatorConfigOf(g, 'generator');
  // loadRetriever's construction with its default ColBERT options; the encoder is only asked its config.
  const retriever = new ColbertRetriever({ config: r.config } as BertEncoder, null as unknown as Tensor, r.tokenizer);
  const generator = new Generator({ config: gc } as unknown as DecoderModel, g.tokenizer);
  return {
    input: {
      config,
      passages: ds.passages,
      questions: ds.questions,
      retriever: retrieverTokenizer(r, 'retriever'),
      generator: {
        tokenizer: g.tokenizer,
        encodeAnswer: (t) => generator.encodeAnswer(t),
        padTokenId: padIdOf(gc, g.tokenizer),
        maxPositions: gc.maxPositions,
      },
      medrankVersion: '0.1.0',
      source: 'test',
    },
    retriever,
    generator,
  };
}

/** The bundle's tensors as plain lists, ragged ones as lists of lists. */
function decode(b: Bundle) {
  const t = parseSafetensors(b.files.get('inputs.safetensors')!).tensors;
  const get = (n: string): number[] => {
    const x = t.get(n);
    if (!x) throw new Error(`no tensor ${n}`);
    expect(x.dtype).toBe('I32');
    return Array.from(x.data);
  };
  const ragged = (flat: string, offsets: string): number[][] => {
    const f = get(flat),
      o = get(offsets);
    expect(o[0]).toBe(0);
    expect(o.at(-1)).toBe(f.length);
    return o.slice(0, -1).map((a, i) => f.slice(a, o[i + 1]));
  };
  const docOffsets = get('colbert.doc_offsets');
  const keep = get('colbert.doc_keep');
  return {
    names: [...t.keys()],
    shape: (n: string) => t.get(n)!.shape,
    queryIds: get('colbert.query_ids'),
    queryMask: get('colbert.query_mask'),
    colbertDocs: ragged('colbert.doc_ids', 'colbert.doc_offsets'),
    colbertKeep: docOffsets.slice(0, -1).map((a, i) => keep.slice(a, docOffsets[i + 1])),
    bos: get('gen.bos'),
    context: get('gen.context'),
    genDocs: ragged('gen.doc_ids', 'gen.doc_offsets'),
    question: ragged('gen.question_ids', 'gen.question_offsets'),
    questionNoDoc: ragged('gen.question_nodoc_ids', 'gen.question_nodoc_offsets'),
    answer: ragged('gen.answer_ids', 'gen.answer_offsets'),
    options: ragged('gen.option_ids', 'gen.option_offsets'),
    optionOffsets: get('question.option_offsets'),
    goldOption: get('question.gold_option'),
    split: get('question.split'),
    goldDocs: ragged('question.gold_docs', 'question.gold_offsets'),
  };
}

/** An open question and a passage without a title, beside the fixture's. */
function withExtras(qs: Question[], ps: Passage[]): void {
  ps.push({ id: 'p-untitled', text: 'sugar, salt; and (fat) - in blood!' });
  qs.push({
    id: 'q-open',
    question: 'what does insulin lower?',
    kind: 'open',
    answer: 'blood sugar',
    goldDocIds: ['p-untitled', 'p1'],
  });
}

describe.each([
  ['tiny fixtures', TINY, () => TINY_CONFIG, withExtras],
  ['demo set and models', DEMO, () => readConfig(path.join(root, 'experiments/demo/jmlr.json')), undefined],
] as const)('buildBundle on the %s', (_name, which, config, edit) => {
  let s: Setup;
  let b: Bundle;
  let t: ReturnType<typeof decode>;
  beforeAll(async () => {
    s = await setup(which, config(), edit);
    b = await buildBundle(s.input);
    t = decode(b);
  });

  it('holds the tensors docs/cluster.md names, every one I32', () => {
    expect(t.names.sort()).toEqual(
      [
        'colbert.query_ids',
        'colbert.query_mask',
        'colbert.doc_ids',
        'colbert.doc_offsets',
        'colbert.doc_keep',
        'gen.bos',
        'gen.context',
        'gen.doc_ids',
        'gen.doc_offsets',
        'gen.question_ids',
        'gen.question_offsets',
        'gen.question_nodoc_ids',
        'gen.question_nodoc_offsets',
        'gen.answer_ids',
        'gen.answer_offsets',
        'gen.option_ids',
        'gen.option_offsets',
        'question.option_offsets',
        'question.gold_option',
        'question.split',
        'question.gold_docs',
        'question.gold_offsets',
      ].sort(),
    );
    const { questions, passages } = s.input;
    expect(t.shape('colbert.query_ids')).toEqual([questions.length, s.retriever.opts.queryMaxLen]);
    expect(t.genDocs).toHaveLength(passages.length);
    expect(t.question).toHaveLength(questions.length);
    const ids = JSON.parse(new TextDecoder().decode(b.files.get('ids.json')!)) as { passages: string[]; questions: string[] };
    expect(ids).toEqual({ passages: passages.map((p) => p.id), questions: questions.map((q) => q.id) });
  });

  it('rebuilds PromptBuilder.prompt, answer and example from its pieces, with and without documents', () => {
    const { questions, passages, config } = s.input;
    // The Trainer's PromptBuilder: the whole Generator, the passages by id.
    const prompts = new PromptBuilder(s.generator, new Map(passages.map((p) => [p.id, p])), config.docMaxTokens);
    const P = passages.length;
    const docSets = [[], [0], [P - 1], [1, 3], [2, 0, P - 1], [0, 1, 2, 3, 4]].map((set) => set.map((i) => i % P));
    const qs = [0, 1, 2, 3, questions.length - 1];
    let compared = 0;
    for (const qi of qs)
      for (const set of docSets) {
        const q = questions[qi]!;
        const rebuilt = set.length
          ? [...t.bos, ...t.context, ...set.flatMap((i) => t.genDocs[i]!), ...t.question[qi]!]
          : [...t.bos, ...t.questionNoDoc[qi]!];
        const docIds = set.map((i) => passages[i]!.id);
        expect(rebuilt).toEqual(prompts.prompt(q, docIds));
        expect({ prompt: rebuilt, answer: t.answer[qi] }).toEqual(prompts.example(q, docIds));
        compared++;
      }
    expect(compared).toBe(30);
    // Gold documents as the evaluation's oracle condition uses them.
    questions.forEach((q, i) => expect(t.goldDocs[i]!.map((d) => passages[d]!.id)).toEqual(q.goldDocIds));
    expect(t.bos.length).toBe(1); // both Llama tokenizers put a BOS first
    expect(t.answer.every((a) => a.at(-1) === s.generator.tokenizer.special.eos)).toBe(true);
  });

  it("holds ColbertRetriever's query and document ids, masks and keeps (documents unpadded)", () => {
    const { questions, passages } = s.input;
    const Lq = s.retriever.opts.queryMaxLen;
    const q = s.retriever.tokenizeQueries(questions.map((x) => x.question));
    expect(t.queryIds).toEqual(Array.from(q.ids));
    expect(t.queryMask).toEqual(Array.from(q.mask));
    const d = s.retriever.tokenizeDocs(passages.map(docText)); // one batch: padded to the longest
    passages.forEach((_, i) => {
      const n = t.colbertDocs[i]!.length;
      expect(t.colbertDocs[i]).toEqual(Array.from(d.ids.subarray(i * d.T, i * d.T + n)));
      expect(t.colbertKeep[i]).toEqual(Array.from(d.keep.subarray(i * d.T, i * d.T + n)));
      expect(Array.from(d.mask.subarray(i * d.T, (i + 1) * d.T)).filter((m) => m === 1)).toHaveLength(n);
    });
    // ColBERT's rule rebuilt from the tokenizer alone, independent of ColbertTokenizer.
    const tok = s.retriever.tokenizer;
    const sp = tok.special;
    const [cls, sep, mask] = [sp.cls!, sp.sep!, sp.mask!];
    const [qm, dm] = [tok.tokenId('[unused0]')!, tok.tokenId('[unused1]')!];
    const punct = new Set([...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'].map((c) => tok.tokenId(c)).filter((x) => x !== null));
    questions.forEach((x, i) => {
      const seq = [cls, qm, ...tok.encode(x.question, { addSpecialTokens: false }).slice(0, Lq - 3), sep];
      expect(t.queryIds.slice(i * Lq, (i + 1) * Lq)).toEqual([...seq, ...Array<number>(Lq - seq.length).fill(mask)]);
      expect(t.queryMask.slice(i * Lq, (i + 1) * Lq)).toEqual([...seq.map(() => 1), ...Array<number>(Lq - seq.length).fill(0)]);
    });
    const L = s.retriever.opts.docMaxLen;
    passages.forEach((p, i) => {
      const seq = [cls, dm, ...tok.encode(docText(p), { addSpecialTokens: false }).slice(0, L - 3), sep];
      expect(t.colbertDocs[i]).toEqual(seq);
      expect(t.colbertKeep[i]).toEqual(seq.map((id) => (punct.has(id) ? 0 : 1)));
    });
    expect(t.colbertKeep.flat().some((k) => k === 0)).toBe(true); // punctuation is there and masked
    expect(b.manifest.retriever).toEqual({
      queryMaxLen: Lq,
      docMaxLen: L,
      padTokenId: (s.retriever.encoder as { config: { padTokenId: number } }).config.padTokenId,
    });
  });

  it('holds splitOf, optionsOf and the gold option of every question', () => {
    const { questions, config } = s.input;
    const code = { train: 0, validation: 1, test: 2 };
    expect(t.split).toEqual(questions.map((q) => code[splitOf(q, config.seed)]));
    const prompts = new PromptBuilder(s.generator, new Map(), config.docMaxTokens);
    questions.forEach((q, i) => {
      const o = optionsOf(q);
      const mine = t.options.slice(t.optionOffsets[i], t.optionOffsets[i + 1]);
      expect(mine).toEqual((o?.options ?? []).map((x) => prompts.answer(x)));
      expect(t.goldOption[i]).toBe(o ? o.gold : -1);
      expect(t.answer[i]).toEqual(prompts.answer(q.answer));
    });
    if (edit) expect(t.goldOption.at(-1)).toBe(-1); // the open question added to the tiny set
  });

  it('lists and hashes its files, round-trips readBundleManifest, and builds byte-identically twice', async () => {
    expect(Object.keys(b.manifest.files)).toEqual(['README.md', 'ids.json', 'inputs.safetensors']);
    await verifyBundleFiles(b.manifest, async (p) => b.files.get(p) ?? null);
    const tampered = new Map(b.files);
    const ids = tampered.get('ids.json')!.slice();
    ids[3] = ids[3]! ^ 1;
    tampered.set('ids.json', ids);
    await expect(verifyBundleFiles(b.manifest, async (p) => tampered.get(p) ?? null)).rejects.toThrow(
      /ids\.json: its sha256 differs/,
    );
    await expect(verifyBundleFiles(b.manifest, async () => null)).rejects.toThrow(/missing from the bundle/);
    const full = withBundleFiles(b.manifest, {
      'retriever/config.json': { bytes: 1, sha256: 'a'.repeat(64) },
      'generator/config.json': { bytes: 1, sha256: 'b'.repeat(64) },
    });
    expect(readBundleManifest(bundleManifestJson(full))).toEqual(full);
    expect(() => readBundleManifest(bundleManifestJson(b.manifest))).toThrow(/does not list retriever\/config\.json/);
    const again = await buildBundle(s.input);
    expect(bundleManifestJson(again.manifest)).toBe(bundleManifestJson(b.manifest));
    for (const [p, bytes] of b.files) expect(Buffer.from(again.files.get(p)!).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('buildBundle refuses', () => {
  it('a gold id not in the corpus, naming the question; duplicate ids; empty data', async () => {
    const s = await setup(TINY, TINY_CONFIG, (qs) => (qs[1]!.goldDocIds = ['p3', 'p-nowhere']));
    await expect(buildBundle(s.input)).rejects.toThrow(BundleError);
    await expect(buildBundle(s.input)).rejects.toThrow(
      /question "q2" names gold passage "p-nowhere", which is not in the corpus/,
    );
    const d = await setup(TINY, TINY_CONFIG, (_, ps) => ps.push({ ...ps[0]! }));
    await expect(buildBundle(d.input)).rejects.toThrow(/passage id "p1" appears twice/);
    await expect(buildBundle({ ...d.input, passages: [] })).rejects.toThrow(/no passages/);
    await expect(buildBundle({ ...s.input, questions: [] })).rejects.toThrow(/no questions/);
  });

  it('a bundle file over its limit, before building it; a config the run would refuse', async () => {
    const s = await setup(TINY, TINY_CONFIG);
    // Refused as it grows (before the file is allocated), and at its exact size.
    await expect(buildBundle({ ...s.input, maxFileBytes: 2048 })).rejects.toThrow(
      /inputs\.safetensors would pass 2\.0 KiB \(at [\w.]+\), the most a bundle file may hold; export a smaller corpus/,
    );
    const size = (await buildBundle(s.input)).files.get('inputs.safetensors')!.byteLength;
    await expect(buildBundle({ ...s.input, maxFileBytes: size - 1 })).rejects.toThrow(/inputs\.safetensors would be .* over the/);
    await expect(buildBundle({ ...s.input, maxFileBytes: size })).resolves.toBeTruthy();
    await expect(buildBundle({ ...s.input, config: resolveConfig({ ...TINY_CONFIG, batchSize: 4 }) })).rejects.toThrow(
      /3 training questions cannot fill a batch of 4/,
    );
    await expect(buildBundle({ ...s.input, config: resolveConfig({ ...TINY_CONFIG, docMaxTokens: 64 }) })).rejects.toThrow(
      /topM x docMaxTokens = 128 tokens of context do not fit the generator's 128 positions/,
    );
  });

  it('splits by seed where the file gives none', async () => {
    const strip = (qs: Question[]) => qs.forEach((q) => delete q.split);
    const s = await setup(DEMO, { ...readConfig(path.join(root, 'experiments/demo/jmlr.json')), seed: 7 }, strip);
    const t = decode(await buildBundle(s.input));
    const code = { train: 0, validation: 1, test: 2 };
    expect(t.split).toEqual(s.input.questions.map((q) => code[splitOf(q, 7)]));
    expect(t.split).not.toEqual(s.input.questions.map((q) => code[splitOf(q, 0)]));
    expect(new Set(t.split)).toEqual(new Set([0, 1, 2]));
  });
});

// A manifest to break field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

describe('readBundleManifest', () => {
  let good: Record<string, unknown>;
  beforeAll(async () => {
    const s = await setup(TINY, TINY_CONFIG);
    const b = await buildBundle(s.input);
    const sha = 'c'.repeat(64);
    good = JSON.parse(
      bundleManifestJson(
        withBundleFiles(b.manifest, {
          'retriever/config.json': { bytes: 2, sha256: sha },
          'generator/config.json': { bytes: 2, sha256: sha },
        }),
      ),
    ) as Record<string, unknown>;
  });
  const read = (edit: (m: Loose) => void): (() => unknown) => {
    const m = structuredClone(good);
    edit(m);
    return () => readBundleManifest(JSON.stringify(m));
  };
  const files = (m: Loose) => m.files as Record<string, unknown>;

  it('takes a good manifest, text or parsed', () => {
    expect(readBundleManifest(JSON.stringify(good)).config.name).toBe('tiny');
    expect(readBundleManifest(good).files['ids.json']).toEqual((good.files as Record<string, unknown>)['ids.json']);
  });

  it('refuses a newer format version, asking to update MedRank; other formats and versions', () => {
    expect(read((m) => (m.formatVersion = 2))).toThrow(/format version 2, newer than this MedRank reads \(1\); update MedRank/);
    expect(read((m) => (m.formatVersion = 0))).toThrow(/formatVersion 0 is not a version MedRank wrote/);
    expect(read((m) => (m.formatVersion = '1'))).toThrow(/formatVersion must be an integer/);
    expect(read((m) => (m.format = 'something-else'))).toThrow(/not a MedRank experiment manifest/);
    expect(() => readBundleManifest('{"format": "medrank-exp')).toThrow(/not valid JSON/);
  });

  it('refuses file paths that leave the folder, and prototype keys anywhere', () => {
    for (const bad of ['../x', '/abs', 'retriever/../../x', 'a//b', './a', 'C:x', 'a\\b', 'a\u0000b', 'manifest.json'])
      expect(
        read((m) => (files(m)[bad] = { bytes: 1, sha256: 'd'.repeat(64) })),
        bad,
      ).toThrow(BundleError);
    expect(read((m) => (files(m)['../x'] = { bytes: 1, sha256: 'd'.repeat(64) }))).toThrow(/"\.\.\/x" leaves the bundle folder/);
    expect(read((m) => (m.models.retriever = { dir: '../elsewhere' }))).toThrow(/models\.retriever\.dir/);
    // JSON.parse makes "__proto__" an own key; it is refused wherever it is.
    const text = JSON.stringify(good);
    for (const [at, withKey] of [
      ['files', text.replace('"files":{', '"files":{"__proto__":{"bytes":1,"sha256":"' + 'e'.repeat(64) + '"},')],
      ['the top level', text.replace('{', '{"__proto__":{"polluted":true},')],
      ['config', text.replace('"config":{', '"config":{"constructor":{},')],
    ] as const) {
      expect(withKey).not.toBe(text);
      expect(() => readBundleManifest(withKey), at).toThrow(/the key "(__proto__|constructor)" .*is not allowed/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses bad entries, missing files and configs resolveConfig refuses', () => {
    expect(read((m) => (files(m)['ids.json'] = { bytes: -1, sha256: 'f'.repeat(64) }))).toThrow(/files\["ids\.json"\] must be/);
    expect(read((m) => (files(m)['ids.json'] = { bytes: 1, sha256: 'xyz' }))).toThrow(/64 hex digits/);
    expect(read((m) => delete files(m)['inputs.safetensors'])).toThrow(/does not list inputs\.safetensors/);
    expect(read((m) => (m.config.sampled = 99))).toThrow(/manifest\.json: config\.sampled: cannot exceed candidates/);
    expect(read((m) => (m.config.lr_generator = 1))).toThrow(/config\.lr_generator: unknown field/);
    expect(read((m) => (m.models.generator = { hub: 'org/name' }))).toThrow(/models\.generator must be/);
    expect(read((m) => (m.models.generator = { hub: 'org/name', revision: 'abc' }))).not.toThrow();
    expect(read((m) => (m.retriever.queryMaxLen = 2))).toThrow(/retriever must be/);
    expect(read((m) => delete m.generator)).toThrow(/generator must be/);
  });
});

describe('npm run export-experiment', () => {
  const run = promisify(execFile);
  const cli = (args: string[]) => run('npx', ['tsx', 'scripts/export-experiment.ts', ...args], { cwd: root, timeout: 120_000 });
  const fails = (args: string[]) =>
    cli(args).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
  const models = ['--retriever', TINY.retriever, '--generator', TINY.generator, '--data', TINY.data];
  const listing = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();

  it('writes the layout, a manifest that verifies, and the same bytes again (replacing its own bundle)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medrank-bundle-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ preset: 'jmlr-code', ...TINY_CONFIG, name: 'tiny' }));
    const out = path.join(dir, 'bundle');
    await cli([path.join(dir, 'config.json'), '--out', out, ...models]);
    const files = listing(out);
    expect(files).toEqual([
      'README.md',
      'generator/config.json',
      'generator/model.safetensors',
      'generator/special_tokens_map.json',
      'generator/tokenizer.json',
      'generator/tokenizer_config.json',
      'ids.json',
      'inputs.safetensors',
      'manifest.json',
      'retriever/config.json',
      'retriever/model.safetensors',
      'retriever/special_tokens_map.json',
      'retriever/tokenizer.json',
      'retriever/tokenizer_config.json',
    ]);
    const manifest = readBundleManifest(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files)).toEqual(files.filter((f) => f !== 'manifest.json'));
    await verifyBundleFiles(manifest, async (p) =>
      existsSync(path.join(out, p)) ? new Uint8Array(readFileSync(path.join(out, p))) : null,
    );
    expect(
      readFileSync(path.join(out, 'retriever/model.safetensors')).equals(
        readFileSync(path.join(TINY.retriever, 'model.safetensors')),
      ),
    ).toBe(true);
    expect(manifest.config).toEqual(readConfig(path.join(dir, 'config.json')));
    expect(manifest.data).toMatchObject({ passages: 6, questions: 4 });
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toMatch(
      /PYTHONPATH=python python3 -m medrank_torch\.train BUNDLE --out results\.json --device cuda/,
    );

    const before = new Map(files.map((f) => [f, readFileSync(path.join(out, f))]));
    writeFileSync(path.join(out, 'inputs.safetensors'), 'stale'); // replaced, not kept
    await cli([path.join(dir, 'config.json'), '--out', out, ...models]);
    expect(listing(out)).toEqual(files);
    for (const [f, bytes] of before) expect(readFileSync(path.join(out, f)).equals(bytes), f).toBe(true);
  }, 120_000);

  it('refuses a folder that is not a bundle, and a bad flag, with exit code 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'medrank-bundle-'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(TINY_CONFIG));
    mkdirSync(path.join(dir, 'busy'));
    writeFileSync(path.join(dir, 'busy', 'notes.txt'), 'mine');
    const busy = await fails([path.join(dir, 'config.json'), '--out', path.join(dir, 'busy'), ...models]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/is not empty and is not a MedRank bundle \(it holds notes\.txt\); give an empty or new folder/);
    expect(readdirSync(path.join(dir, 'busy'))).toEqual(['notes.txt']);
    const flag = await fails([path.join(dir, 'config.json'), '--out', path.join(dir, 'b'), '--bogus', 'x']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown flag --bogus[\s\S]*usage: npm run export-experiment/);
    const noOut = await fails([path.join(dir, 'config.json')]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out DIR is required/);
    expect(existsSync(path.join(dir, 'b'))).toBe(false);
  }, 120_000);
});
