// The Inspect cell (connected), MedRank's signature view. Pick a run, a question it trained on
// and a step: its top-K candidates with retriever score, sampling probability, sampled or not,
// utility (the generator's answer NLL given that document alone), rank by retriever against rank
// by utility, how much each document helps against no document, the gold passage marked (and
// where it ranked in the whole index when it is not a candidate), how the update moved each rank
// and how the ranks moved across the steps the question was in; the question's alignment before
// and after the update; a scatter of score against utility with arrows to the scores after; and,
// for one document, which query token matched which document token under MaxSim. Beside the
// table, the step explainer walks the same step stage by stage. A run trained on other data (an imported one)
// shows its own numbers, and says plainly which ids the loaded dataset lacks. A run whose
// evaluations carry per-question results also shows its held-out questions (HeldOut.tsx).

import { useEffect, useMemo, useState } from 'react';
import type { InspectCell as InspectCellConfig, RunMeta } from '../../notebook/schema';
import { useStore } from '../../store';
import { maxsimKey } from '../../store/textsSlice';
import {
  candidateRows,
  corpusGapMessage,
  corpusGaps,
  fmt,
  goldLine,
  questionAlignment,
  questionAt,
  questionsOf,
  rankHistory,
  runOrigin,
  scatterView,
  type CandidateRow,
} from '../runView';
import { drawColumn } from '../trendView';
import { CellFrame } from './CellFrame';
import { HeldOut } from './HeldOut';
import { RunTrends } from './RunTrends';
import { StepExplainer } from './StepExplainer';
import { NumTh } from './NumTh';
import { ScoreScatter } from './ScoreScatter';

