// The demo notebook end to end in headless Chromium on the software WebGPU adapter, the way a
// user goes through it: set up (data, models, index), train 4 jmlr-code (LLM-Rank) steps while measuring the
// page's frame times, check the inspector's numbers against the run's records in IndexedDB and the
// step explainer's rank loss against losses.ts, reload (everything restored), interrupt a second
// run by reloading mid-run and resume it from its checkpoint, compare the two runs, export the
// notebook and import it back, and refuse a malformed import. Screenshots of each main view are
// kept with the test's output (test-results/); `MEDRANK_SCREENSHOTS=docs/screenshots` also
// writes them there for the README.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator, type Page, type TestInfo } from '@playwright/test';
import { llmRankLoss } from '../src/training/losses';
import { goldLine, questionAlignment, scatterView } from '../src/components/runView';
import type { StepRecord } from '../src/training/step';
import { RECORDED, savedRecords, setup } from './lib';

const SHOTS = process.env.MEDRANK_SCREENSHOTS;

async function shot(page: Page, info: TestInfo, name: string, target?: Locator): Promise<void> {
  const paths = [info.outputPath(`${name}.png`)];
  if (SHOTS) {
    mkdirSync(SHOTS, { recursive: true });
    paths.push(join(SHOTS, `${name}.png`));
  }
  for (const path of paths) {
    if (target) await target.screenshot({ path });
    else await page.screenshot({ path });
  }
  await info.attach(name, { path: paths[0]!, contentType: 'image/png' });
}

const fixed = (v: number | null, d: number): string => (v === null ? '–' : v.toFixed(d));

