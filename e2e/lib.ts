// What the demo walk-throughs share: the runs the demo notebook opens with, setup (data, models,
// index through Run setup), and a run's step records read straight from IndexedDB (not through
// the app), so a spec checks the page against what it saved.

import { expect, type Page } from '@playwright/test';
import type { StepRecord } from '../src/training/step';

/** The runs a fresh demo notebook opens with (public/demo/runs; e2e/results.spec.ts checks them), listed before any trained here. */
export const RECORDED = 2;

/** Run setup: the demo data, both models and the index (from this browser's cache after the first time). */
export async function setup(page: Page): Promise<void> {
  await page.getByTestId('run-setup').click();
  await expect(page.getByTestId('index-summary')).toContainText('1500 passages', { timeout: 900_000 });
  await expect(page.getByTestId('run-setup')).toBeEnabled();
}

/** Every step record the page saved for a run, read straight from IndexedDB. */
export async function savedRecords(page: Page, runId: string): Promise<StepRecord[]> {
  return page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('medrank-notebook');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const rows = await new Promise<{ record: StepRecord }[]>((resolve, reject) => {
      const req = db
        .transaction('records')
        .objectStore('records')
        .getAll(IDBKeyRange.bound([id, -Infinity], [id, Infinity]));
      req.onsuccess = () => resolve(req.result as { record: StepRecord }[]);
      req.onerror = () => reject(req.error);
    });
    db.close();
    return rows.map((r) => r.record);
  }, runId);
}

/** Open the app on its notebook with a WebGPU adapter ready; returns the page errors seen from then on (a spec expects none). */
export async function openDemo(page: Page, gpuTimeout = 120_000): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.getByTestId('notebook')).toHaveAttribute('data-restored', 'true');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: gpuTimeout });
  return errors;
}
