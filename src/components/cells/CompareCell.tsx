// The Compare cell (connected): two or more runs on the same charts (losses, alignment, recall of
// gold, held-out accuracy), with a table of each run's settings, where it was trained (this
// browser, or the adapter of an imported results file) and its last evaluation.

import { useEffect } from 'react';
import type { CompareCell as CompareCellConfig, RunMeta } from '../../notebook/schema';
import { useStore } from '../../store';
import { Chart, PALETTE, type Series } from '../Chart';
import { fmt, pct, runOrigin, stepSeries } from '../runView';
import { runNamesOf, startsWarning, startText } from '../lineage';
import { CellFrame } from './CellFrame';
import { ResultsImport } from './ResultsImport';
import { NumTh } from './NumTh';

export function CompareCell({ cell, index, count }: { cell: CompareCellConfig; index: number; count: number }) {
  const list = useStore((s) => s.runs.list);
  const records = useStore((s) => s.runs.records);
  const { updateCell, loadRecords } = useStore.getState();
  const chosen = cell.runIds.map((id) => list.find((m) => m.id === id)).filter((m): m is RunMeta => Boolean(m));
  const missing = chosen
    .filter((m) => !records[m.id])
    .map((m) => m.id)
    .join(' ');
  useEffect(() => {
    for (const id of missing ? missing.split(' ') : []) void loadRecords(id);
  }, [missing, loadRecords]);

  const names = runNamesOf(list);
  const startWarning = startsWarning(chosen, names);
  const toggle = (id: string, on: boolean): void =>
    updateCell(cell.id, { runIds: on ? [...cell.runIds, id] : cell.runIds.filter((r) => r !== id) });

  const series = (pick: (s: ReturnType<typeof stepSeries>) => (number | null)[]): Series[] =>
    chosen.map((m, i) => {
      const s = stepSeries(records[m.id] ?? []);
      return { label: m.name, color: PALETTE[i % PALETTE.length], points: pick(s).map((y, j) => ({ x: s.step[j]!, y })) };
    });
  const accuracy: Series[] = chosen.map((m, i) => ({
    label: m.name,
    color: PALETTE[i % PALETTE.length],
    points: m.evals.filter((e) => e.split === m.config.evalSplit).map((e) => ({ x: e.step, y: e.result.accuracy.retrieved })),
  }));

  return (
    <CellFrame
      id={cell.id}
      kind="compare"
      index={index}
      count={count}
      status={{
        text: chosen.length < 2 ? 'pick two or more runs' : `${chosen.length} runs`,
        tone: chosen.length < 2 ? 'muted' : 'ok',
      }}
    >
      <div className="row">
        <ResultsImport cellId={cell.id} />
      </div>
      {list.length === 0 ? (
        <p className="muted">No runs yet: run a Train cell, or import a results.json from a run elsewhere (a cluster).</p>
      ) : (
        <fieldset className="run-picker">
          <legend>Runs to compare</legend>
          {list.map((m) => (
            <label key={m.id}>
              <input type="checkbox" checked={cell.runIds.includes(m.id)} onChange={(e) => toggle(m.id, e.target.checked)} />{' '}
              {m.name}{' '}
              <span className="muted">
                ({m.config.retrieverLoss}, {m.config.schedule}, {m.steps} steps, from {startText(m.start, names)}, {runOrigin(m)})
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {startWarning && (
        <p className="warning" role="status" data-testid="compare-start-warning">
          {startWarning}
        </p>
      )}
      {chosen.length > 0 && (
        <>
          <div className="chart-grid" data-testid="compare-charts">
            <Chart
              type="line"
              title="Retriever loss"
              series={series((s) => s.retrieverLoss)}
              xLabel="step"
              yLabel="loss"
              testId="compare-retriever-loss"
            />
            <Chart
              type="line"
              title="Generator loss"
              series={series((s) => s.generatorLoss)}
              xLabel="step"
              yLabel="answer NLL"
              testId="compare-generator-loss"
            />
            <Chart
              type="line"
              title="Alignment"
              series={series((s) => s.spearman)}
              xLabel="step"
              yLabel="Spearman(score, −NLL)"
              testId="compare-alignment"
            />
            <Chart
              type="line"
              title="Accuracy with retrieval"
              series={accuracy}
              xLabel="step"
              yLabel="accuracy"
              testId="compare-accuracy"
            />
          </div>
          <table data-testid="compare-table">
            <caption>Runs side by side (last evaluation)</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Loss</th>
                <th scope="col">Schedule</th>
                <th scope="col">Trained on</th>
                <NumTh>Steps</NumTh>
                <NumTh>lr (retriever)</NumTh>
                <NumTh>Accuracy</NumTh>
                <NumTh>Recall@5</NumTh>
                <NumTh>Spearman</NumTh>
              </tr>
            </thead>
            <tbody>
              {chosen.map((m) => {
                const last = m.evals[m.evals.length - 1]?.result;
                return (
                  <tr key={m.id}>
                    <th scope="row">{m.name}</th>
                    <td>{m.config.retrieverLoss}</td>
                    <td>{m.config.schedule}</td>
                    <td>{runOrigin(m)}</td>
                    <td className="num">{m.steps}</td>
                    <td className="num">{m.config.lrRetriever.toExponential(0)}</td>
                    <td className="num">{pct(last?.accuracy.retrieved)}</td>
                    <td className="num">{fmt(last?.recall[5])}</td>
                    <td className="num">{fmt(last?.alignment.spearman)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </CellFrame>
  );
}
