// Joint training in the app, end to end on the software WebGPU adapter: the demo set, the demo
// models, the index, then a two-step jmlr-code run kept tiny (1 question a step, 4 candidates,
// 2 sampled, 1 document of 32 tokens in context, 2 evaluation questions). Both steps show finite
// losses, the evaluations appear, and a value resolveConfig refuses is flagged at its field.

import { expect, test } from '@playwright/test';

test('a tiny joint training run shows its steps and evaluations; a bad value is refused at its field', async ({ page }) => {
  test.setTimeout(600_000); // SwiftShader runs at about 1 GFLOP/s
  const t0 = Date.now();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });

  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-passages')).toHaveText('480', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Load the demo models' }).click();
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-generator')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-label-retriever')).toContainText('/demo/models/retriever');

  // Run before the index exists: the worker says what to do first.
  const panel = page.getByTestId('train-panel');
  await expect(panel.getByTestId('train-form')).toHaveAttribute('data-preset', 'jmlr-code');
  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(panel.getByTestId('train-error')).toContainText('build the index', { timeout: 30_000 });

  await page.getByRole('button', { name: 'Build index' }).click();
  await expect(page.getByTestId('index-summary')).toContainText('480 passages', { timeout: 240_000 });
  const tIndex = Date.now();

  await panel.getByLabel('Preset').selectOption('jmlr-code');
  const set = async (label: string, value: string) => {
    await panel.getByLabel(label, { exact: true }).fill(value);
  };
  await set('Steps', '2');
  await set('Batch size (questions per step)', '1');
  await set('Candidates per question (K)', '4');
  await set('Documents in the generator context (m)', '1');
  await set('Tokens per document', '32');
  await set('Evaluation questions (0: all)', '2');

  // sampled (10 from the preset) > candidates (4): flagged at the field, and Run is refused.
  const sampled = panel.getByLabel('Documents sampled (n)', { exact: true });
  await expect(sampled).toHaveAttribute('aria-invalid', 'true');
  await expect(panel.getByTestId('train-error-sampled')).toContainText('cannot exceed candidates');
  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(sampled).toBeFocused();
  await expect(panel.getByTestId('train-status')).not.toHaveAttribute('data-status', 'running');
  await expect(panel.getByTestId('train-steps')).toHaveCount(0);

  await sampled.fill('2');
  await expect(sampled).toHaveAttribute('aria-invalid', 'false');
  await sampled.press('Enter'); // the form submits from the keyboard
  await expect(panel.getByTestId('train-status')).toHaveAttribute('data-status', 'running');
  await expect(panel.getByTestId('train-status')).toHaveAttribute('data-status', 'done', { timeout: 480_000 });

  await expect(panel.getByTestId('train-progress')).toContainText('2/2 steps');
  const rows = panel.getByTestId('train-step-row');
  await expect(rows).toHaveCount(2);
  for (const row of await rows.all()) {
    const cells = await row.locator('th, td').allInnerTexts();
    // step, retriever loss, generator loss, Spearman, ms: jmlr-code trains both, so both losses are numbers.
    for (const i of [0, 1, 2, 4]) expect(Number.isFinite(Number(cells[i])), `${cells.join(' | ')}`).toBe(true);
  }
  // Evaluated before the first step and after the last.
  const evals = panel.getByTestId('train-eval-row');
  await expect(evals).toHaveCount(2);
  await expect(evals.first().locator('th')).toHaveText('0');
  await expect(evals.last().locator('th')).toHaveText('2');
  // The retriever trained: the worker re-indexed the corpus with it.
  await expect(page.getByTestId('index-summary')).toContainText('480 passages');
  await page.getByLabel('search query').fill('first-line drug for the infection');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByTestId('search-hits').locator('li')).toHaveCount(5);

  await page.screenshot({ path: 'test-results/app-train.png', fullPage: true });
  console.log(
    `train.spec: ${((Date.now() - t0) / 1000).toFixed(0)} s in all, ` +
      `${((Date.now() - tIndex) / 1000).toFixed(0)} s from the built index to the end of the run`,
  );
  expect(errors, 'uncaught page errors').toEqual([]);
});
