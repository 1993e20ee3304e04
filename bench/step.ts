// Step bench page: one joint training step of the built-in demo, as the app's demo notebook runs
// it: the demo set (public/demo corpus + questions, its train split), the demo models
// (public/demo/models), the index built with the retriever's initial weights, and the demo Train
// cell's config (jmlr-code with the cell's overrides, resolved by runConfigOf as the app does).
// One untimed warm-up step (pipeline compilation), then timed steps; per step the wall time of
// Trainer.step, the record's own phase times, and what the device was asked to do (Gpu.stats:
// dispatches, workgroups, submits, readbacks, uploads, syncs), per phase and per kernel.
// The step records' losses, scores and utilities are in the result too, so two runs (before and
// after a change to the step) can be checked for the same records.

import type { TrainCell } from '../src/notebook/schema';
import { parseJsonlQA } from '../src/data/datasets';
import { acquireGpu, GpuStats, type GpuStatsSnapshot } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { loadColbert, loadGenerator } from '../src/models/load';
import { urlFiles } from '../src/models/sources';
import { demoNotebook } from '../src/notebook/demo';
import { buildIndex } from '../src/retrieval/index';
import { runConfigOf } from '../src/store/presets';
import { splitOf } from '../src/training/run';
import { Trainer, type StepRecord } from '../src/training/step';
import { Engine } from '../src/tensor';
import { adapterOf, round } from './common';
import type { BenchRow, PageResult } from './page';

const log = (msg: string) => console.log(`[bench step] ${msg}`);

/** Timed steps after the warm-up (?steps=N overrides). */
const TIMED_STEPS = Number(new URLSearchParams(location.search).get('steps') ?? 4);

type Stats = Omit<GpuStatsSnapshot, 'byKernel'>;
const COUNTS: (keyof Stats)[] = ['dispatches', 'workgroups', 'submits', 'readbacks', 'readBytes', 'writes', 'syncs'];

function counts(s: GpuStatsSnapshot): Stats {
  return Object.fromEntries(COUNTS.map((k) => [k, s[k]])) as Stats;
}

function meanOf<T extends Record<string, number>>(xs: T[]): T {
  const out: Record<string, number> = {};
  for (const x of xs) for (const [k, v] of Object.entries(x)) out[k] = (out[k] ?? 0) + v / xs.length;
  for (const k of Object.keys(out)) out[k] = round(out[k]!, 1);
  return out as T;
}

/** What a record says that a faster step must keep: losses, every candidate's score and utility. */
function fingerprint(r: StepRecord) {
  return {
    step: r.step,
    loss: r.loss,
    scores: r.questions.map((q) => q.candidates.map((c) => c.score)),
    scoresAfter: r.questions.map((q) => q.candidates.map((c) => c.scoreAfter)),
    utility: r.questions.map((q) => q.candidates.map((c) => c.utility)),
    nllNoDoc: r.questions.map((q) => q.nllNoDoc ?? null),
  };
}

