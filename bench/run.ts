// Bench driver: `tsx bench/run.ts NAME [--json]`. Serves the repo with Vite (cross-origin
// isolated, so onnxruntime-web's wasm gets threads), opens bench/index.html?bench=NAME in the
// system Chromium, waits for the page's result, prints it and writes bench/results/NAME-DATE.json.
// Only the JSON goes to stdout with --json; progress and page logs go to stderr.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/gpu/chromium';
import type { PageResult } from './page';

const BENCHES = ['matmul']; // each has bench/NAME.ts registered in bench/page.ts
const PAGE_TIMEOUT_MS = 15 * 60_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const err = (msg: string) => process.stderr.write(`${msg}\n`);

async function startServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    root,
    configFile: false, // independent of the app's config; the bench page needs no plugins
    logLevel: 'warn',
    clearScreen: false,
    // Its own cache dir, so a dev server running beside us does not see its deps re-optimised.
    cacheDir: path.join(root, 'node_modules/.vite-bench'),
    // ORT finds its .wasm files via env.wasm.wasmPaths; pre-bundling would move its module.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    server: {
      host: '127.0.0.1',
      port: 0, // any free port: 5173 and vitest's ports may be taken
      strictPort: true,
      hmr: false,
      watch: null,
      headers: {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      },
    },
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('Vite did not report a TCP address');
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

function table(r: PageResult & { browser: string }): string {
  const lines = [
    `${r.bench} on ${r.adapter.vendor}/${r.adapter.architecture}${r.adapter.description ? ` (${r.adapter.description})` : ''}, Chromium ${r.browser}`,
    `${'size'.padStart(6)}  ${'impl'.padEnd(11)} ${'GFLOP/s'.padStart(9)} ${'ms'.padStart(10)} ${'iters'.padStart(5)}  maxAbsDiff`,
  ];
  for (const row of r.rows)
    lines.push(
      `${String(row.size).padStart(6)}  ${row.impl.padEnd(11)} ${row.gflops.toFixed(3).padStart(9)} ${row.ms.toFixed(1).padStart(10)} ${String(row.iterations).padStart(5)}  ${row.maxAbsDiff.toExponential(2)}`,
    );
  for (const note of r.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const name = args.find((a) => !a.startsWith('-'));
  if (!name || !BENCHES.includes(name)) {
    err(`usage: npm run bench -- <${BENCHES.join('|')}> [--json]`);
    process.exit(2);
  }

  const { server, url } = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => err(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => err(`[page error] ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) err(`[page http ${r.status()}] ${r.url()}`);
    });
    err(`bench ${name}: ${url}/bench/index.html?bench=${name}`);
    await page.goto(`${url}/bench/index.html?bench=${name}`);
    await page.waitForFunction(() => window.__benchResult !== undefined, null, { timeout: 60_000 });
    const result = await Promise.race([
      page.evaluate(() => window.__benchResult!),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`bench ${name} took over ${PAGE_TIMEOUT_MS / 60_000} min`)), PAGE_TIMEOUT_MS).unref(),
      ),
    ]);
    const date = new Date().toISOString();
    const { bench, adapter, ...rest } = result; // key order: the fields a reader looks for first
    const out = { bench, adapter, browser: browser.version(), date, ...rest };
    const file = path.join(root, 'bench/results', `${name}-${date.slice(0, 10)}.json`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
    err(`wrote ${path.relative(root, file)}`);
    process.stdout.write(json ? `${JSON.stringify(out, null, 2)}\n` : `${table(out)}\n`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  err(String(e?.stack ?? e));
  process.exit(1);
});
