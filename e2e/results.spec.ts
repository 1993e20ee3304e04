// Runs from elsewhere in the notebook, in headless Chromium: the PyTorch twin's results.json
// (test/fixtures/results/) imported on the Train cell and listed with where it trained, a malformed
// file refused with its path, the inspector on a run whose ids the loaded demo set does not have
// (it says so), the run in Compare beside another imported from the Compare cell, and both back
// after a reload. No training: nothing here needs the models.

import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const TWIN = 'test/fixtures/results/twin-tiny-jmlr.json';
const BROWSER = 'test/fixtures/results/demo-jmlr-2steps.json';

test('results files import as runs: origin listed, bad files refused, inspector and compare on them, kept across a reload', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  const train = page.getByTestId('cell-train');

  // A malformed file first: refused with the path of its problem, no run added.
  const bad = readFileSync(TWIN, 'utf8').replace('"generator": 5.762748718261719', '"generator": NaN');
  await train
    .getByTestId('import-results-file')
    .setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(bad) });
  await expect(train.getByTestId('import-results-error')).toContainText(
    'bad.json: steps[0].loss.generator: expected a finite number, got NaN',
  );
  await expect(train.getByTestId('train-run-row')).toHaveCount(0);

  await train.getByTestId('import-results-file').setInputFiles(TWIN);
  await expect(train.getByTestId('import-results-message')).toContainText('imported “tiny-jmlr (pytorch/cpu)”');
  const row = train.getByTestId('train-run-row');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-imported', 'pytorch/cpu');
  await expect(row.getByTestId('train-run-origin')).toHaveText('imported: pytorch/cpu');
  await expect(train.getByTestId('run-charts')).toHaveAttribute('data-steps', '2');

  // The demo set is loaded, but the twin ran on the tiny fixtures: the inspector says so and shows the run's numbers.
  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });
  const inspect = page.getByTestId('cell-inspect');
  await expect(inspect.getByTestId('inspector-row')).toHaveCount(4);
  await expect(inspect.getByTestId('inspect-corpus-gap')).toContainText('The loaded dataset has neither the question q');
  await expect(inspect.getByTestId('step-explainer')).toBeVisible();
  await inspect.getByTestId('inspector-row').first().getByRole('button').click();
  await expect(inspect.getByTestId('maxsim-missing')).toContainText('is not in the loaded dataset');

  // From the Compare cell: a second run, added to the comparison, beside the first.
  const compare = page.getByTestId('cell-compare');
  await compare.getByTestId('import-results-file').setInputFiles(BROWSER);
  await expect(compare.getByTestId('import-results-message')).toContainText('imported “demo-jmlr (google/swiftshader)”');
  await compare.getByRole('checkbox', { name: /tiny-jmlr/ }).check();
  const table = compare.getByTestId('compare-table');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  await expect(table).toContainText('imported: pytorch/cpu');
  await expect(table).toContainText('imported: google/swiftshader');

  await page.reload();
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  await expect(page.getByTestId('cell-train').getByTestId('train-run-row')).toHaveCount(2);
  await expect(page.getByTestId('cell-compare').getByTestId('compare-table').locator('tbody tr')).toHaveCount(2);
  expect(errors, 'uncaught page errors').toEqual([]);
});
