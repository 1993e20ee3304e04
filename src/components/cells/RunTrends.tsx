// The inspector's over-the-run views (presentational; the numbers are trendView.ts's): per step,
// the gold passage's mean rank (in the index search, or among the candidates in records from
// before goldRank) and Spearman(score, -NLL), for the step's
// batch and for the run's probe set; and one question followed across steps as a bump chart, each
// candidate's retriever rank beside its utility rank. A probe question (config.probeQuestions) is
// scored every probeEvery steps with every candidate judged; a batch question only at the steps it
// was trained in, with only the sampled candidates judged.

import { useMemo, useState } from 'react';
import type { RunMeta, StepRecord } from '../../notebook/schema';
import { Chart, PALETTE, type Series } from '../Chart';
import { questionsOf } from '../runView';
import { bump, probeIds, trends, type GoldAndAlignment } from '../trendView';

/** The most candidates one bump chart draws (gold passages always among them). */
const BUMP_LINES = 7;
const GOLD_COLOR = PALETTE[1]!;
const OTHER_COLORS = PALETTE.filter((c) => c !== GOLD_COLOR);

export function RunTrends({ run, records }: { run: RunMeta; records: readonly StepRecord[] }) {
  const t = useMemo(() => trends(records), [records]);
  const probes = useMemo(() => probeIds(records), [records]);
  // Batch questions worth following: those trained in at least two steps.
  const repeated = useMemo(() => questionsOf(records).filter((q) => q.steps.length >= 2), [records]);
  const [picked, setPicked] = useState<string | null>(null);
  const choices = [
    ...probes.map((id) => ({ key: `probe:${id}`, id, from: 'probe' as const, label: `${id} (probe set)` })),
    ...repeated.map((q) => ({
      key: `batch:${q.id}`,
      id: q.id,
      from: 'batch' as const,
      label: `${q.id} (in ${q.steps.length} steps)`,
    })),
  ];
  const choice = choices.find((c) => c.key === picked) ?? choices[0] ?? null;
  const followed = useMemo(() => (choice ? bump(records, choice.id, choice.from, BUMP_LINES) : null), [records, choice]);
  if (records.length === 0) return null;

  const line = (xs: (GoldAndAlignment | null)[], f: (g: GoldAndAlignment) => number | null) =>
    xs.map((g, i) => ({ x: t.step[i]!, y: g ? f(g) : null })).filter((p, i) => xs[i] !== null || p.y !== null);
  const K = run.config.candidates;
  const goldSeries: Series[] = [
    { label: 'batch', points: line(t.batch, (g) => g.goldRank), color: PALETTE[0] },
    ...(t.hasProbes ? [{ label: 'probe set', points: line(t.probe, (g) => g.goldRank), color: PALETTE[2] }] : []),
  ];
  const spearmanSeries: Series[] = [
    { label: 'batch', points: line(t.batch, (g) => g.spearman), color: PALETTE[0] },
    ...(t.hasProbes ? [{ label: 'probe set', points: line(t.probe, (g) => g.spearman), color: PALETTE[2] }] : []),
  ];
  const noGold = (xs: (GoldAndAlignment | null)[]) =>
    xs.reduce((a, g) => ({ missing: a.missing + (g?.noGold ?? 0), of: a.of + (g?.of ?? 0) }), { missing: 0, of: 0 });
  const batchGap = noGold(t.batch);
  const probeGap = noGold(t.probe);
  // Ranks in the whole index search (recorded since goldRank), else among the K candidates.
  const inIndex = [...t.batch, ...t.probe].some((g) => (g?.inIndex ?? 0) > 0);
  const where = inIndex ? 'in the index search' : `among the ${K} candidates`;

  return (
    <section className="run-trends" data-testid="run-trends" aria-label="Over the run">
      <h3>Over the run</h3>
      <div className="chart-grid">
        <Chart
          type="line"
          title={`Gold passage's rank ${where} (mean over questions; 1 is top)`}
          series={goldSeries}
          xLabel="step"
          yLabel="mean rank"
          yReverse
          testId="chart-gold-rank"
        />
        <Chart
          type="line"
          title="Spearman(score, −NLL) per step (mean over questions)"
          series={spearmanSeries}
          xLabel="step"
          yLabel="Spearman"
          yRange={[-1, 1]}
          testId="chart-trend-spearman"
        />
      </div>
      <p className="muted" data-testid="trend-no-gold">
        {batchGap.missing + probeGap.missing === 0
          ? `Every question's gold passage has a rank ${where}.`
          : (inIndex
              ? "Without a gold passage in the index, so left out of that step's mean: "
              : `Not among the ${K} candidates (or no gold passage at all), so left out of that step's mean: `) +
            `${batchGap.missing} of ${batchGap.of} batch questions` +
            (t.hasProbes ? `, ${probeGap.missing} of ${probeGap.of} probe questions` : '') +
            ', counted over the steps.'}
      </p>
      {!t.hasProbes && (
        <p className="muted" data-testid="trend-no-probes">
          This run has no probe set: a question is scored only at the steps it was trained in. Set &ldquo;Probe questions&rdquo;
          on the Train cell to follow a few training questions every few steps, without an update.
        </p>
      )}
      {t.hasProbes && (
        <p className="muted">
          The probe set: {probes.length} training questions, chosen by the run&apos;s seed, scored before the update every{' '}
          {run.config.probeEvery} steps (and before the last) with the step&apos;s retrieval and every candidate judged, nothing
          drawn and nothing updated.
        </p>
      )}
      {choice && followed && (
        <>
          <label>
            Follow a question{' '}
            <select value={choice.key} onChange={(e) => setPicked(e.target.value)} data-testid="trend-question">
              {choices.map((c) => (
                <option key={c.key} value={c.key}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <BumpCharts bump={followed} from={choice.from} />
        </>
      )}
      {!choice && (
        <p className="muted" data-testid="trend-no-question">
          No question was scored at two steps or more, so none can be followed across steps.
        </p>
      )}
    </section>
  );
}

function BumpCharts({ bump: b, from }: { bump: ReturnType<typeof bump>; from: 'probe' | 'batch' }) {
  let other = 0;
  const colors = b.lines.map((l) => (l.gold ? GOLD_COLOR : OTHER_COLORS[other++ % OTHER_COLORS.length]!));
  const series = (pick: 'retriever' | 'utility'): Series[] =>
    b.lines.map((l, i) => ({
      label: `${l.gold ? '★ ' : ''}${l.docId}`,
      points: b.steps.map((s, t) => ({ x: s + 1, y: l[pick][t]! })),
      color: colors[i],
    }));
  return (
    <div data-testid="trend-bump" data-steps={b.steps.length} data-lines={b.lines.length}>
      <div className="chart-grid">
        <Chart
          type="line"
          title="Rank by retriever score"
          series={series('retriever')}
          xLabel="step"
          yLabel="rank"
          yReverse
          testId="chart-bump-retriever"
        />
        <Chart
          type="line"
          title="Rank by utility (lowest answer NLL first)"
          series={series('utility')}
          xLabel="step"
          yLabel="rank"
          yReverse
          testId="chart-bump-utility"
        />
      </div>
      <p className="muted">
        One line per candidate, the same colour in both; a gap: not a candidate at that step
        {from === 'batch' ? ', or (utility) not sampled for the generator to judge' : ''}. Aligned: the two charts agree.
        {b.hidden > 0 ? ` ${b.hidden} more candidates with lower ranks are not shown.` : ''}
      </p>
      {!b.lines.some((l) => l.gold) && (
        <p className="muted" data-testid="trend-bump-gold">
          {b.of === null
            ? 'No gold passage was among its candidates at these steps.'
            : `Its gold passage was not among the candidates at these steps: rank ${b.goldRank
                .map((r) => (r === null ? '–' : String(r)))
                .join(' → ')} of ${b.of} in the index search.`}
        </p>
      )}
    </div>
  );
}