test('the demo notebook: setup, train, inspect, explain, reload, resume, compare, export and import', async ({ page }, info) => {
  test.setTimeout(30 * 60_000); // SwiftShader runs at about 1 GFLOP/s; setup alone is a minute or two
  await page.setViewportSize({ width: 1280, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  const times: Record<string, number> = {};
  const lap = (what: string): void => void (times[what] = Math.round((Date.now() - t0) / 1000));

  await page.goto('/');
  const notebook = page.getByTestId('notebook');
  await expect(notebook).toHaveAttribute('data-restored', 'true');
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-status', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('cell-markdown').first()).toContainText('MedRank demo');
  await shot(page, info, 'notebook');

  await test.step('setup: data, models, index', async () => {
    await setup(page);
    lap('setup');
  });

  const train = page.getByTestId('cell-train');
  await test.step('a value the config refuses is flagged at its field and blocks Run', async () => {
    await train.getByTestId('train-field-sampled').fill('30');
    await expect(train.getByTestId('train-error-sampled')).toContainText('sampled');
    await expect(train.getByTestId('train-run')).toBeDisabled();
    await train.getByTestId('train-field-sampled').fill('5');
    await expect(train.getByTestId('train-error-sampled')).toHaveCount(0);
  });

  let runA = '';
  await test.step('train 4 steps while measuring frame times', async () => {
    await page.evaluate(() => {
      const w = window as unknown as { __frames: number[]; __stop: boolean };
      w.__frames = [];
      w.__stop = false;
      let last = performance.now();
      const tick = (t: number): void => {
        w.__frames.push(t - last);
        last = t;
        if (!w.__stop) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await train.getByTestId('train-run').click();
    await expect(train.getByTestId('train-progress')).toBeVisible({ timeout: 30_000 });
    const row = train.getByTestId('train-run-row').nth(RECORDED);
    await expect(row).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
    lap('run A');
    const frames = await page.evaluate(() => {
      const w = window as unknown as { __frames: number[]; __stop: boolean };
      w.__stop = true;
      return w.__frames.slice(1);
    });
    const sorted = [...frames].sort((a, b) => a - b);
    const q = (p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10;
    const stats = {
      frames: frames.length,
      seconds: Math.round(frames.reduce((a, b) => a + b, 0) / 1000),
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      maxMs: Math.round(sorted[sorted.length - 1]!),
      over50Ms: frames.filter((f) => f > 50).length,
    };
    console.log(`frame times during a training run: ${JSON.stringify(stats)}`);
    await info.attach('frame-times.json', { body: JSON.stringify(stats, null, 2), contentType: 'application/json' });
    expect(stats.frames).toBeGreaterThan(10); // the page kept drawing while the worker trained
    runA = (await row.getAttribute('data-run-id'))!;
    const charts = train.getByTestId('run-charts');
    await expect(charts).toHaveAttribute('data-steps', '4');
    await expect(charts.getByTestId('chart-losses')).toHaveAttribute('data-points', '8'); // 2 losses x 4 steps
    await expect(train.getByTestId('eval-row')).toHaveCount(1);
    // Named and listed by what it ran; accuracy on a fixed [0, 1] axis.
    await expect(row.getByRole('button', { name: /Show LLM-Rank #1/ })).toBeVisible();
    await expect(row.getByTestId('train-run-loss')).toHaveText('LLM-Rank');
    await expect(row.getByTestId('train-run-schedule')).toHaveText('synchronous');
    await expect(train.getByTestId('chart-accuracy')).toHaveAttribute('data-y-range', '0,1');
    await expect(train.getByTestId('train-help-retrieverLoss')).toContainText('JMLR');
    await shot(page, info, 'train', train);
  });

  const inspect = page.getByTestId('cell-inspect');
  let inspectorRows: string[] = [];
  await test.step('the inspector shows the run records, value for value', async () => {
    const records = await savedRecords(page, runA);
    expect(records.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    await inspect.getByTestId('inspect-run').selectOption(runA); // it opens on the recorded JMLR run
    const qid = records[0]!.questions[0]!.id;
    const at = records.filter((r) => r.questions.some((q) => q.id === qid)).at(-1)!;
    const q = at.questions.find((x) => x.id === qid)!;
    await expect(inspect.getByTestId('inspect-question')).toHaveValue(qid);
    await expect(inspect.getByTestId('inspect-step')).toHaveValue(String(at.step));
    const byScore = [...q.candidates].sort((a, b) => b.score - a.score);
    const rows = inspect.getByTestId('inspector-row');
    await expect(rows).toHaveCount(byScore.length);
    for (const [i, c] of byScore.entries()) {
      const row = rows.nth(i);
      await expect(row).toHaveAttribute('data-doc-id', c.docId);
      await expect(row).toHaveAttribute('data-gold', String(c.gold));
      await expect(row.locator('[data-col=rank]')).toHaveText(String(i + 1));
      await expect(row.locator('[data-col=score]')).toHaveText(fixed(c.score, 4));
      await expect(row.locator('[data-col=prob]')).toHaveText(fixed(c.prob, 3));
      await expect(row.locator('[data-col=sampled]')).toHaveText(c.sampled ? 'yes' : 'no');
      await expect(row.locator('[data-col=utility]')).toHaveText(fixed(c.utility, 4));
    }
    // The update moved the scores (scoreAfter recorded for every candidate).
    expect(q.candidates.every((c) => typeof c.scoreAfter === 'number')).toBe(true);
    inspectorRows = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-doc-id')!));

    // Every question of every step recorded its gold passage's rank in the index and its no-document NLL.
    expect(records.every((r) => r.questions.every((x) => x.goldRank !== undefined && typeof x.nllNoDoc === 'number'))).toBe(true);
    for (const [i, c] of byScore.entries()) {
      const helps = c.utility === null ? null : q.nllNoDoc! - c.utility;
      await expect(rows.nth(i).locator('[data-col=helps]')).toHaveText(
        helps === null ? '–' : `${helps >= 0 ? '+' : '−'}${Math.abs(helps).toFixed(4)}`,
      );
    }
    await expect(inspect.getByTestId('inspect-gold')).toHaveText(`★ ${goldLine(q).text}`);
    await expect(inspect.getByTestId('inspect-alignment')).toHaveAttribute(
      'data-after',
      String(questionAlignment(q).after ?? ''),
    );
    const checkScatter = async (x: typeof q): Promise<void> => {
      const view = scatterView(x);
      const scatter = inspect.getByTestId('chart-scatter');
      await expect(scatter.getByTestId('scatter-point')).toHaveCount(view.points.length);
      await expect(scatter).toHaveAttribute(
        'data-arrows',
        String(view.points.filter((p) => p.y !== null && p.xAfter !== null && p.xAfter !== p.x).length),
      );
      if (x.goldRank)
        await expect(scatter.locator(`[data-testid=scatter-point][data-doc-id="${x.goldRank.docId}"]`)).toHaveAttribute(
          'data-gold',
          'true',
        );
    };
    await checkScatter(q);
    expect(await inspect.getByTestId('scatter-arrow').count()).toBeGreaterThan(0); // the update moved some scores

    await rows.first().getByRole('button').click();
    const maxsim = inspect.getByTestId('maxsim-view');
    await expect(maxsim).toBeVisible({ timeout: 60_000 });
    expect(await maxsim.locator('.qtok').count()).toBeGreaterThan(3);
    // The panel's recorded number is the table's for the same document, and it says which retriever scored the matches.
    await expect(maxsim).toHaveAttribute('data-recorded-score', String(byScore[0]!.score));
    await expect(rows.first().locator('[data-col=score]')).toHaveText(fixed(byScore[0]!.score, 4));
    await expect(maxsim.getByTestId('maxsim-recorded')).toHaveText(fixed(byScore[0]!.score, 4));
    await expect(maxsim.getByTestId('maxsim-which')).toContainText('the retriever loaded now');
    await expect(maxsim).toContainText('[unused0] is ColBERT');
    // Hovering a query token marks the document token it matched.
    await maxsim.getByTestId('maxsim-qtok').nth(2).hover();
    await expect(maxsim.getByTestId('maxsim-matched')).toHaveCount(1);
    await expect(inspect.getByTestId('chart-scatter')).toBeVisible();
    // At 1440 x 900 the candidates and the scatter sit side by side, both on screen, and the
    // scatter stays in view while the table scrolls.
    await page.setViewportSize({ width: 1440, height: 900 });
    const table = inspect.getByTestId('inspector-table');
    const plot = inspect.getByTestId('chart-scatter');
    await table.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    for (const scrolled of [0, 400]) {
      await page.evaluate((dy) => window.scrollBy(0, dy), scrolled);
      const t = (await table.boundingBox())!;
      const p = (await plot.boundingBox())!;
      expect(p.x, 'the scatter is to the right of the table').toBeGreaterThanOrEqual(t.x + t.width - 1);
      expect(t.y + t.height, 'the table is on screen').toBeGreaterThan(200);
      expect(p.y, `the scatter is on screen (scrolled ${scrolled})`).toBeGreaterThanOrEqual(0);
      expect(p.y + p.height).toBeLessThanOrEqual(900);
    }
    await table.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot(page, info, 'inspector', inspect);
    await page.setViewportSize({ width: 1280, height: 900 });

    // A question whose gold passage was not among its candidates at some step: its rank in the whole index is shown, and it is plotted.
    const outside = records
      .flatMap((r) => r.questions.map((x) => ({ step: r.step, x })))
      .find(({ x }) => x.goldRank && !x.candidates.some((c) => c.docId === x.goldRank!.docId));
    console.log(
      outside
        ? `gold beyond the candidates: ${outside.x.id} at step ${outside.step + 1}, rank ${outside.x.goldRank!.rank} of ${outside.x.goldRank!.of}`
        : 'every gold passage was a candidate',
    );
    if (outside) {
      await inspect.getByTestId('inspect-question').selectOption(outside.x.id);
      await inspect.getByTestId('inspect-step').selectOption(String(outside.step));
      const gold = inspect.getByTestId('inspect-gold');
      await expect(gold).toContainText(
        `Gold at rank ${outside.x.goldRank!.rank} of ${outside.x.goldRank!.of} in the index search: not among`,
      );
      await expect(gold).toHaveAttribute('data-rank', String(outside.x.goldRank!.rank));
      await checkScatter(outside.x);
      await inspect.getByTestId('inspect-question').selectOption(qid);
      await inspect.getByTestId('inspect-step').selectOption(String(at.step));
      await expect(rows).toHaveCount(byScore.length);
    }

    // Step explainer: the question's LLM-Rank loss is losses.ts's on the recorded numbers.
    const explainer = inspect.getByTestId('step-explainer');
    await explainer.getByRole('tab', { name: '4. Rank loss' }).click();
    const judged = q.candidates.flatMap((c, i) => (c.sampled && c.utility !== null ? [i] : []));
    const expected = llmRankLoss(
      q.candidates.map((c) => c.score),
      judged,
      judged.map((i) => q.candidates[i]!.utility!),
    ).loss;
    await expect(explainer.getByTestId('explainer-question-loss')).toHaveText(expected.toFixed(5));
    const n = judged.length;
    const pairs = explainer.getByTestId('explainer-pairs').locator('tbody tr');
    await expect(pairs).toHaveCount((n * (n - 1)) / 2);
    // The pairs' shares (5 decimals each) add up to the question's loss.
    const shares = await pairs.evaluateAll((rows) => rows.map((r) => Number(r.lastElementChild!.textContent)));
    expect(Math.abs(shares.reduce((a, b) => a + b, 0) - expected)).toBeLessThan(1e-5 * shares.length);
    // An element screenshot of a sticky column comes out blank: unstick it for the picture.
    const unstick = (on: boolean) =>
      explainer.evaluate((el, off) => {
        for (let e: HTMLElement | null = el as HTMLElement; e; e = e.parentElement)
          if (off ? getComputedStyle(e).position === 'sticky' : e.dataset.unstuck === '1') {
            e.style.position = off ? 'static' : '';
            e.dataset.unstuck = off ? '1' : '';
          }
      }, on);
    await unstick(true);
    await shot(page, info, 'explainer', explainer);
    await unstick(false);
    await explainer.getByRole('button', { name: 'Next' }).click();
    // The gradient bars: each |g| relative to the question's largest, the largest a full bar.
    const bars = explainer.getByRole('list', { name: 'gradient per candidate' }).locator('.bar');
    await expect(bars).toHaveCount(q.candidates.length);
    const share = (await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-share'))))).sort((a, b) => b - a);
    expect(share[0]).toBe(1);
    expect(share.at(-1)!).toBeGreaterThanOrEqual(0);
    await explainer.getByRole('button', { name: 'Next' }).click();
    await expect(explainer).toHaveAttribute('data-stage', '5');
    await expect(explainer.getByTestId('explainer-after').locator('tbody tr')).toHaveCount(q.candidates.length);
  });

  await test.step('a reload restores the notebook, the run, its charts and the inspector', async () => {
    await page.getByLabel('Notebook title').fill('My demo notebook');
    await expect(page.getByTestId('save-state')).toHaveAttribute('data-state', 'saved');
    await page.reload();
    await expect(notebook).toHaveAttribute('data-restored', 'true');
    await expect(page.getByLabel('Notebook title')).toHaveValue('My demo notebook');
    await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED + 1);
    const row = train.getByTestId('train-run-row').nth(RECORDED);
    await expect(row).toHaveAttribute('data-status', 'done');
    await expect(train.getByTestId('run-charts')).toHaveAttribute('data-steps', '4');
    await expect(train.getByTestId('chart-losses')).toHaveAttribute('data-points', '8');
    await expect(inspect.getByTestId('inspector-row')).toHaveCount(inspectorRows.length);
    expect(
      await inspect.getByTestId('inspector-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-doc-id')!)),
    ).toEqual(inspectorRows);
    await expect(page.getByTestId('storage-run-row')).toHaveCount(RECORDED + 1);
    lap('reload');
  });

  let runB = '';
  await test.step('a run interrupted by a reload resumes from its checkpoint', async () => {
    await setup(page); // the models are fresh after a reload; the index comes from this browser's cache
    lap('setup again');
    await train.getByTestId('train-field-steps').fill('6');
    await train.getByTestId('train-run').click();
    const row = train.getByTestId('train-run-row').nth(RECORDED + 1);
    await expect(row).toHaveAttribute('data-status', 'running');
    runB = (await row.getAttribute('data-run-id'))!;
    // A second tab opened while this one trains sees the run as training there, not interrupted.
    const other = await page.context().newPage();
    await other.goto('/');
    await expect(other.getByTestId('notebook')).toHaveAttribute('data-restored', 'true', { timeout: 60_000 });
    const elsewhere = other.locator(`[data-testid="train-run-row"][data-run-id="${runB}"]`);
    await expect(elsewhere).toHaveAttribute('data-elsewhere', 'true');
    await expect(elsewhere).toHaveAttribute('data-status', 'running');
    await expect(elsewhere).toContainText('training in another tab');
    await other.close();
    await expect(row.getByTestId('train-run-checkpoint')).toHaveText('step 2', { timeout: 300_000 });
    await page.reload(); // the tab goes away mid-run
    await expect(row).toHaveAttribute('data-status', 'interrupted');
    const before = (await savedRecords(page, runB)).map((r) => r.step);
    expect(before.slice(0, 2)).toEqual([0, 1]);
    await setup(page);
    await row.getByTestId('train-resume').click();
    await expect(row).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
    const b = await savedRecords(page, runB);
    expect(b.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);
    // Same seed, same config: run B, interrupted after 2 steps and resumed on freshly loaded models
    // from its checkpoint, retraces run A's 4 steps number for number.
    const a = await savedRecords(page, runA);
    for (let t = 0; t < 4; t++) {
      expect(b[t]!.loss.retriever!).toBeCloseTo(a[t]!.loss.retriever!, 6);
      expect(b[t]!.loss.generator!).toBeCloseTo(a[t]!.loss.generator!, 6);
      expect(b[t]!.questions.map((q) => q.candidates.map((c) => c.docId))).toEqual(
        a[t]!.questions.map((q) => q.candidates.map((c) => c.docId)),
      );
    }
    lap('run B, resumed');
  });

  await test.step('compare the two runs', async () => {
    const compare = page.getByTestId('cell-compare');
    // The two runs trained here, without the recorded ones it opened with.
    for (const box of await compare.getByRole('checkbox', { name: /recorded/ }).all()) await box.uncheck();
    for (const box of await compare.getByRole('checkbox', { name: /LLM-Rank #\d/ }).all()) await box.check();
    await expect(compare.getByTestId('compare-table').locator('tbody tr')).toHaveCount(2);
    await expect(compare.getByTestId('compare-retriever-loss')).toHaveAttribute('data-points', '10'); // 4 + 6 steps
    await shot(page, info, 'compare', compare);
  });

  await test.step('export, then import, round-trips; a malformed import is refused', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-notebook').click()]);
    const path = info.outputPath('notebook.medrank.json');
    await download.saveAs(path);
    const file = JSON.parse(readFileSync(path, 'utf8')) as {
      notebook: { title: string; cells: unknown[] };
      runs: { meta: { id: string }; records: StepRecord[] }[];
    };
    expect(file.notebook.title).toBe('My demo notebook');
    expect(file.runs.map((r) => r.records.length).sort((a, b) => a - b)).toEqual([4, 6, 200, 200]);

    await page.getByLabel('Notebook title').fill('Changed after export');
    await page.getByTestId('import-file').setInputFiles(path);
    await expect(page.getByTestId('import-message')).toContainText(`${RECORDED + 2} runs`);
    await expect(page.getByLabel('Notebook title')).toHaveValue('My demo notebook');
    await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED + 2);
    await expect(page.getByTestId('cell-compare').getByTestId('compare-table').locator('tbody tr')).toHaveCount(2);

    await page.getByTestId('import-file').setInputFiles({
      name: 'broken.medrank.json',
      mimeType: 'application/json',
      buffer: Buffer.from(
        '{"format":"medrank-notebook","version":1,"exportedAt":0,"notebook":{"id":"x","title":7,"cells":[],"updatedAt":0},"runs":[]}',
      ),
    });
    await expect(page.getByTestId('import-error')).toContainText('notebook.title');
    await expect(page.getByLabel('Notebook title')).toHaveValue('My demo notebook');
    await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED + 2);

    // The notebook the import replaced on screen is still in the browser: Storage lists and opens it.
    const notebooks = page.getByTestId('storage-notebook-row');
    await expect(notebooks).toHaveCount(2);
    await notebooks.filter({ hasText: 'Changed after export' }).getByRole('button', { name: 'Open' }).click();
    await expect(page.getByLabel('Notebook title')).toHaveValue('Changed after export');
    await expect(train.getByTestId('train-run-row')).toHaveCount(RECORDED + 2);
  });

  console.log(`notebook e2e timings (s since start): ${JSON.stringify(times)}`);
  expect(errors).toEqual([]);
});
