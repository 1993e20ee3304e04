// Bench driver: `tsx bench/run.ts NAME [--json]`. Serves the repo with Vite (cross-origin
// isolated, so onnxruntime-web's wasm gets threads), opens bench/index.html?bench=NAME in the
// system Chromium, waits for the page's result, prints it and writes bench/results/NAME-DATE.json.
// Only the JSON goes to stdout with --json; progress and page logs go to stderr.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log as err, ROOT as root, withChromiumPage } from '../scripts/lib/browser-session';
import type { PageResult } from './page';

const BENCHES = ['matmul', 'maxsim', 'models', 's2attn']; // each has bench/NAME.ts registered in bench/page.ts
const PAGE_TIMEOUT_MS = 15 * 60_000;

/** A plain-text table: one column per row field (in first-seen order), then the notes. */
function table(r: PageResult & { browser: string }): string {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))].filter((c) => c !== 'op' && c !== 'error');
  const cell = (v: string | number | undefined, c: string): string => {
    if (v === undefined) return '';
    if (typeof v === 'string') return v;
    if (c === 'maxAbsDiff') return v.toExponential(2);
    return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
  };
  const cells = r.rows.map((row) => cols.map((c) => cell(row[c], c)));
  const widths = cols.map((c, k) => Math.max(c.length, ...cells.map((line) => line[k]!.length)));
  const fmt = (line: string[]) =>
    line.map((s, k) => (k === cols.indexOf('impl') ? s.padEnd(widths[k]!) : s.padStart(widths[k]!))).join('  ');
  const lines = [
    `${r.bench} on ${r.adapter.vendor}/${r.adapter.architecture}${r.adapter.description ? ` (${r.adapter.description})` : ''}, Chromium ${r.browser}`,
    fmt(cols),
  ];
  r.rows.forEach((row, k) => lines.push(fmt(cells[k]!) + (row.error ? `  error: ${row.error}` : '')));
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

  err(`bench ${name}: /bench/index.html?bench=${name}`);
  await withChromiumPage(`/bench/index.html?bench=${name}`, async ({ page, browser }) => {
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
  });
}

main().catch((e) => {
  err(String(e?.stack ?? e));
  process.exit(1);
});
