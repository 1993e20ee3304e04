// Notebooks side by side in one browser, without a GPU step: an exported notebook imported back
// gets a title of its own beside the original, and opening one or the other from Storage keeps the
// loaded data set (nothing is unloaded) and says so under the toolbar.

import { expect, test } from '@playwright/test';
import { openDemo } from './lib';

test('an imported copy is told apart from its original; opening another notebook keeps the loaded data and says so', async ({
  page,
}, info) => {
  test.setTimeout(5 * 60_000);
  const errors = await openDemo(page, 60_000);
  const title = await page.getByLabel('Notebook title').inputValue();

  // Load the demo data set (no model needed), then export the notebook and import it back.
  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-notebook').click()]);
  const path = info.outputPath('notebook.medrank.json');
  await download.saveAs(path);
  await page.getByTestId('import-file').setInputFiles(path);
  await expect(page.getByTestId('import-message')).toContainText(`imported “${title} (imported)”`);
  await expect(page.getByLabel('Notebook title')).toHaveValue(`${title} (imported)`);
  await expect(page.getByTestId('open-message')).toContainText(
    `Still loaded in this tab, as “${title}” left them: the data set demo`,
  );
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000');

  // Storage lists both, by their own titles; opening the original keeps the data set loaded.
  const rows = page.getByTestId('storage-notebook-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: `${title} (imported) (open)` })).toHaveCount(1);
  await page.getByTestId('open-message').getByRole('button', { name: 'OK' }).click();
  await expect(page.getByTestId('open-message')).toHaveCount(0);
  await rows.filter({ hasNotText: '(imported)' }).getByRole('button', { name: 'Open' }).click();
  await expect(page.getByLabel('Notebook title')).toHaveValue(title);
  await expect(page.getByTestId('open-message')).toContainText(`as “${title} (imported)” left them: the data set demo`);
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000');
  await expect(page.getByTestId('cell-data').getByTestId('dataset-format')).toHaveValue('jsonl');
  expect(errors, 'uncaught page errors').toEqual([]);
});
