// The Inspect cell (connected), MedRank's signature view. Pick a run, a question it trained on
// and a step: its top-K candidates with retriever score, sampling probability, sampled or not,
// utility (the generator's answer NLL given that document alone), rank by retriever against rank
// by utility, the gold passage marked, how the update moved each rank and how the ranks moved
// across the steps the question was in; a scatter of score against utility; and, for one
// document, which query token matched which document token under MaxSim. Below it, the step
// explainer walks the same step stage by stage. A run trained on other data (an imported one)
// shows its own numbers, and says plainly which ids the loaded dataset lacks. A run whose
// evaluations carry per-question results also shows its held-out questions (HeldOut.tsx).

import { useEffect, useMemo, useState } from 'react';
import type { InspectCell as InspectCellConfig, RunMeta } from '../../notebook/schema';
import { useStore } from '../../store';
import { maxsimKey } from '../../store/textsSlice';
import { Chart, type Series } from '../Chart';
import {
  candidateRows,
  corpusGapMessage,
  corpusGaps,
  fmt,
  questionAt,
  questionsOf,
  rankHistory,
  runOrigin,
  type CandidateRow,
} from '../runView';
import { CellFrame } from './CellFrame';
import { HeldOut } from './HeldOut';
import { StepExplainer } from './StepExplainer';
import { NumTh } from './NumTh';

