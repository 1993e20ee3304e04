// Where runs start, end to end on the demo: a run starts from the loaded checkpoints and says so;
// the next one may continue it only when asked (and its record says from which run and step);
// Stop ends a run after the step in flight; Compare warns when the runs it shows started apart;
// one click puts the models back as loaded.

import { expect, test } from '@playwright/test';
import { openDemo, RECORDED, setup } from './lib';

test('runs start from the loaded checkpoints unless told to continue; Stop ends a run within a step; Compare warns; reset', async ({
  page,
}) => {
  test.setTimeout(20 * 60_000);
  const errors = await openDemo(page);
  await setup(page);
  const train = page.getByTestId('cell-train');
  await expect(train.getByTestId('train-models-state')).toHaveAttribute('data-from', 'loaded');
  await expect(train.getByTestId('train-start')).toBeDisabled(); // nothing to continue yet
  await expect(train.getByTestId('train-run-needs')).toHaveCount(0);

  // Run 1: 2 steps from the loaded checkpoints.
  await train.getByTestId('train-field-steps').fill('2');
  await train.getByTestId('train-run').click();
  const first = train.getByTestId('train-run-row').nth(RECORDED);
  await expect(first).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
  await expect(first.getByTestId('train-run-start')).toHaveText('loaded checkpoints');
  const state = train.getByTestId('train-models-state');
  await expect(state).toHaveAttribute('data-from', 'run');
  await expect(state).toHaveText('The models are as LLM-Rank #1 left them (after step 2).');
  // The retriever trained: no re-index at the end of the run; the Index cell says it reopens on use.
  await expect(page.getByTestId('index-moved')).toBeVisible();

  // Run 2 continues run 1, and is stopped after its first step.
  await train.getByTestId('train-field-steps').fill('4');
  await train.getByTestId('train-start').selectOption('continue');
  await train.getByTestId('train-run').click();
  const second = train.getByTestId('train-run-row').nth(RECORDED + 1);
  await expect(second).toHaveAttribute('data-status', 'running');
  await expect(second.getByTestId('train-run-start')).toHaveText('LLM-Rank #1 after step 2');
  // Before its first step it reopened the index for the trained retriever, saying why.
  await expect(second.locator('td.num')).toHaveText('1/4', { timeout: 600_000 });
  await train.getByTestId('train-stop').click();
  const clicked = Date.now();
  await expect(second).toHaveAttribute('data-status', 'stopped', { timeout: 300_000 });
  const stopSeconds = (Date.now() - clicked) / 1000;
  console.log(`stopped ${stopSeconds.toFixed(1)} s after the click`);
  // The step in flight finished, nothing after it.
  expect(['1/4', '2/4']).toContain(await second.locator('td.num').textContent());
  await expect(second.getByTestId('train-resume')).toBeVisible();
  await expect(state).toHaveText(/The models are as LLM-Rank #2 left them \(after step [12]\)\./);

  // Compare the two: they did not start from the same models.
  const compare = page.getByTestId('cell-compare');
  for (const box of await compare.getByRole('checkbox', { name: /recorded/ }).all()) await box.uncheck();
  for (const box of await compare.getByRole('checkbox', { name: /LLM-Rank #[12]/ }).all()) await box.check();
  await expect(compare.getByTestId('compare-start-warning')).toContainText('did not all start from the same models');
  await expect(compare.getByTestId('compare-start-warning')).toContainText('LLM-Rank #1: loaded checkpoints');

  // One click: the models are as loaded again, and there is nothing to continue.
  await train.getByTestId('train-reset-models').click();
  await expect(state).toHaveAttribute('data-from', 'loaded');
  await expect(train.getByTestId('train-start')).toBeDisabled();
  await expect(train.getByTestId('train-reset-models')).toHaveCount(0);
  expect(errors).toEqual([]);
});