export async function run(): Promise<PageResult> {
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  const origin = location.origin;
  const text = async (f: string) => (await fetch(`${origin}/demo/${f}`)).text();
  const [corpus, questions] = await Promise.all([text('corpus.jsonl'), text('questions.jsonl')]);
  const ds = parseJsonlQA({ corpus, questions });
  const cell = demoNotebook().cells.find((c): c is TrainCell => c.kind === 'train');
  if (!cell) throw new Error('the demo notebook has no Train cell');
  const config = await runConfigOf(cell);
  const models = (role: string) => urlFiles(`${origin}/demo/models/${role}`, { cache: false });
  const retriever = await loadColbert(e, models('retriever'));
  const generator = await loadGenerator(e, models('generator'));
  const params =
    [retriever.encoder.weights, generator.model.weights]
      .flatMap((w) => w.names().map((n) => w.get(n).size))
      .reduce((a, n) => a + n, 0) + retriever.projection.size;
  let t0 = performance.now();
  const index = await buildIndex(retriever, ds.passages, { batchSize: 32 });
  const indexMs = performance.now() - t0;
  log(`index of ${ds.passages.length} passages in ${(indexMs / 1000).toFixed(1)} s`);
  const train = ds.questions.filter((q) => splitOf(q, config.seed) === 'train');
  const trainer = new Trainer({ retriever, generator, passages: ds.passages, train, index }, config);

  // Per step: wall time, phase times, device counts over the step, per phase (sync point) and per kernel.
  const steps: {
    wallMs: number;
    ms: Record<string, number>;
    stats: GpuStatsSnapshot;
    byLap: Record<string, Stats>;
    record: ReturnType<typeof fingerprint>;
  }[] = [];
  for (let s = 0; s <= TIMED_STEPS; s++) {
    const byLap: Record<string, Stats> = {};
    const start = gpu.stats.snapshot();
    let last = start;
    trainer.onLap = (what) => {
      const now = gpu.stats.snapshot();
      byLap[what] = counts(GpuStats.diff(now, last));
      last = now;
    };
    t0 = performance.now();
    const r = await trainer.step();
    const wallMs = performance.now() - t0;
    byLap.record = counts(GpuStats.diff(gpu.stats.snapshot(), last));
    steps.push({ wallMs, ms: r.ms, stats: GpuStats.diff(gpu.stats.snapshot(), start), byLap, record: fingerprint(r) });
    log(`step ${r.step}${s === 0 ? ' (warm-up)' : ''}: ${wallMs.toFixed(0)} ms, ${steps.at(-1)!.stats.dispatches} dispatches`);
  }
  trainer.onLap = null;

  // One more step with timestamp queries on (where the adapter has them): GPU time per kernel. Each
  // timed dispatch gets a compute pass of its own, so this step is slower and not among the timed.
  let kernelMs: Record<string, { ms: number; count: number }> | null = null;
  let profiledWallMs: number | null = null;
  if (gpu.timer) {
    await gpu.timer.collect();
    gpu.timer.enabled = true;
    t0 = performance.now();
    await trainer.step();
    profiledWallMs = round(performance.now() - t0, 1);
    gpu.timer.enabled = false;
    await gpu.sync();
    const k = await gpu.timer.collect();
    kernelMs = Object.fromEntries(
      Object.entries(k)
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([n, v]) => [n, { ms: round(v.ms, 1), count: v.count }]),
    );
  }

  const timed = steps.slice(1);
  const msPerStep = round(timed.reduce((a, x) => a + x.wallMs, 0) / timed.length, 1);
  const phases = meanOf(timed.map((x) => x.ms));
  const perStep = meanOf(timed.map((x) => counts(x.stats)));
  const laps = [...new Set(timed.flatMap((x) => Object.keys(x.byLap)))];
  const byPhase = Object.fromEntries(
    laps.map((l) => [l, meanOf(timed.map((x) => x.byLap[l] ?? counts(GpuStats.diff(x.stats, x.stats))))]),
  );
  const kernels = [...new Set(timed.flatMap((x) => Object.keys(x.stats.byKernel)))];
  const byKernel = Object.fromEntries(
    kernels
      .map((k) => [k, meanOf(timed.map((x) => ({ ...(x.stats.byKernel[k] ?? { dispatches: 0, workgroups: 0 }) })))] as const)
      .sort((a, b) => b[1].dispatches - a[1].dispatches),
  );
  const impl = new URLSearchParams(location.search).get('impl') ?? 'medrank';
  const row: BenchRow = {
    op: 'jmlr-step',
    impl,
    ms: msPerStep,
    iterations: timed.length,
    msPerStep,
    firstStepMs: round(steps[0]!.wallMs, 1),
    dispatchesPerStep: perStep.dispatches,
    workgroupsPerStep: perStep.workgroups,
    submitsPerStep: perStep.submits,
    readbacksPerStep: perStep.readbacks,
    writesPerStep: perStep.writes,
    syncsPerStep: perStep.syncs,
  };
  const { name: _name, ...knobs } = config;
  void _name;
  return {
    bench: 'step',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      `The demo notebook's Train cell (${cell.preset} + its overrides, runConfigOf as the app runs it) on the demo set ` +
        `(${ds.passages.length} passages, ${train.length} training questions) and the demo models (${params} parameters). ` +
        `One untimed warm-up step, then ${timed.length} timed; msPerStep is the mean wall time of Trainer.step (with the ` +
        'untimed baselines and scoresAfter between phases); phases are the records\u2019 own ms, averaged. Counts are Gpu.stats per step.',
      `Index build before step 0: ${round(indexMs / 1000, 1)} s.`,
    ],
    rows: [row],
    // Extra fields (not rows): the bench's own shape, `npm run -s bench -- step --json` prints them.
    ...({
      config: knobs,
      msPerStep,
      phases,
      dispatchesPerStep: perStep.dispatches,
      perStep,
      byPhase,
      byKernel,
      hasTimestamps: gpu.info.hasTimestamps,
      profiledWallMs,
      kernelMs,
      steps: steps.map((x) => ({ wallMs: round(x.wallMs, 1), ms: x.ms, dispatches: x.stats.dispatches, record: x.record })),
    } as object),
  };
}