export function InspectCell({ cell, index, count }: { cell: InspectCellConfig; index: number; count: number }) {
  const list = useStore((s) => s.runs.list);
  const trainedBy = useStore((s) => s.runs.trainedBy);
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
          <label className="inspect-question-picker">
            Question{' '}
            <select
              value={qid ?? ''}
              onChange={(e) => set({ questionId: e.target.value, step: null })}
              data-testid="inspect-question"
            >
              {questions.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.id}
                  {texts.questions[x.id] ? `: ${texts.questions[x.id]!.question}` : ''}
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
          <AlignmentSummary q={q} />
          <div className="inspect-grid">
            <div className="inspect-main">
              <CandidateTable
                draw={drawColumn(run!.config, records?.find((r) => r.step === step)?.trains ?? { retriever: false })}
                rows={rows}
                history={history}
                docs={texts.docs}
                missing={dataReady ? texts.missing.docs : {}}
                focus={focus}
                onFocus={setFocus}
                nllNoDoc={q.nllNoDoc}
              />
              {focus && Object.hasOwn(texts.missing.docs, focus) && (
                <p className="muted" data-testid="maxsim-missing">
                  <code>{focus}</code> is not in the loaded dataset: there are no tokens to match. Load the data this run was
                  trained on to see them.
                </p>
              )}
              {focus && !Object.hasOwn(texts.missing.docs, focus) && questionText && (
                <MaxSimView
                  query={questionText.question}
                  docId={focus}
                  docTitle={texts.docs[focus]?.title ?? null}
                  recorded={rows.find((r) => r.docId === focus)?.score ?? null}
                  step={step!}
                  run={run!}
                  trainedBy={trainedBy === null ? null : (list.find((m) => m.id === trainedBy)?.name ?? trainedBy)}
                />
              )}
              {focus && !questionText && (
                <p className="muted">
                  {questionMissing
                    ? 'The question is not in the loaded dataset, so its token matches cannot be computed.'
                    : 'Load the data and the retriever to see the token matches.'}
                </p>
              )}
            </div>
            <div className="inspect-side">
              <ScoreScatter view={scatterView(q)} />
              {records && step !== null && qid && (
                <StepExplainer records={records} run={run!} step={step} questionId={qid} docs={texts.docs} />
              )}
            </div>
          </div>
        </>
      )}
      {run && records && <RunTrends run={run} records={records} />}
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
  draw,
  rows,
  history,
  docs,
  missing,
  focus,
  onFocus,
  nllNoDoc,
}: {
  /** The P(draw) column's heading and what it is; null: the step drew nothing, so no column. */
  draw: { label: string; title: string } | null;
  rows: CandidateRow[];
  history: ReturnType<typeof rankHistory> | null;
  docs: Record<string, { title: string | null; text: string }>;
  /** Documents the loaded dataset does not have. */
  missing: Record<string, true>;
  focus: string | null;
  onFocus: (id: string) => void;
  /** The answer NLL with no document (undefined: not recorded). */
  nllNoDoc: number | null | undefined;
}) {
  return (
    <table className="inspector" data-testid="inspector-table">
      <caption>
        Candidates by retriever score. Utility is the generator&apos;s mean answer NLL given that document alone (lower is more
        useful);{' '}
        {nllNoDoc === undefined || nllNoDoc === null ? (
          <>the NLL with no document was {nllNoDoc === undefined ? 'not recorded for this run' : 'not computed at this step'}.</>
        ) : (
          <span data-testid="inspect-nll-no-doc">
            with no document it is {fmt(nllNoDoc, 4)}, and &ldquo;helps by&rdquo; is that minus the utility.
          </span>
        )}{' '}
        ★ marks a gold passage.
      </caption>
      <thead>
        <tr>
          <NumTh title="rank by retriever score">Rank</NumTh>
          <th scope="col">Document</th>
          <NumTh>Score</NumTh>
          {draw && <NumTh title={draw.title}>{draw.label}</NumTh>}
          <th scope="col">Sampled</th>
          <NumTh>Utility (NLL)</NumTh>
          <NumTh title="the NLL with no document minus this utility: how much the document lowers the answer NLL">Helps by</NumTh>
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
              {draw && (
                <td className="num" data-col="prob">
                  {fmt(r.prob, 3)}
                </td>
              )}
              <td data-col="sampled">{r.sampled ? 'yes' : 'no'}</td>
              <td className="num" data-col="utility">
                {fmt(r.utility, 4)}
              </td>
              <td className={`num${r.helps !== null && r.helps < 0 ? ' hurts' : ''}`} data-col="helps">
                {r.helps === null ? '–' : `${r.helps >= 0 ? '+' : '−'}${Math.abs(r.helps).toFixed(4)}`}
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

/** The question's alignment before and after the update, and where its gold passage ranked in the whole index. */
function AlignmentSummary({ q }: { q: NonNullable<ReturnType<typeof questionAt>> }) {
  const a = questionAlignment(q);
  const gold = goldLine(q);
  const judged = q.candidates.filter((c) => c.utility !== null).length;
  return (
    <div className="inspect-summary">
      <p data-testid="inspect-alignment" data-before={a.before ?? ''} data-after={a.after ?? ''}>
        This question&apos;s Spearman(score, −NLL) over its {judged} judged documents:{' '}
        <strong>{a.before === null ? 'undefined' : fmt(a.before, 3)}</strong> before the update
        {a.after === null ? (
          <span className="muted"> (after the update: scores after were not recorded for this step)</span>
        ) : (
          <>
            , <strong>{fmt(a.after, 3)}</strong> after it
          </>
        )}
        . Positive: the retriever ranks the documents as the generator finds them useful.
      </p>
      <p
        data-testid="inspect-gold"
        data-kind={gold.kind}
        data-rank={gold.kind === 'ranked' ? gold.rank : ''}
        data-of={gold.kind === 'ranked' ? gold.of : ''}
        className={gold.kind === 'ranked' && !gold.candidate ? 'gold-outside' : undefined}
      >
        ★ {gold.text}
      </p>
    </div>
  );
}

/** Which query token matched which document token: each query token's best document token and its similarity. */
function MaxSimView({
  query,
  docId,
  docTitle,
  recorded,
  step,
  run,
  trainedBy,
}: {
  query: string;
  docId: string;
  docTitle: string | null;
  /** The table's score of this document at the shown step (null: not a candidate). */
  recorded: number | null;
  step: number;
  run: RunMeta;
  /** The name of the run that last trained the loaded retriever (null: as loaded). */
  trainedBy: string | null;
}) {
  const key = maxsimKey(query, docId);
  const ex = useStore((s) => s.texts.maxsim[key]);
  const retrieverReady = useStore((s) => s.models.retriever.status === 'ready');
  const explain = useStore((s) => s.explainMaxSim);
  /** The hovered (or focused) query token, whose matched document token is highlighted. */
  const [hover, setHover] = useState<number | null>(null);
  useEffect(() => {
    if (retrieverReady && !ex) void explain(query, docId);
  }, [retrieverReady, ex, explain, query, docId]);
  if (!retrieverReady) return <p className="muted">Load the retriever to see which tokens matched.</p>;
  if (!ex) return <p className="muted">Scoring {docId}…</p>;
  const best = Math.max(...ex.sim, 1e-9);
  const hits = new Map<number, number[]>();
  ex.match.forEach((d, qi) => hits.set(d, [...(hits.get(d) ?? []), qi]));
  const matched = hover === null ? null : ex.match[hover]!;
  const differs = recorded !== null && Math.abs(recorded - ex.score) >= 5e-5;
  const now = trainedBy ? `as the run “${trainedBy}” left it` : 'as loaded (no run has trained it since)';
  const hasMask = ex.queryTokens.includes('[MASK]');
  return (
    <div
      className="maxsim"
      data-testid="maxsim-view"
      data-doc-id={docId}
      data-score={ex.score}
      data-recorded-score={recorded ?? ''}
      data-vectors={ex.vectors}
    >
      <h3>
        Why <code>{docId}</code>
        {docTitle ? ` (${docTitle})` : ''}: MaxSim = Σ over query tokens of the best document token = {ex.score.toFixed(4)}
      </h3>
      <p data-testid="maxsim-which">
        These matches use the retriever loaded now, {now}, with the document&apos;s vectors{' '}
        {ex.vectors === 'index' ? 'from the index' : 'encoded from its text'}: not the retriever of {run.name}&apos;s step{' '}
        {step + 1}.{' '}
        {recorded === null ? (
          'The document was not a candidate at that step.'
        ) : differs ? (
          <>
            At that step the table&apos;s score was <strong data-testid="maxsim-recorded">{recorded.toFixed(4)}</strong>; now it
            is <strong data-testid="maxsim-now">{ex.score.toFixed(4)}</strong> (the retriever has changed since
            {run.config.dropout ? ', and a training step scores under dropout' : ''}).
          </>
        ) : (
          <>
            The score equals the table&apos;s, <strong data-testid="maxsim-recorded">{recorded.toFixed(4)}</strong>.
          </>
        )}
      </p>
      <p className="muted">
        Tokens: [CLS] and [SEP] frame the query; [unused0] is ColBERT&apos;s query marker ([Q]);
        {hasMask
          ? ' [MASK] pads the query to its fixed length (query augmentation): those tokens match document tokens too and add to the score.'
          : ' this query fills its length, so there is no [MASK] padding.'}{' '}
        Hover a query token to see its document token.
      </p>
      <p className="tokens" aria-label="query tokens and their best document token">
        {ex.queryTokens.map((t, i) => (
          <span
            key={i}
            className={hover === i ? 'qtok active' : 'qtok'}
            data-testid="maxsim-qtok"
            tabIndex={0}
            title={`matches “${ex.docTokens[ex.match[i]!]}” at ${ex.sim[i]!.toFixed(3)}`}
            onMouseEnter={() => setHover(i)}
            onMouseLeave={() => setHover(null)}
            onFocus={() => setHover(i)}
            onBlur={() => setHover(null)}
          >
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
              className={`${qs ? 'dtok hit' : 'dtok'}${matched === i ? ' matched' : ''}`}
              data-testid={matched === i ? 'maxsim-matched' : undefined}
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
