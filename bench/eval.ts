// Eval bench page: what an Evaluate cell costs on the built-in demo (the demo generator and
// retriever served under /demo/models, the demo corpus and validation questions, the Evaluate
// cell's defaults: topM 5, documents cut to fit, 10 alignment candidates), per evaluated
// question, with each question's options scored from one pass over their shared prompt
// ("prefix": nllMany groups by prompt, Generator.sharedPromptNll) and each (prompt, option)
// scored whole ("whole", as before). Both evaluate the same questions on the same index; the
// same examples are then scored both ways to give maxNllDiff. BENCH_EVAL_Q overrides the count.

import { parseJsonlQA } from '../src/data/datasets';
import { acquireGpu, GpuStats } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { loadGenerator, loadRetriever } from '../src/models/load';
import { urlFiles } from '../src/models/sources';
import { buildIndex, searchIndex } from '../src/retrieval/index';
import { Engine } from '../src/tensor/tensor';
import { DEFAULT_CONFIG } from '../src/training/config';
import { planEvaluation } from '../src/training/eval-request';
import { chunkExamples, EVAL_CHUNK, evaluate, type EvalResult } from '../src/training/evaluate';
import { nllMany, PromptBuilder } from '../src/training/prompts';
import { adapterOf, round } from './common';
import type { BenchRow, PageResult } from './page';

const log = (msg: string) => console.log(`[bench eval] ${msg}`);

export async function run(input?: Promise<unknown>): Promise<PageResult> {
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  const origin = location.origin;
  const retriever = await loadRetriever(e, urlFiles(`${origin}/demo/models/retriever`));
  const generator = await loadGenerator(e, urlFiles(`${origin}/demo/models/generator`));
  const text = async (f: string) => (await fetch(`${origin}/demo/${f}`)).text();
  const data = parseJsonlQA({ questions: await text('questions.jsonl'), corpus: await text('corpus.jsonl') });
  const limit = ((await input) as { questions?: number } | undefined)?.questions ?? 32;
  const plan = planEvaluation(
    { split: 'validation', limit },
    { name: 'demo', questions: data.questions },
    generator.model.config.maxPositions,
  );
  log(`index of ${data.passages.length} passages`);
  const index = await buildIndex(retriever, data.passages);
  const prompts = new PromptBuilder(generator, new Map(data.passages.map((p) => [p.id, p])), plan.docMaxTokens);
  const opts = { topM: plan.topM, alignmentCandidates: plan.alignmentCandidates };

  // Warm-up: pipelines and RoPE tables for both paths, on two questions.
  for (const sharePrompts of [true, false])
    await evaluate(retriever, index, prompts, plan.questions.slice(0, 2), { ...opts, sharePrompts });

  const rows: BenchRow[] = [];
  const results: Record<string, EvalResult> = {};
  for (const [impl, sharePrompts] of [
    ['prefix', true],
    ['whole', false],
  ] as const) {
    log(`${impl}: ${plan.questions.length} questions`);
    const t0 = performance.now();
    const r = await evaluate(retriever, index, prompts, plan.questions, { ...opts, sharePrompts });
    const ms = performance.now() - t0;
    results[impl] = r;
    rows.push({
      op: 'evaluate',
      impl,
      questions: plan.questions.length,
      msPerQuestion: round(ms / plan.questions.length, 1),
      ms: round(ms, 0),
    });
  }

  // The same examples (the first chunk's) scored both ways.
  const found = await searchIndex(
    index,
    retriever,
    plan.questions.map((q) => q.question),
    Math.max(plan.topM, plan.alignmentCandidates, 10),
  );
  const { examples } = chunkExamples(prompts, plan.questions, 0, EVAL_CHUNK, found, opts);
  // Scored both ways, with what each asks of the GPU (Gpu.stats): the profile of one chunk.
  const profile = async (sharePrompts: boolean) => {
    const before = gpu.stats.snapshot();
    const t0 = performance.now();
    const r = await nllMany(generator, examples, undefined, { sharePrompts });
    const ms = performance.now() - t0;
    const d = GpuStats.diff(gpu.stats.snapshot(), before);
    // GPU time by kernel, where the adapter has timestamps (a separate run: timing adds a pass per dispatch).
    if (gpu.timer) {
      gpu.timer.enabled = true;
      await nllMany(generator, examples, undefined, { sharePrompts });
      gpu.timer.enabled = false;
      const byKernel = new Map<string, number>();
      for (const [label, v] of Object.entries(await gpu.timer.collect())) {
        const k = label.split(' ')[0]!;
        byKernel.set(k, (byKernel.get(k) ?? 0) + v.ms);
      }
      const total = [...byKernel.values()].reduce((x, y) => x + y, 0);
      notes.push(
        `GPU ms by kernel, ${sharePrompts ? 'prefix' : 'whole'} (timestamps, total ${round(total, 0)}): ` +
          [...byKernel]
            .sort((x, y) => y[1] - x[1])
            .slice(0, 8)
            .map(([k, v]) => `${k} ${round(v, 0)}`)
            .join(', '),
      );
    }
    const top = Object.entries(d.byKernel)
      .sort((x, y) => y[1].workgroups - x[1].workgroups)
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v.dispatches}/${v.workgroups}`)
      .join(', ');
    notes.push(
      `First chunk's ${examples.length} examples, ${sharePrompts ? 'prefix' : 'whole'}: ${round(ms, 0)} ms, ${d.dispatches} dispatches, ` +
        `${d.workgroups} workgroups, ${d.readbacks} readbacks; most workgroups (kernel dispatches/workgroups): ${top}.`,
    );
    return r;
  };
  const notes: string[] = [];
  const a = await profile(true);
  const b = await profile(false);
  let maxNllDiff = 0;
  examples.forEach((_, i) =>
    a.perToken[i]!.forEach((v, j) => (maxNllDiff = Math.max(maxNllDiff, Math.abs(v - b.perToken[i]![j]!)))),
  );
  for (const row of rows) row.maxNllDiff = maxNllDiff;
  const tokens = (share: boolean) => {
    if (!share) return examples.reduce((n, x) => n + x.prompt.length + x.answer.length, 0);
    const seen = new Set<string>();
    let n = 0;
    for (const x of examples) {
      const key = x.prompt.join(',');
      if (!seen.has(key)) n += x.prompt.length;
      seen.add(key);
      n += x.answer.length;
    }
    return n;
  };
  const [p, w] = [results.prefix!, results.whole!];
  const same = JSON.stringify({ ...p, ms: 0 }) === JSON.stringify({ ...w, ms: 0 });
  return {
    bench: 'eval',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      `Demo models and corpus (${data.passages.length} passages), the first ${plan.questions.length} validation questions (yes/no/maybe: 3 options each), ` +
        `topM ${plan.topM}, docMaxTokens ${plan.docMaxTokens}, ${plan.alignmentCandidates} alignment candidates (the Evaluate cell's defaults; DEFAULT_CONFIG.topM = ${DEFAULT_CONFIG.topM}), chunks of ${EVAL_CHUNK} questions.`,
      `Per question: 3 conditions x 3 options (share a prompt each) + ${plan.alignmentCandidates} alignment examples (one answer per prompt: these gain nothing). ` +
        `Tokens the generator runs on the first chunk: ${tokens(false)} whole, ${tokens(true)} with shared prompts (x${round(tokens(false) / tokens(true), 2)}).`,
      `Evaluation results ${same ? 'identical' : 'DIFFER'} between the two (accuracy, recall, MRR, alignment); maxNllDiff over every answer token of the first chunk.`,
      ...notes,
    ],
    rows,
  };
}