export function InspectCell({ cell, index, count }: { cell: InspectCellConfig; index: number; count: number }) {
  const list = useStore((s) => s.runs.list);
  const allRecords = useStore((s) => s.runs.records);
  const texts = useStore((s) => s.texts);
  const dataReady = useStore((s) => s.data.status === 'ready');
  const { updateCell, loadRecords, lookupTexts } = useStore.getState();

  const run: RunMeta | null = list.find((m) => m.id === cell.runId) ?? list[list.length - 1] ?? null;
  const records = run ? allRecords[run.id] : undefined;
  useEffect(() => {
    if (run && !records) void loadRecords(run.id);
  }, [run, records, loadRecords]);

  const questions = useMemo(() => (records ? questionsOf(records) : []), [records]);
  const qid = questions.some((q) => q.id === cell.questionId) ? cell.questionId! : (questions[0]?.id ?? null);
  const steps = questions.find((q) => q.id === qid)?.steps ?? [];
  const step = cell.step !== null && steps.includes(cell.step) ? cell.step : (steps[steps.length - 1] ?? null);
  const q = records && qid !== null && step !== null ? questionAt(records, step, qid) : null;
  const rows = useMemo(() => (q ? candidateRows(q) : []), [q]);
  const history = useMemo(() => (records && qid ? rankHistory(records, qid) : null), [records, qid]);
  const [focus, setFocus] = useState<string | null>(null);

  // Texts for the question list and the shown candidates (ids only without a loaded dataset).
  const docIds = rows.map((r) => r.docId).join('\u0000');
  useEffect(() => {
    if (dataReady && questions.length)
      void lookupTexts(
        questions.map((x) => x.id),
        docIds ? docIds.split('\u0000') : [],
      );
  }, [dataReady, questions, docIds, lookupTexts]);

  const set = (p: Partial<InspectCellConfig>): void => updateCell(cell.id, p);
  const questionText = qid ? texts.questions[qid] : undefined;
  const gap = q && qid && dataReady ? corpusGapMessage(corpusGaps(q, texts.missing), qid) : null;
  const questionMissing = qid !== null && Object.hasOwn(texts.missing.questions, qid);

  return (
    <CellFrame
      id={cell.id}
      kind="inspect"
      index={index}
      count={count}
      status={run ? { text: `${run.name}, ${records?.length ?? 0} steps recorded`, tone: 'ok' } : { text: 'no runs yet' }}
    >
      {!run && <p className="muted">Run a Train cell: every step's candidates, scores and utilities show here.</p>}
      {run && (
        <div className="row inspect-pickers">
          <label>
            Run{' '}
            <select
              value={run.id}
              onChange={(e) => set({ runId: e.target.value, questionId: null, step: null })}
              data-testid="inspect-run"
            >
              {list.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                  {m.imported ? ` (${runOrigin(m)})` : ''}
                </option>
              ))}
            </select>
          </label>
          <label>
            Question{' '}
            <select
              value={qid ?? ''}
              onChange={(e) => set({ questionId: e.target.value, step: null })}
              data-testid="inspect-question"
            >
              {questions.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.id}
                  {texts.questions[x.id] ? `: ${texts.questions[x.id]!.question.slice(0, 60)}` : ''}
                </option>
              ))}
            </select>
          </label>
          <label>
            Step{' '}
            <select value={step ?? ''} onChange={(e) => set({ step: Number(e.target.value) })} data-testid="inspect-step">
              {steps.map((s) => (
                <option key={s} value={s}>
                  {s + 1}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {questionText && (
        <blockquote className="question" data-testid="inspect-question-text">
          <strong>{questionText.question}</strong>
          {questionText.options && (
            <span className="muted">
              {' '}
              Options: {questionText.options.join(' · ')}. Answer: <em>{questionText.answer}</em>.
            </span>
          )}
        </blockquote>
      )}
      {!dataReady && run && <p className="muted">Load the data (Data cell) to see the question and document texts.</p>}
      {gap && (
        <p className="muted" role="status" data-testid="inspect-corpus-gap">
          {gap}
        </p>
      )}
      {q && (
        <>
          <CandidateTable
            rows={rows}
            history={history}
            docs={texts.docs}
            missing={dataReady ? texts.missing.docs : {}}
            focus={focus}
            onFocus={setFocus}
          />
          <ScoreUtilityScatter rows={rows} />
          {focus && Object.hasOwn(texts.missing.docs, focus) && (
            <p className="muted" data-testid="maxsim-missing">
              <code>{focus}</code> is not in the loaded dataset: there are no tokens to match. Load the data this run was trained
              on to see them.
            </p>
          )}
          {focus && !Object.hasOwn(texts.missing.docs, focus) && questionText && (
            <MaxSimView query={questionText.question} docId={focus} docTitle={texts.docs[focus]?.title ?? null} />
          )}
          {focus && !questionText && (
            <p className="muted">
              {questionMissing
                ? 'The question is not in the loaded dataset, so its token matches cannot be computed.'
                : 'Load the data and the retriever to see the token matches.'}
            </p>
          )}
          {records && step !== null && qid && (
            <StepExplainer records={records} run={run!} step={step} questionId={qid} docs={texts.docs} />
          )}
        </>
      )}
      {run && <HeldOut run={run} />}
      {texts.error && (
        <p className="error" role="alert">
          {texts.error}
        </p>
      )}
    </CellFrame>
  );
}

function move(row: CandidateRow): string {
  if (row.rankAfter === null) return '–';
  const d = row.rankRetriever - row.rankAfter;
  return d > 0 ? `↑${d}` : d < 0 ? `↓${-d}` : '=';
}

function CandidateTable({
  rows,
  history,
  docs,
  missing,
  focus,
  onFocus,
}: {
  rows: CandidateRow[];
  history: ReturnType<typeof rankHistory> | null;
  docs: Record<string, { title: string | null; text: string }>;
  /** Documents the loaded dataset does not have. */
  missing: Record<string, true>;
  focus: string | null;
  onFocus: (id: string) => void;
}) {
  return (
    <table className="inspector" data-testid="inspector-table">
      <caption>
        Candidates by retriever score. Utility is the generator&apos;s mean answer NLL given that document alone (lower is more
        useful); ★ marks a gold passage.
      </caption>
      <thead>
        <tr>
          <NumTh title="rank by retriever score">Rank</NumTh>
          <th scope="col">Document</th>
          <NumTh>Score</NumTh>
          <NumTh>P(draw)</NumTh>
          <th scope="col">Sampled</th>
          <NumTh>Utility (NLL)</NumTh>
          <NumTh title="rank among the judged documents by utility">Rank by utility</NumTh>
          <NumTh title="rank after this step's update">After update</NumTh>
          <th scope="col" title="rank at each step this question was trained on">
            Rank across steps
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const h = history?.docs.get(r.docId);
          const d = docs[r.docId];
          return (
            <tr
              key={r.docId}
              data-testid="inspector-row"
              data-doc-id={r.docId}
              data-gold={r.gold}
              data-sampled={r.sampled}
              className={`${r.gold ? 'gold' : ''}${focus === r.docId ? ' focused' : ''}`}
            >
              <td className="num" data-col="rank">
                {r.rankRetriever}
              </td>
              <td className="doc">
                <button
                  type="button"
                  className="link"
                  onClick={() => onFocus(r.docId)}
                  aria-label={`Show token matches for ${r.docId}`}
                >
                  {r.gold && <span aria-label="gold passage">★ </span>}
                  <code>{r.docId}</code>
                </button>{' '}
                <span className="muted">
                  {d
                    ? (d.title ? `${d.title}. ` : '') + d.text.slice(0, 90) + (d.text.length > 90 ? '…' : '')
                    : Object.hasOwn(missing, r.docId)
                      ? '(not in the loaded dataset)'
                      : ''}
                </span>
              </td>
              <td className="num" data-col="score">
                {fmt(r.score, 4)}
              </td>
              <td className="num" data-col="prob">
                {fmt(r.prob, 3)}
              </td>
              <td data-col="sampled">{r.sampled ? 'yes' : 'no'}</td>
              <td className="num" data-col="utility">
                {fmt(r.utility, 4)}
              </td>
              <td className="num" data-col="rank-utility">
                {r.rankUtility ?? '–'}
              </td>
              <td className="num" data-col="after">
                {r.rankAfter ?? '–'} <span className="muted">{move(r)}</span>
              </td>
              <td data-col="history">{h ? h.before.map((b) => (b === null ? '·' : String(b))).join(' → ') : ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ScoreUtilityScatter({ rows }: { rows: CandidateRow[] }) {
  // Sorted by x: Chart.js takes unparsed data as sorted when it looks up the hovered point.
  const judged = rows.filter((r) => r.utility !== null).sort((a, b) => a.score - b.score);
  if (judged.length === 0) return <p className="muted">No document was judged by the generator at this step.</p>;
  const series: Series[] = [
    { label: 'judged', points: judged.filter((r) => !r.gold).map((r) => ({ x: r.score, y: r.utility })), color: '#0072B2' },
    {
      label: 'gold ★',
      points: judged.filter((r) => r.gold).map((r) => ({ x: r.score, y: r.utility })),
      color: '#D55E00',
      radius: 6,
    },
  ];
  return (
    <Chart
      type="scatter"
      title="Retriever score against utility (aligned: high score, low NLL)"
      series={series}
      xLabel="retriever score (MaxSim)"
      yLabel="answer NLL"
      testId="chart-scatter"
      height={220}
    />
  );
}

/** Which query token matched which document token: each query token's best document token and its similarity. */
function MaxSimView({ query, docId, docTitle }: { query: string; docId: string; docTitle: string | null }) {
  const key = maxsimKey(query, docId);
  const ex = useStore((s) => s.texts.maxsim[key]);
  const retrieverReady = useStore((s) => s.models.retriever.status === 'ready');
  const explain = useStore((s) => s.explainMaxSim);
  useEffect(() => {
    if (retrieverReady && !ex) void explain(query, docId);
  }, [retrieverReady, ex, explain, query, docId]);
  if (!retrieverReady) return <p className="muted">Load the retriever to see which tokens matched.</p>;
  if (!ex) return <p className="muted">Scoring {docId}…</p>;
  const best = Math.max(...ex.sim, 1e-9);
  const hits = new Map<number, number[]>();
  ex.match.forEach((d, qi) => hits.set(d, [...(hits.get(d) ?? []), qi]));
  return (
    <div className="maxsim" data-testid="maxsim-view" data-doc-id={docId} data-score={ex.score}>
      <h3>
        Why <code>{docId}</code>
        {docTitle ? ` (${docTitle})` : ''}: MaxSim = Σ over query tokens of the best document token = {ex.score.toFixed(4)}
      </h3>
      <p className="tokens" aria-label="query tokens and their best document token">
        {ex.queryTokens.map((t, i) => (
          <span key={i} className="qtok" title={`matches “${ex.docTokens[ex.match[i]!]}” at ${ex.sim[i]!.toFixed(3)}`}>
            {t}
            <sub>→{ex.docTokens[ex.match[i]!]}</sub>
          </span>
        ))}
      </p>
      <p className="tokens" aria-label="document tokens, shaded by the query tokens they matched">
        {ex.docTokens.map((t, i) => {
          const qs = hits.get(i);
          const w = qs ? Math.max(...qs.map((qi) => ex.sim[qi]!)) / best : 0;
          return (
            <span
              key={i}
              className={qs ? 'dtok hit' : 'dtok'}
              style={qs ? { backgroundColor: `rgba(0, 114, 178, ${(0.15 + 0.6 * w).toFixed(2)})` } : undefined}
              title={qs ? `best match of ${qs.map((qi) => `“${ex.queryTokens[qi]}”`).join(', ')}` : undefined}
            >
              {t}
            </span>
          );
        })}
      </p>
    </div>
  );
}
