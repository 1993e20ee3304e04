// Node tools that run MedRank's kernels (benchmarks, the kernel runner) do it in the system
// Chromium, on its WebGPU adapter: Node's Dawn crashes here (docs/testing.md). This module serves
// the repo with Vite (cross-origin isolated, so onnxruntime-web's wasm gets threads), launches
// Chromium with MedRank's flags, opens one page, and forwards its console to stderr.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function startServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    root: ROOT,
    configFile: false, // independent of the app's config: these pages need no plugins
    logLevel: 'warn',
    clearScreen: false,
    // Its own cache dir, so a dev server running beside us does not see its deps re-optimised.
    cacheDir: path.join(ROOT, 'node_modules/.vite-tools'),
    // ORT finds its .wasm files via env.wasm.wasmPaths; pre-bundling would move its module.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    // A missing file is a 404, as in the app: model folders are probed for optional files.
    appType: 'mpa',
    server: {
      host: '127.0.0.1',
      port: 0, // any free port: 5173 and vitest's ports may be taken
      strictPort: true,
      hmr: false,
      watch: null,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('Vite did not report a TCP address');
  return { server, url: `http://127.0.0.1:${addr.port}` };
}

export interface Session {
  page: Page;
  browser: Browser;
  url: string;
}

/** Open `pagePath` (e.g. '/bench/index.html?bench=matmul') in headless Chromium, run fn, clean up. */
export async function withChromiumPage<T>(
  pagePath: string,
  fn: (s: Session) => Promise<T>,
  opts: { quiet?: boolean } = {},
): Promise<T> {
  const { server, url } = await startServer();
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    const page = await browser.newPage();
    if (!opts.quiet) page.on('console', (m) => log(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) log(`[page http ${r.status()}] ${r.url()}`);
    });
    await page.goto(`${url}${pagePath}`);
    return await fn({ page, browser, url });
  } finally {
    await browser?.close();
    await server.close();
  }
}

/** Serve the files of `dir` to the page at `${url}${mount}/...` (404 for anything else). */
export async function serveFolder(page: Page, url: string, mount: string, dir: string): Promise<void> {
  const { existsSync, readFileSync } = await import('node:fs');
  await page.route(`${url}${mount}/**`, async (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname.slice(mount.length + 1));
    const file = path.join(dir, rel);
    if (rel.includes('..') || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, body: readFileSync(file), headers: { 'Content-Type': 'application/octet-stream' } });
  });
}
