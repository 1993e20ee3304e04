// Data and index in the app: the built-in demo set, a real dataset file from disk, a malformed
// file refused with its line (keeping the loaded set), then an index built with the tiny ColBERT
// fixture, searched, and after a reload loaded from the browser instead of re-encoded.

import { writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

test('datasets load, bad files are refused, and the index is built, searched and kept across a reload', async ({
  page,
}, info) => {
  test.setTimeout(15 * 60_000); // indexing the 1,500 demo passages on SwiftShader takes minutes
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });

  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });
  await expect(page.getByTestId('dataset-passages')).toHaveText('1500');

  // A real file from disk, streamed in the worker.
  await page.getByLabel('dataset format').selectOption('pubmedqa');
  await page.getByTestId('dataset-file-data').setInputFiles('../shared/data/pubmedqa/ori_pqal.json');
  await page.getByRole('button', { name: 'Load dataset' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('1000', { timeout: 60_000 });
  await expect(page.getByTestId('dataset-passages')).toHaveText('3358');

  // A malformed MedMCQA file: refused with its line; the PubMedQA set stays loaded.
  const bad = info.outputPath('bad.jsonl');
  writeFileSync(bad, '{"id":"a","question":"q?","opa":"1","opb":"2","opc":"3","opd":"4","cop":2}\n{not json\n');
  await page.getByLabel('dataset format').selectOption('medmcqa');
  await page.getByTestId('dataset-file-data').setInputFiles(bad);
  await page.getByRole('button', { name: 'Load dataset' }).click();
  await expect(page.getByTestId('dataset-error')).toContainText('line 2');
  await expect(page.getByTestId('dataset-questions')).toHaveText('1000');

  // Index the demo set with the tiny retriever, search it.
  await page.getByTestId('folder-input-retriever').setInputFiles('test/fixtures/models/tiny-colbert');
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-passages')).toHaveText('1500', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Build index' }).click();
  await expect(page.getByTestId('index-summary')).toHaveAttribute('data-from-cache', 'false', { timeout: 600_000 });
  await expect(page.getByTestId('index-summary')).toContainText('1500 passages');
  await page.getByLabel('search query').fill('first-line drug for the infection');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByTestId('search-hits').locator('li')).toHaveCount(5);
  await page.screenshot({ path: 'test-results/app-data.png', fullPage: true });

  // After a reload the same retriever and corpus find the saved index.
  await page.reload();
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await page.getByTestId('folder-input-retriever').setInputFiles('test/fixtures/models/tiny-colbert');
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-passages')).toHaveText('1500', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Build index' }).click();
  await expect(page.getByTestId('index-summary')).toHaveAttribute('data-from-cache', 'true', { timeout: 60_000 });
  expect(errors, 'uncaught page errors').toEqual([]);
});
