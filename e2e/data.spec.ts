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

test("the Data cell's Format menu follows the source, choices do not carry over between formats, errors name the file; steps 0 is refused at its field", async ({
  page,
}, info) => {
  test.setTimeout(5 * 60_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  const data = page.getByTestId('cell-data');
  const format = data.getByTestId('dataset-format');

  // The demo notebook's Data cell reads the built-in set, which is JSONL QA.
  await expect(format).toHaveValue('jsonl');
  await data.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(data.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });

  // A file picked for PubMedQA does not carry over to MedMCQA, nor back.
  await format.selectOption('pubmedqa');
  await data.getByTestId('dataset-file-data').setInputFiles('../shared/data/pubmedqa/ori_pqal.json');
  await format.selectOption('medmcqa');
  await expect(data.getByTestId('dataset-file-data')).toHaveValue('');
  await data.getByRole('button', { name: 'Load dataset' }).click(); // nothing chosen: nothing loads
  await format.selectOption('pubmedqa');
  await expect(data.getByTestId('dataset-file-data')).toHaveValue('');
  await expect(data.getByTestId('dataset-questions')).toHaveText('3000');

  // A typed address that is not http(s) is a field error and blocks the load.
  await data.getByTestId('dataset-url-data').fill('ftp://example.org/ori_pqal.json');
  await expect(data.getByTestId('dataset-error-data')).toHaveText(
    'expected an http(s) URL, got "ftp://example.org/ori_pqal.json"',
  );
  await expect(data.getByTestId('dataset-url-data')).toHaveAttribute('aria-invalid', 'true');
  await expect(data.getByRole('button', { name: 'Load dataset' })).toBeDisabled();
  await data.getByTestId('dataset-url-data').fill('');
  await expect(data.getByTestId('dataset-error-data')).toHaveCount(0);

  // A malformed file is refused by its own name and line; the loaded set stays.
  const bad = info.outputPath('my-medmcqa-dev.jsonl');
  writeFileSync(bad, '{"id":"a","question":"q?","opa":"1","opb":"2","opc":"3","opd":"4","cop":2}\n{not json\n');
  await format.selectOption('medmcqa');
  await data.getByTestId('dataset-file-data').setInputFiles(bad);
  await data.getByRole('button', { name: 'Load dataset' }).click();
  await expect(data.getByTestId('dataset-error')).toContainText('MedMCQA data, my-medmcqa-dev.jsonl line 2:');
  await expect(data.getByTestId('dataset-questions')).toHaveText('3000');

  // A PubMedQA file loaded: the menu shows the source's format.
  await format.selectOption('pubmedqa');
  await data.getByTestId('dataset-file-data').setInputFiles('../shared/data/pubmedqa/ori_pqal.json');
  await data.getByRole('button', { name: 'Load dataset' }).click();
  await expect(data.getByTestId('dataset-questions')).toHaveText('1000', { timeout: 60_000 });
  await expect(data.getByTestId('data-source')).toContainText('PubMedQA files ori_pqal.json');
  await expect(format).toHaveValue('pubmedqa');

  // steps 0 without the evaluation before the first step would do nothing: refused at the field.
  const train = page.getByTestId('cell-train');
  await expect(train.getByTestId('train-help-steps')).toContainText('0: no training');
  await train.getByTestId('train-field-steps').fill('0');
  const atStart = train.getByTestId('train-field-evalAtStart');
  if (await atStart.isChecked()) await atStart.uncheck();
  await expect(train.getByTestId('train-error-steps')).toContainText('0 means an evaluation only');
  await expect(train.getByTestId('train-field-steps')).toHaveAttribute('aria-invalid', 'true');
  await atStart.check();
  await expect(train.getByTestId('train-error-steps')).toHaveCount(0);
  expect(errors, 'uncaught page errors').toEqual([]);
});
