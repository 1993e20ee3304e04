// The retrieval index survives a real page reload: the first visit encodes the corpus and saves
// it to IndexedDB; after page.reload() the same index loads without a single encoder forward and
// gives the same vectors and the same search results.

import { expect, test } from '@playwright/test';
import type { ProbeResult } from './pages/index-reload';

test('a reload loads the index from IndexedDB instead of re-encoding', async ({ page }) => {
  await page.goto('/e2e/pages/index-reload.html');
  await page.waitForFunction(() => window.__openDemoIndex !== undefined);
  const first = (await page.evaluate(() => window.__openDemoIndex!(40))) as ProbeResult;
  expect(first.fromCache).toBe(false);
  expect(first.encoderForwards).toBe(Math.ceil(40 / 16)); // one per batch of 16 passages
  expect(first.docs).toBe(40);

  await page.reload();
  await page.waitForFunction(() => window.__openDemoIndex !== undefined);
  const second = (await page.evaluate(() => window.__openDemoIndex!(40))) as ProbeResult;
  expect(second.fromCache).toBe(true);
  expect(second.encoderForwards).toBe(0);
  expect(second).toMatchObject({ docs: first.docs, tokens: first.tokens, checksum: first.checksum, top: first.top });

  // A different corpus (more passages) is a different key: encoded again.
  const third = (await page.evaluate(() => window.__openDemoIndex!(48))) as ProbeResult;
  expect(third.fromCache).toBe(false);
});
