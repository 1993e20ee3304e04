// Loading models in the app: the generator from a local folder (the directory input), the
// retriever from a URL; each shows what was loaded and works (generation, MaxSim scores); the
// generator again with half-size frozen weights; a decoder as a dense retriever, and the demo's.

import { expect, test } from '@playwright/test';

test('loads a generator from a folder and a retriever from a URL, then uses both', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });

  // A folder, as <input webkitdirectory> gives it.
  await page.getByTestId('folder-input-generator').setInputFiles('test/fixtures/models/tiny-llama');
  await expect(page.getByTestId('model-generator')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-arch-generator')).toHaveText('llama');
  await expect(page.getByTestId('model-label-generator')).toHaveText('tiny-llama');
  // 330 x 32 embedding + lm_head, 2 layers of attention (32x32, 16x32 x2, 32x32) and MLP (3 x 64x32), norms.
  const params = 2 * 330 * 32 + 2 * (32 * 32 * 2 + 16 * 32 * 2 + 3 * 64 * 32 + 2 * 32) + 32;
  await expect(page.getByTestId('model-params-generator')).toHaveText(params.toLocaleString('en-US'));

  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('generated')).toContainText('tokens', { timeout: 60_000 });
  const f32Weights = await page.getByTestId('model-weights-generator').innerText();

  // Again with half-size frozen weights: the summary says so, the bytes are about half, it still generates.
  await page.getByTestId('model-half-generator').check();
  await page.getByTestId('folder-input-generator').setInputFiles('test/fixtures/models/tiny-llama');
  await expect(page.getByTestId('model-weights-generator')).toContainText('frozen matrices as f16', { timeout: 60_000 });
  const kb = (text: string) => Number(/([\d.]+) KiB/.exec(text)?.[1]);
  const ratio = kb(await page.getByTestId('model-weights-generator').innerText()) / kb(f32Weights);
  expect(ratio, `${f32Weights} -> half`).toBeGreaterThan(0.45);
  expect(ratio).toBeLessThan(0.6);
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByTestId('generated')).toContainText('tokens', { timeout: 60_000 });

  // Any URL that serves the files (here the dev server itself).
  await page.getByLabel('retriever URL').fill('http://127.0.0.1:5173/test/fixtures/models/tiny-colbert');
  await page.getByRole('button', { name: 'Load from URL' }).first().click();
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-arch-retriever')).toHaveText('bert + ColBERT head');
  await page.getByRole('button', { name: 'Score' }).click();
  const scores = page.getByTestId('retrieved').locator('li');
  await expect(scores).toHaveCount(2, { timeout: 60_000 });
  for (const s of await scores.locator('.score').allInnerTexts()) expect(Math.abs(Number(s))).toBeLessThanOrEqual(32);

  expect(errors, 'uncaught page errors').toEqual([]);
  await page.screenshot({ path: 'test-results/app-models.png', fullPage: true });
});

test('a decoder in the retriever slot is a dense retriever (the demo one too); a BERT generator is refused with the reason', async ({
  page,
}) => {
  await page.goto('/');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  // A decoder folder as the retriever: BMRetriever-style, one pooled vector per text.
  await page.getByTestId('folder-input-retriever').setInputFiles('test/fixtures/models/tiny-llama');
  await expect(page.getByTestId('model-retriever')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-arch-retriever')).toHaveText('llama dense (last pooling)');
  // The demo's dense retriever, made from the demo generator (mean pooling, from its 1_Pooling/config.json).
  await page.getByRole('button', { name: 'Demo dense retriever' }).click();
  await expect(page.getByTestId('model-arch-retriever')).toHaveText('llama dense (mean pooling)', { timeout: 60_000 });
  await expect(page.getByTestId('models-source')).toContainText('Retriever: the demo dense retriever');
  await page.getByRole('button', { name: 'Score' }).click();
  await expect(page.getByTestId('retrieved').locator('li')).toHaveCount(2, { timeout: 60_000 });
  // An encoder where a decoder must be: refused with the reason, by class.
  await page.getByTestId('folder-input-generator').setInputFiles('test/fixtures/models/tiny-colbert');
  await expect(page.getByTestId('model-error-generator')).toContainText('the generator needs a decoder', { timeout: 60_000 });
  await expect(page.getByTestId('model-error-generator')).toHaveAttribute('data-error-class', 'UnsupportedArchitectureError');
  await expect(page.getByTestId('model-generator')).toHaveAttribute('data-status', 'error');
});
