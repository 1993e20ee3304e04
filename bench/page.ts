// Bench page entry: picks the bench module named by ?bench=NAME, runs it, and exposes the
// result as a promise on window.__benchResult for bench/run.ts (Playwright) to await.
// A new bench is one more entry in BENCHES and a module exporting run(): Promise<BenchResult>.

/** One measurement. Each bench adds its own fields (size, gflops, N, docsPerSec, T, ...). */
export interface BenchRow {
  op: string;
  impl: string;
  /** Mean time of one timed iteration; absent on a row that records an error. */
  ms?: number;
  iterations?: number;
  /** Set instead of the timings when an implementation failed at this size. */
  error?: string;
  [field: string]: string | number | undefined;
}

/** What a page module returns; run.ts adds browser and date. */
export interface PageResult {
  bench: string;
  adapter: { vendor: string; architecture: string; description: string };
  crossOriginIsolated: boolean;
  notes: string[];
  rows: BenchRow[];
}

/**
 * A bench module. `input` resolves to what bench/run.ts hands the page for benches that need data
 * from Node (INPUTS there); the others ignore it.
 */
type BenchModule = { run(input?: Promise<unknown>): Promise<PageResult> };

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  eval: () => import('./eval'),
  index: () => import('./index-bench'),
  'index-scale': () => import('./index-scale'),
  matmul: () => import('./matmul'),
  maxsim: () => import('./maxsim'),
  models: () => import('./models'),
  peers: () => import('./peers'),
  'real-shapes': () => import('./real-shapes'),
  s2attn: () => import('./s2attn'),
  step: () => import('./step'),
};

declare global {
  interface Window {
    __benchResult?: Promise<PageResult>;
    /** Set by the page; bench/run.ts calls it with the bench's input (only for benches in its INPUTS). */
    __benchInput?: (input: unknown) => void;
  }
}

async function main(): Promise<PageResult> {
  const name = new URLSearchParams(location.search).get('bench') ?? '';
  const load = BENCHES[name];
  if (!load) throw new Error(`unknown bench "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
  const input = new Promise<unknown>((resolve) => {
    window.__benchInput = resolve;
  });
  const result = await (await load()).run(input);
  document.getElementById('out')!.textContent = JSON.stringify(result, null, 2);
  return result;
}

window.__benchResult = main();
// Keep the rejection for the driver, but do not let it surface as an unhandled rejection.
window.__benchResult.catch((e) => {
  document.getElementById('out')!.textContent = String(e?.stack ?? e);
});
