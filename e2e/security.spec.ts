// The Content-Security-Policy (vite.config.ts, docs/security.md) against the dev server: the page
// and the engine worker's script get it as a header; eval, new Function, injected inline scripts,
// inline handlers and injected <style> are refused while WebAssembly still compiles, in the page
// and in the worker; and the app itself runs under it (engine worker up, demo data loaded, a
// retriever's tokenizer built by @huggingface/transformers in the worker) without one violation.

import { expect, test, type Page, type Worker } from '@playwright/test';

interface Violation {
  directive: string;
  blocked: string;
  sample: string;
}

declare global {
  interface Window {
    __cspViolations?: Violation[];
    __inlineRan?: number;
  }
  interface WorkerGlobalScope {
    __cspViolations?: Violation[];
  }
}

/**
 * Record securitypolicyviolation events: in the page from its first script on, in each worker from
 * when Playwright sees it start (Chromium does not put a worker's CSP reports on any console
 * Playwright listens to, so the worker's own events are the only witness).
 */
async function watchViolations(page: Page): Promise<{ page: () => Promise<Violation[]>; workers: () => Promise<Violation[]> }> {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations!.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }),
    );
  });
  const workers: Worker[] = [];
  page.on('worker', (w) => {
    workers.push(w);
    w.evaluate(() => {
      self.__cspViolations = [];
      self.addEventListener('securitypolicyviolation', (e) =>
        self.__cspViolations!.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }),
      );
    }).catch(() => {}); // a worker that already ended has nothing to report
  });
  return {
    page: () => page.evaluate(() => window.__cspViolations ?? []),
    workers: async () =>
      (await Promise.all(workers.map((w) => w.evaluate(() => self.__cspViolations ?? []).catch(() => [])))).flat(),
  };
}

const engineWorker = async (page: Page): Promise<Worker> => {
  await expect.poll(() => page.workers().some((w) => w.url().includes('engine.worker'))).toBe(true);
  return page.workers().find((w) => w.url().includes('engine.worker'))!;
};

test('the app runs under the policy: engine worker ready, demo data and a retriever loaded, no violations', async ({ page }) => {
  const violations = await watchViolations(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto('/');
  const csp = (await response!.headerValue('content-security-policy')) ?? '';
  for (const directive of [
    "default-src 'self'",
    "worker-src 'self' blob:",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ])
    expect(csp).toContain(directive);
  const scriptSrc = csp.split(';').find((d) => d.trim().startsWith('script-src')) ?? '';
  expect(scriptSrc).toContain("'wasm-unsafe-eval'");
  // Dev adds a per-start nonce for Vite's and React Refresh's inline preamble; nothing looser.
  expect(scriptSrc).not.toMatch(/'unsafe-inline'|'unsafe-eval'|\*|https?:/);
  expect(csp).toMatch(/connect-src 'self' https: /);
  expect(response!.headers()['cross-origin-embedder-policy']).toBe('require-corp');

  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  // A dedicated worker runs under the policy of its own script's response: the header must be there too.
  const worker = await engineWorker(page);
  expect((await page.request.get(worker.url())).headers()['content-security-policy']).toBe(csp);

  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });
  await expect(page.getByTestId('dataset-passages')).toHaveText('1500');
  await page.getByTestId('folder-input-retriever').setInputFiles('test/fixtures/models/tiny-colbert');
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });

  expect(await violations.page(), 'CSP violations in the page').toEqual([]);
  expect(await violations.workers(), 'CSP violations in the workers').toEqual([]);
  expect(errors, 'uncaught page errors').toEqual([]);
});

test('eval, new Function, inline scripts, inline handlers and injected styles are refused, in the page and the engine worker; WebAssembly compiles', async ({
  page,
}) => {
  const violations = await watchViolations(page);
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toBeVisible();

  const result = await page.evaluate(async () => {
    const attempt = (f: () => unknown): string => {
      try {
        return `ran: ${String(f())}`;
      } catch (e) {
        return (e as Error).name;
      }
    };
    // Playwright's evaluate runs through the DevTools protocol, which lets eval through for the
    // duration of the call; a timer callback runs as the page's own code, under its policy.
    const later = <T>(f: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(f()), 0));
    const evalResult = await later(() => attempt(() => (0, eval)('1')));
    const functionResult = await later(() => attempt(() => new Function('return 1')()));
    // A string timer is compiled when it fires; the refusal shows in inlineRan staying unset.
    (setTimeout as unknown as (code: string) => number)('window.__inlineRan = 3');

    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = 1';
    document.head.append(script);

    const holder = document.createElement('div');
    holder.innerHTML =
      '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onerror="window.__inlineRan = 2" onload="window.__inlineRan = 2">';
    document.body.append(holder);

    const style = document.createElement('style');
    style.textContent = 'body { outline: 5px solid red }';
    document.head.append(style);

    // The smallest module: "\0asm", version 1. Compiling it needs 'wasm-unsafe-eval'.
    const wasm = await later(() => WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).then(
      () => 'compiled',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    holder.remove();
    return {
      evalResult,
      functionResult,
      inlineRan: window.__inlineRan ?? null,
      styleApplied: getComputedStyle(document.body).outlineStyle === 'solid',
      wasm,
    };
  });

  expect(result).toEqual({
    evalResult: 'EvalError',
    functionResult: 'EvalError',
    inlineRan: null,
    styleApplied: false,
    wasm: 'compiled',
  });
  const directives = (await violations.page()).map((v) => v.directive);
  expect(directives).toEqual(expect.arrayContaining(['script-src', 'script-src-elem', 'script-src-attr', 'style-src-elem']));

  // The engine worker gets its policy from its own script's response (checked in the test above).
  const worker = await engineWorker(page);
  const inWorker = await worker.evaluate(async () => {
    const later = <T>(f: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(f()), 0));
    const evalResult = await later(() => {
      try {
        return `ran: ${String((0, eval)('1'))}`;
      } catch (e) {
        return (e as Error).name;
      }
    });
    const wasm = await later(() => WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).then(
      () => 'compiled',
      (e: Error) => e.message,
    );
    return { evalResult, wasm };
  });
  expect(inWorker).toEqual({ evalResult: 'EvalError', wasm: 'compiled' });
  await expect.poll(async () => (await violations.workers()).map((v) => v.directive)).toContain('script-src');
});
