// The dense retriever (BMRetriever style) on every decoder family against goldens from an
// independent PyTorch implementation (scripts/goldens/make_model_fixtures.py): final hidden
// states, the three poolings (last token, mean, first), the dot-product scores, and the LoRA
// gradients of a loss on the pooled vectors. The backbones load as a retriever does (no LM head).
import { afterAll, describe, expect, it } from 'vitest';
import type { DenseRetriever, Pooling } from '../../src/models/dense';
import { loadRetriever } from '../../src/models/load';
import { ForwardContext } from '../../src/models/lora';
import { mul, sumAll } from '../../src/tensor';
import { destroyEngine, expectClose, getEngine } from './helpers';
import { fixtureFiles, golden, type FixtureName, type Golden } from './fixtures';

afterAll(destroyEngine);

const TOL = { atol: 1e-5, rtol: 1e-4 };
const DECODERS: FixtureName[] = ['tiny-llama', 'tiny-qwen2', 'tiny-gptneox', 'tiny-gemma'];
const POOLED: Record<Pooling, string> = { last: 'pooled_last', mean: 'pooled_mean', first: 'pooled_first' };

/** The golden's batch: ids [B, T], and each row's real tokens (before its right padding). */
function goldenBatch(g: Golden): { B: number; T: number; ids: Int32Array; lengths: Int32Array; seqs: number[][] } {
  const [B, T] = g.get('input_ids').shape as [number, number];
  const ids = g.get('input_ids').data as Int32Array;
  const lengths = g.get('lengths').data as Int32Array;
  const seqs = Array.from({ length: B }, (_, b) => Array.from(ids.slice(b * T, b * T + lengths[b]!)));
  return { B, T, ids, lengths, seqs };
}

async function dense(name: FixtureName, pooling: Pooling = 'last'): Promise<DenseRetriever> {
  const r = await loadRetriever(await getEngine(), await fixtureFiles(name), { dense: { pooling } });
  expect(r.kind).toBe('dense');
  return r as DenseRetriever;
}

for (const name of DECODERS)
  describe(`dense retriever on ${name}`, () => {
    it('hidden states, every pooling and the dot-product scores match PyTorch; no LM head is loaded', async () => {
      const e = await getEngine();
      const g = await golden(name);
      const { B, T, ids, lengths, seqs } = goldenBatch(g);
      const r = await dense(name);
      expect(r.weights.names().some((n) => n === 'lm_head.weight' || n === 'embed_out.weight')).toBe(false);
      const hidden = await e.noGrad(() => r.model.forward(ids, B, T)).read();
      // Rows past each sequence's length are padding (the golden runs them unmasked): compare real rows.
      const D = r.dim;
      const want = g.get('hidden').data as Float32Array;
      for (let b = 0; b < B; b++) {
        const n = lengths[b]! * D;
        expectClose(hidden.slice(b * T * D, b * T * D + n), want.slice(b * T * D, b * T * D + n), TOL, `hidden row ${b}`);
      }
      r.dispose();
      for (const pooling of ['last', 'mean', 'first'] as const) {
        const p = await dense(name, pooling);
        const pooled = await e.noGrad(() => p.embedIds(seqs)).read();
        expectClose(pooled, g.get(POOLED[pooling]).data as Float32Array, TOL, `${pooling} pooling`);
        if (pooling === 'last') {
          // Scores through the retriever interface: one vector per query and per document, MaxSim = q . d.
          const v = e.noGrad(() => p.embedIds(seqs));
          const s = await e
            .noGrad(() => p.score(v.reshape([B, 1, D]), { vectors: v, offsets: Int32Array.from([0, 1, 2]) }))
            .read();
          expectClose(s, g.get('dense_scores').data as Float32Array, { atol: 1e-4, rtol: 1e-4 }, 'scores');
        }
        p.dispose();
      }
    });

    it("LoRA gradients of a loss on the last-token vectors match PyTorch's", async () => {
      const e = await getEngine();
      const g = await golden(name);
      const { B, seqs } = goldenBatch(g);
      const r = await dense(name);
      const targets = g.metadata.lora_targets!.split(',').map((t) => t.split('.').at(-1)!);
      const params = r.configureTraining('lora', { r: 4, alpha: 8, dropout: 0, targetModules: targets }, 1);
      expect(params.length).toBe(2 * targets.length * r.model.config.numLayers);
      const adapters = r.linears().filter((l) => l.lora);
      for (const l of adapters)
        for (const k of ['A', 'B'] as const) e.gpu.write(l.lora![k].buffer, g.get(`lora.${l.name}.${k}`).data as Float32Array);
      const upstream = e.tensor(g.get('dense_upstream').data as Float32Array, [B, r.dim]);
      const loss = sumAll(mul(r.embedIds(seqs, new ForwardContext(true)), upstream));
      e.backward(loss);
      expect(await loss.item()).toBeCloseTo((g.get('loss_dense').data as Float32Array)[0]!, 4);
      for (const l of adapters)
        for (const k of ['A', 'B'] as const) {
          const want = g.get(`grad.dense.lora.${l.name}.${k}`).data as Float32Array;
          let scale = 0;
          for (const v of want) scale = Math.max(scale, Math.abs(v));
          expectClose(await l.lora![k].grad!.read(), want, { atol: 1e-4 * scale, rtol: 1e-4 }, `grad ${l.name} ${k}`);
        }
      expect(r.linears()[0]!.weight.grad).toBeNull();
      r.dispose();
    });
  });

describe('dense retriever options', () => {
  it('appends EOS, applies the templates, refuses what it cannot do, and declares its pooling from 1_Pooling/config.json', async () => {
    const e = await getEngine();
    const r = await dense('tiny-gptneox');
    const eos = r.tokenizer.special.eos!;
    expect(r.ids('fever').at(-1)).toBe(eos);
    expect(r.ids('fever and chills '.repeat(200)).length).toBe(r.opts.maxLen);
    const q = await e.noGrad(() => r.encodeQueries(['fever?'])).read();
    const direct = await e.noGrad(() => r.embed([r.opts.queryTemplate.replace('{text}', 'fever?')])).read();
    expectClose(q, direct, { atol: 0 }, 'query template');
    expect(() => r.configureTraining('projection')).toThrow(/no projection head.*'lora' or 'full'/);
    expect(r.loraTargets).toEqual(['query_key_value']);
    r.dispose();
    const mean = await loadRetriever(
      e,
      await fixtureFiles('tiny-llama', {
        '1_Pooling/config.json': new TextEncoder().encode(JSON.stringify({ pooling_mode_mean_tokens: true })),
      }),
    );
    expect((mean as DenseRetriever).opts.pooling).toBe('mean');
    mean.dispose();
    await expect(
      loadRetriever(
        e,
        await fixtureFiles('tiny-llama', {
          '1_Pooling/config.json': new TextEncoder().encode(JSON.stringify({ pooling_mode_max_tokens: true })),
        }),
      ),
    ).rejects.toThrow(/asks for pooling_mode_max_tokens; MedRank's dense retriever pools by last, mean, first/);
    await expect(loadRetriever(e, await fixtureFiles('tiny-llama'), { dense: { queryTemplate: 'no slot' } })).rejects.toThrow(
      /queryTemplate must contain \{text\}/,
    );
  });
});
