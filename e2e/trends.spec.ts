// The inspector's over-the-run views on a short demo run with a probe set (src/training/probe.ts,
// src/components/cells/RunTrends.tsx), in headless Chromium on the software WebGPU adapter: set up
// the demo, train 3 steps with 2 probe questions every 2 steps, then check against the run's
// records in IndexedDB that the probe ran where it was due with every candidate judged, that the
// gold-rank and Spearman charts have one point per step (batch) and per probe, and that a probe
// question is followed across steps; and the jargon lines: the preset's help, P(draw)'s temperature.

import { expect, test } from '@playwright/test';
import type { QuestionRecord } from '../src/training/step';
import { openDemo, RECORDED, savedRecords, setup } from './lib';

test('over the run: gold rank and Spearman per step and per probe, a probe question followed; preset and P(draw) explained', async ({
  page,
}) => {
  test.setTimeout(20 * 60_000); // SwiftShader: setup is a minute or two, a step a few seconds
  await page.setViewportSize({ width: 1440, height: 900 });
  const errors = await openDemo(page);
  await setup(page);

  const train = page.getByTestId('cell-train');
  await expect(train.getByTestId('train-help-preset')).toContainText('JMLR (Wang et al. 2024)');
  await train.getByTestId('train-field-steps').fill('3');
  await train.getByTestId('train-field-probeQuestions').fill('2');
  await train.getByTestId('train-field-probeEvery').fill('2');
  await expect(train.getByTestId('train-run')).toBeEnabled({ timeout: 60_000 });
  await train.getByTestId('train-run').click();
  const row = train.getByTestId('train-run-row').nth(RECORDED);
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 900_000 });
  const runId = (await row.getAttribute('data-run-id'))!;

  const records = await savedRecords(page, runId);
  expect(records.map((r) => r.step)).toEqual([0, 1, 2]);
  // Due before steps 0 and 2 (every 2, and the last), the same 2 questions, every candidate judged, none drawn.
  expect(records.map((r) => r.probes?.length ?? 0)).toEqual([2, 0, 2]);
  const probeIds = records[0]!.probes!.map((q) => q.id);
  expect(records[2]!.probes!.map((q) => q.id)).toEqual(probeIds);
  for (const q of [...records[0]!.probes!, ...records[2]!.probes!]) {
    expect(q.candidates).toHaveLength(10);
    expect(q.candidates.every((c) => c.utility !== null && !c.sampled)).toBe(true);
    expect(q.goldRank?.of).toBe(1500); // the gold passage's rank in the whole index, as a step records it
  }

  const inspect = page.getByTestId('cell-inspect');
  await inspect.getByTestId('inspect-run').selectOption(runId);
  const trends = inspect.getByTestId('run-trends');
  await trends.scrollIntoViewIfNeeded();
  // One point per step with a value for the batch, and one per probe that ran, counted from the records.
  const withSpearman = (qs: QuestionRecord[]): boolean => qs.some((q) => q.spearman !== null);
  // The gold rank: in the whole index search where recorded (goldRank), else among the candidates.
  const withGold = (qs: QuestionRecord[]): boolean =>
    qs.some((q) => (q.goldRank !== undefined ? q.goldRank !== null : q.candidates.some((c) => c.gold)));
  const count = (f: (qs: QuestionRecord[]) => boolean): number =>
    records.filter((r) => f(r.questions)).length + records.filter((r) => r.probes && f(r.probes)).length;
  console.log(`points: Spearman ${count(withSpearman)}, gold rank ${count(withGold)} over ${records.length} steps and 2 probes`);
  expect(count(withSpearman)).toBeGreaterThanOrEqual(records.length); // every LLM-Rank step judged 5 documents
  await expect(trends.getByTestId('chart-trend-spearman')).toHaveAttribute('data-points', String(count(withSpearman)));
  await expect(trends.getByTestId('chart-gold-rank')).toHaveAttribute('data-points', String(count(withGold)));

  // The first probe question, followed at the 2 probes: each drawn candidate has a retriever rank and,
  // every candidate being judged, a utility rank at the same steps.
  await expect(trends.getByTestId('trend-question')).toHaveValue(`probe:${probeIds[0]}`);
  const bump = trends.getByTestId('trend-bump');
  await expect(bump).toHaveAttribute('data-steps', '2');
  const docs = new Set([records[0]!, records[2]!].flatMap((r) => r.probes![0]!.candidates.map((c) => c.docId)));
  const lines = Math.min(docs.size, 7);
  await expect(bump).toHaveAttribute('data-lines', String(lines));
  const points = Number(await bump.getByTestId('chart-bump-retriever').getAttribute('data-points'));
  expect(points).toBeGreaterThanOrEqual(lines);
  expect(points).toBeLessThanOrEqual(2 * lines);
  await expect(bump.getByTestId('chart-bump-utility')).toHaveAttribute('data-points', String(points));
  // A gold passage that was no candidate at either probe is said with its rank in the index.
  const followed = [records[0]!, records[2]!].map((r) => r.probes![0]!);
  if (!followed.some((q) => q.candidates.some((c) => c.gold)))
    await expect(bump.getByTestId('trend-bump-gold')).toContainText(
      `rank ${followed.map((q) => q.goldRank!.rank).join(' → ')} of 1500 in the index search`,
    );
  // The other probe question is there to follow too.
  await trends.getByTestId('trend-question').selectOption(`probe:${probeIds[1]}`);
  await expect(bump).toHaveAttribute('data-steps', '2');

  // P(draw) names the run's temperature (jmlr-code samples at T = 1).
  await expect(inspect.getByTestId('inspector-table').locator('thead')).toContainText('P(draw), T = 1');
  await trends.screenshot({ path: process.env.MEDRANK_TRENDS_SHOT ?? test.info().outputPath('run-trends.png') });
  expect(errors).toEqual([]);
});
