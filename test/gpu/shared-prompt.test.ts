// Scoring answers from one pass over their shared prompt (Generator.sharedPromptNll, and nllMany
// grouping examples by prompt) gives the NLLs of scoring each (prompt, answer) whole: on Llama
// (grouped-query, llama3 RoPE scaling) and Qwen2 (one kv head, q/k/v bias), with prompts of
// different lengths in one batch, one-token answers (nothing for the second pass), a prompt with
// one answer beside prompts with four, and batches split by the token budget.
import { afterAll, describe, expect, it } from 'vitest';
import { loadGenerator } from '../../src/models/load';
import type { AnswerExample, Generator } from '../../src/models/generator';
import { nllMany } from '../../src/training/prompts';
import { destroyEngine, getEngine } from './helpers';
import { fixtureFiles, type FixtureName } from './fixtures';

afterAll(destroyEngine);

/** Seeded token ids in [lo, hi). */
function ids(seed: number, n: number, lo: number, hi: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo));
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function groupsOf(gen: Generator) {
  const V = gen.model.config.vocabSize;
  const eos = gen.tokenizer.special.eos ?? 2;
  const prompt = (seed: number, n: number) => [...gen.encodePrompt('a').slice(0, 1), ...ids(seed, n, 3, V - 1)];
  return [
    // Four options of different lengths, each ending in EOS, after a long prompt.
    { prompt: prompt(1, 40), answers: [[...ids(2, 3, 3, V), eos], [...ids(3, 1, 3, V), eos], [eos], [...ids(4, 6, 3, V), eos]] },
    // One-token answers only: nothing runs in the second pass for this prompt.
    { prompt: prompt(5, 7), answers: [ids(6, 1, 3, V), ids(7, 1, 3, V), ids(8, 1, 3, V)] },
    // A single answer, and a prompt of one token.
    { prompt: prompt(9, 22), answers: [[...ids(10, 4, 3, V), eos]] },
    { prompt: prompt(11, 0), answers: [[...ids(12, 2, 3, V), eos], ids(13, 5, 3, V)] },
  ];
}

describe.each(['tiny-llama', 'tiny-qwen2'] as FixtureName[])('%s', (name) => {
  it('answers scored from their shared prompt equal each (prompt, answer) scored whole', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles(name));
    const groups = await groupsOf(gen);
    await gen.sharedPromptNll(groups.slice(0, 1)); // RoPE tables, kept by the model
    const live = e.gpu.pool.liveCount;
    const shared = await gen.sharedPromptNll(groups);
    expect(e.gpu.pool.liveCount, 'the cache and every pass are freed').toBe(live);
    let worst = 0;
    for (const [g, gr] of groups.entries()) {
      const whole = await gen.answerNll(gr.answers.map((answer) => ({ prompt: gr.prompt, answer })));
      for (const [o, a] of gr.answers.entries()) {
        expect(shared[g]![o]!.length).toBe(a.length);
        worst = Math.max(worst, maxDiff(shared[g]![o]!, whole.perToken[o]!));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    // Not a trivial equality: the answers' NLLs differ from one another.
    expect(Math.abs(shared[0]![0]![0]! - shared[0]![1]![0]!)).toBeGreaterThan(1e-3);
  });

  it('nllMany groups examples by prompt and keeps input order, within any token budget', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles(name));
    const groups = await groupsOf(gen);
    // Interleaved: examples of one prompt are not next to each other.
    const examples: AnswerExample[] = [];
    for (let o = 0; o < 4; o++)
      for (const gr of groups) if (gr.answers[o]) examples.push({ prompt: gr.prompt, answer: gr.answers[o]! });
    const whole = await nllMany(gen, examples, 4096, { sharePrompts: false });
    for (const budget of [4096, 60]) {
      const shared = await nllMany(gen, examples, budget);
      expect(maxDiff(shared.mean, whole.mean), `budget ${budget}`).toBeLessThan(1e-5);
      expect(maxDiff(shared.sum, whole.sum), `budget ${budget}`).toBeLessThan(1e-5);
      examples.forEach((x, i) => expect(shared.perToken[i]!.length).toBe(x.answer.length));
    }
  });
});
