// The app end to end: it finds the adapter, the kernel self-test passes in the worker, and a
// browser without WebGPU gets told which browser or flag to use.

import { expect, test } from '@playwright/test';

test('finds the WebGPU adapter and every self-test case passes', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');

  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  // The adapter and the self-test are under "This browser's GPU", below the notebook: open it by keyboard.
  await page.getByText("This browser's GPU").focus();
  await page.keyboard.press('Enter');
  // COOP + COEP from vite.config.ts: onnxruntime-web's wasm threads need an isolated page.
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);
  await expect(page.getByTestId('adapter-vendor')).not.toHaveText('unknown');
  await expect(page.getByTestId('adapter-architecture')).not.toHaveText('unknown');
  const vendor = await page.getByTestId('adapter-vendor').innerText();
  const arch = await page.getByTestId('adapter-architecture').innerText();
  console.log(`adapter: ${vendor} / ${arch}`);
  await expect(page.getByTestId('adapter-limit-maxStorageBufferBindingSize')).toHaveText(/\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
  await expect(page.getByTestId('adapter-limit-maxComputeInvocationsPerWorkgroup')).toHaveText(/^\d[\d,]*$/);

  // Keyboard: focus the button and press Enter.
  const run = page.getByRole('button', { name: 'Run self-test' });
  await run.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('selftest-summary')).toBeVisible({ timeout: 150_000 });

  const rows = page.getByTestId('selftest-row');
  const total = await rows.count();
  const passing = await page.locator('[data-testid="selftest-row"][data-pass="true"]').count();
  const failing = await page.locator('[data-testid="selftest-row"][data-pass="false"]').allInnerTexts();
  expect(failing, 'failing self-test cases').toEqual([]);
  expect(total).toBeGreaterThan(0);
  expect(passing).toBe(total);
  await expect(page.getByTestId('selftest-summary')).toContainText(`${total}/${total} passed`);
  expect(errors, 'uncaught page errors').toEqual([]);

  await page.screenshot({ path: 'test-results/app-selftest.png', fullPage: true });
});

test('?selftest=1 runs the self-test on load', async ({ page }) => {
  await page.goto('/?selftest=1');
  await expect(page.getByTestId('selftest-summary')).toBeVisible({ timeout: 150_000 });
  const total = await page.getByTestId('selftest-row').count();
  expect(total).toBeGreaterThan(0);
  await expect(page.locator('[data-testid="selftest-row"][data-pass="true"]')).toHaveCount(total);
});

test('without WebGPU the page says which browser and flag to use', async ({ page }) => {
  await page.addInitScript(() => {
    // navigator.gpu is a getter on Navigator.prototype; remove it so `'gpu' in navigator` is false.
    delete (Object.getPrototypeOf(navigator) as { gpu?: unknown }).gpu;
  });
  await page.goto('/');
  const help = page.getByTestId('no-webgpu');
  await expect(help).toBeVisible();
  await expect(help).toContainText('chrome://flags/#enable-unsafe-webgpu');
  await expect(help).toContainText('--enable-unsafe-webgpu');
  await expect(help).toContainText('Chrome or Edge 113+');
  await expect(page.getByTestId('adapter-panel')).toHaveCount(0);
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'error');
  // The notebook still opens (saved runs, charts and the inspector need no GPU); setup says why not.
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  await expect(page.getByTestId('run-setup')).toBeDisabled();
  await page.screenshot({ path: 'test-results/app-no-webgpu.png', fullPage: true });
});
