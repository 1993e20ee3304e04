// Runs from elsewhere in the notebook, in headless Chromium: the PyTorch twin's results.json
// (test/fixtures/results/) imported on the Train cell and listed with where it trained, a malformed
// file refused with its path, the inspector on a run whose ids the loaded demo set does not have
// (it says so), the run in Compare beside another imported from the Compare cell, and both back
// after a reload. First, the recorded runs the demo notebook opens with (public/demo/runs): listed,
// in Compare, and in Inspect's held-out view, number for number with the file. No training:
// nothing here needs the models.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { heldOutClimbs, heldOutHistory } from '../src/components/runView';
import { parseResultsFile } from '../src/notebook/file';

const TWIN = 'test/fixtures/results/twin-tiny-jmlr.json';
const BROWSER = 'test/fixtures/results/demo-jmlr-2steps.json';
/** The demo notebook's recorded runs (JMLR, frozen RAG). */
const RECORDED = 2;

test('results files import as runs: origin listed, bad files refused, inspector and compare on them, kept across a reload', async ({
  page,
}, info) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  const train = page.getByTestId('cell-train');

  // The recorded runs: listed as imported from the twin, compared, and the held-out view on the
  // JMLR one shows the Note's first question climbing as the file says.
  await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED);
  await expect(train.getByTestId('train-run-row').first()).toContainText('recorded: JMLR LLM-Rank');
  await expect(train.getByTestId('train-run-row').first()).toHaveAttribute('data-imported', 'pytorch/cpu');
  await expect(page.getByTestId('cell-compare').getByTestId('compare-table').locator('tbody tr')).toHaveCount(RECORDED);
  await expect(page.getByTestId('cell-markdown').nth(1)).toContainText('demo-q0460');
  const jmlr = parseResultsFile(readFileSync('public/demo/runs/jmlr-llm-rank-s0.json', 'utf8'));
  const heldOut = page.getByTestId('cell-inspect').getByTestId('held-out');
  await expect(heldOut.getByTestId('held-out-climbs')).toHaveText(String(heldOutClimbs(jmlr.evals, 1).length));
  await expect(heldOut.getByTestId('held-out-falls')).toHaveText(String(heldOutClimbs(jmlr.evals, 1, { falls: true }).length));
  await heldOut.getByTestId('held-out-question').selectOption('demo-q0460');
  const history = heldOutHistory(jmlr.evals, 'demo-q0460');
  expect(history.map((h) => h.rank)).toContain(1);
  await expect(heldOut.getByTestId('held-out-row').locator('[data-col=rank]')).toHaveText(
    history.map((h) => (h.rank === null ? 'below 10' : String(h.rank))),
  );
  await expect(heldOut.getByTestId('held-out-row').last().locator('[data-col=retrieved]')).toHaveText('✓ right');
  // A picture of the view for the test's output (and the README's, with MEDRANK_SCREENSHOTS=docs/screenshots).
  for (const dir of [info.outputPath(), process.env.MEDRANK_SCREENSHOTS].filter((d): d is string => Boolean(d))) {
    mkdirSync(dir, { recursive: true });
    await heldOut.screenshot({ path: join(dir, 'held-out.png') });
  }

  // A malformed file first: refused with the path of its problem, no run added.
  const bad = readFileSync(TWIN, 'utf8').replace('"generator": 5.762748718261719', '"generator": NaN');
  await train
    .getByTestId('import-results-file')
    .setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(bad) });
  await expect(train.getByTestId('import-results-error')).toContainText(
    'bad.json: steps[0].loss.generator: expected a finite number, got NaN',
  );
  await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED);

  await train.getByTestId('import-results-file').setInputFiles(TWIN);
  await expect(train.getByTestId('import-results-message')).toContainText('imported “tiny-jmlr (pytorch/cpu)”');
  await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED + 1);
  const row = train.getByTestId('train-run-row').nth(RECORDED);
  await expect(row).toHaveAttribute('data-imported', 'pytorch/cpu');
  await expect(row.getByTestId('train-run-origin')).toHaveText('imported: pytorch/cpu');
  await expect(train.getByTestId('run-charts')).toHaveAttribute('data-steps', '2');

  // The demo set is loaded, but the twin ran on the tiny fixtures: the inspector says so and shows the run's numbers.
  await page.getByRole('button', { name: 'Load the built-in demo set' }).click();
  await expect(page.getByTestId('dataset-questions')).toHaveText('3000', { timeout: 30_000 });
  const inspect = page.getByTestId('cell-inspect');
  await inspect.getByTestId('inspect-run').selectOption((await row.getAttribute('data-run-id'))!);
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
  await expect(table.locator('tbody tr')).toHaveCount(RECORDED + 2);
  await expect(table).toContainText('imported: pytorch/cpu');
  await expect(table).toContainText('imported: google/swiftshader');

  await page.reload();
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  await expect(page.getByTestId('cell-train').getByTestId('train-run-row')).toHaveCount(RECORDED + 2);
  await expect(page.getByTestId('cell-compare').getByTestId('compare-table').locator('tbody tr')).toHaveCount(RECORDED + 2);
  expect(errors, 'uncaught page errors').toEqual([]);
});
