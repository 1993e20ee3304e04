// The step explainer, for teaching: one joint training step for one question, stage by stage,
// with the run's real numbers (from its step record): the candidates and their MaxSim scores, the
// sampling distribution and the draw, the generator's NLL per drawn document, each pair's share of
// the LLM-Rank loss, the gradient on each score, and how the update moved the ranks. Back and
// Next step through the stages (also the arrow keys on the stage list).

import { useState, type KeyboardEvent } from 'react';
import type { RunMeta, StepRecord } from '../../notebook/schema';
import { LOSS_HELP, LOSS_LABELS } from '../../training/config';
import { candidateRows, fmt, llmRankPairs, questionAlignment, questionAt } from '../runView';
import { NumTh } from './NumTh';

const STAGES = ['1. Candidates', '2. Sampling', '3. Utility', '4. Rank loss', '5. Gradient', '6. After the update'] as const;

export function StepExplainer({
  records,
  run,
  step,
  questionId,
  docs,
}: {
  records: readonly StepRecord[];
  run: RunMeta;
  step: number;
  questionId: string;
  docs: Record<string, { title: string | null; text: string }>;
}) {
  const [stage, setStage] = useState(0);
  const q = questionAt(records, step, questionId);
  const record = records.find((r) => r.step === step);
  if (!q || !record) return null;
  const rows = candidateRows(q);
  const c = run.config;
  const llmRank = c.retrieverLoss === 'llm-rank' ? llmRankPairs(q, c.llmRankMargin ?? 0) : null;
  /** The largest |gradient| of this question's candidates: the gradient bars are drawn relative to it. */
  const gradMax = llmRank ? Math.max(0, ...llmRank.grad.map((g) => Math.abs(g))) : 0;
  const byIndex = new Map(q.candidates.map((cand, i) => [i, cand]));
  const nameOf = (i: number): string => {
    const d = byIndex.get(i)!;
    return `${d.docId}${d.gold ? ' ★' : ''}`;
  };
  const title = (id: string): string => docs[id]?.title ?? '';
  const scores = q.candidates.map((x) => x.score);
  const lo = Math.min(...scores),
    hi = Math.max(...scores);
  const maxP = Math.max(...q.candidates.map((x) => x.prob));
  // Tabs pattern: the arrow keys move the selection and the focus with it.
  const onKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    const next =
      e.key === 'ArrowRight' ? Math.min(STAGES.length - 1, stage + 1) : e.key === 'ArrowLeft' ? Math.max(0, stage - 1) : null;
    if (next === null) return;
    e.preventDefault();
    setStage(next);
    e.currentTarget.querySelectorAll<HTMLButtonElement>('[role=tab]')[next]?.focus();
  };

  return (
    <div className="explainer" data-testid="step-explainer" data-stage={stage}>
      <h3>
        Step {step + 1} for this question, stage by stage ({run.name}: {c.retrieverLoss}, {c.schedule})
      </h3>
      <div role="tablist" aria-label="Stages of the step" className="stages" onKeyDown={onKey}>
        {STAGES.map((s, i) => (
          <button
            key={s}
            type="button"
            role="tab"
            aria-selected={i === stage}
            tabIndex={i === stage ? 0 : -1}
            onClick={() => setStage(i)}
          >
            {s}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={STAGES[stage]} data-testid="explainer-stage">
        {stage === 0 && (
          <>
            <p>
              The retriever encodes the question into token vectors and scores every passage in the index by MaxSim: for each
              query token, the similarity of its best-matching document token, summed. The top K = {q.candidates.length} become
              this step&apos;s candidates (range {fmt(lo, 3)} to {fmt(hi, 3)}).
            </p>
            <ol className="compact">
              {rows.map((r) => (
                <li key={r.docId}>
                  <code>{r.docId}</code>
                  {r.gold ? ' ★' : ''} {title(r.docId)} — score <strong>{fmt(r.score, 4)}</strong>
                </li>
              ))}
            </ol>
          </>
        )}
        {stage === 1 && (
          <>
            <p>
              Scores are min-max scaled to [−1, 1], s′ = 2 (s − {fmt(lo, 3)}) / {fmt(hi - lo, 3)} − 1, and turned into a
              distribution p = softmax(s′ / {c.samplingTemperature}).{' '}
              {c.sampling
                ? `n = ${c.sampled} documents were drawn from it without replacement (seeded by the run's seed and the step).`
                : `The top n = ${c.sampled} were taken (sampling off).`}
            </p>
            <ul className="bars" aria-label="sampling probability per candidate">
              {rows.map((r) => (
                <li key={r.docId} className={r.sampled ? 'drawn' : ''}>
                  <span className="bar-label">
                    <code>{r.docId}</code>
                    {r.gold ? ' ★' : ''}
                  </span>
                  <span className="bar" style={{ width: `${((r.prob / maxP) * 60).toFixed(1)}%` }} />
                  <span className="num">
                    {fmt(r.prob, 3)} {r.sampled ? '· drawn' : ''}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}
        {stage === 2 && (
          <>
            <p>
              The generator reads each drawn document alone with the question and scores the answer: its mean negative
              log-likelihood per answer token. A lower NLL means the document helped more. No gradient flows here.
              {q.nllNoDoc !== undefined && q.nllNoDoc !== null
                ? ` With no document the NLL is ${fmt(q.nllNoDoc, 4)}: a document helps by that minus its NLL.`
                : ''}
            </p>
            <table className="compact">
              <thead>
                <tr>
                  <th scope="col">Document</th>
                  <NumTh>Score</NumTh>
                  <NumTh>Answer NLL</NumTh>
                  <NumTh>Helps by</NumTh>
                  <NumTh>Rank by NLL</NumTh>
                </tr>
              </thead>
              <tbody>
                {rows
                  .filter((r) => r.utility !== null)
                  .sort((a, b) => a.utility! - b.utility!)
                  .map((r) => (
                    <tr key={r.docId}>
                      <th scope="row">
                        <code>{r.docId}</code>
                        {r.gold ? ' ★' : ''}
                      </th>
                      <td className="num">{fmt(r.score, 4)}</td>
                      <td className="num">{fmt(r.utility, 4)}</td>
                      <td className="num">{fmt(r.helps, 4)}</td>
                      <td className="num">{r.rankUtility}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </>
        )}
        {stage === 3 &&
          (llmRank ? (
            <>
              <p>
                LLM-Rank compares every pair of drawn documents: the logit is x = s′ₐ − s′ᵦ and the target y = 1 when a&apos;s
                answer NLL is lower. Each pair adds BCE(σ(x), y) / (1 + #pairs). This question&apos;s loss is{' '}
                <strong data-testid="explainer-question-loss">{fmt(llmRank.total, 5)}</strong> (the step&apos;s retriever loss,
                averaged over its {record.questions.length} questions, is {fmt(record.loss.retriever, 5)}).
              </p>
              <table className="compact" data-testid="explainer-pairs">
                <thead>
                  <tr>
                    <th scope="col">a</th>
                    <th scope="col">b</th>
                    <NumTh>x = s′ₐ − s′ᵦ</NumTh>
                    <NumTh>y</NumTh>
                    <NumTh>Share of the loss</NumTh>
                  </tr>
                </thead>
                <tbody>
                  {llmRank.pairs.map((p) => (
                    <tr key={`${p.a}-${p.b}`} className={p.x > 0 === (p.y === 1) ? '' : 'disagree'}>
                      <td>{nameOf(p.a)}</td>
                      <td>{nameOf(p.b)}</td>
                      <td className="num">{fmt(p.x, 3)}</td>
                      <td className="num">{p.y}</td>
                      <td className="num">{fmt(p.loss, 5)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className="muted">Highlighted pairs are ordered against the generator: they carry most of the loss.</p>
            </>
          ) : (
            <p data-testid="explainer-loss-help">
              This run used {LOSS_LABELS[c.retrieverLoss]}: {LOSS_HELP[c.retrieverLoss]} Its step loss is{' '}
              {fmt(record.loss.retriever, 5)}. The candidates&apos; scores, draws and utilities in the earlier stages are what it
              used; the pair-by-pair table is shown for LLM-Rank runs, whose loss is made of those pairs.
            </p>
          ))}
        {stage === 4 &&
          (llmRank ? (
            <>
              <p>
                The gradient of this question&apos;s loss with respect to each raw score (through the min-max scaling, so the top
                and bottom candidates move too). The optimizer steps against it: a negative gradient pushes the score up.
              </p>
              <p className="muted">
                Bars are scaled to this question&apos;s largest gradient. A document pushed up can still fall: the update averages
                the batch&apos;s questions and moves the one query encoder they share.
              </p>
              <ul className="bars" aria-label="gradient per candidate">
                {rows.map((r) => {
                  const i = q.candidates.findIndex((x) => x.docId === r.docId);
                  const g = llmRank.grad[i]!;
                  return (
                    <li key={r.docId}>
                      <span className="bar-label">
                        <code>{r.docId}</code>
                        {r.gold ? ' ★' : ''}
                      </span>
                      <span
                        className={g < 0 ? 'bar up' : 'bar down'}
                        data-share={gradMax > 0 ? (Math.abs(g) / gradMax).toFixed(3) : '0'}
                        style={{ width: `${gradMax > 0 ? ((60 * Math.abs(g)) / gradMax).toFixed(1) : '0'}%` }}
                      />
                      <span className="num">
                        {g === 0 ? '0' : g.toExponential(2)} {g < 0 ? '↑ pushed up' : g > 0 ? '↓ pushed down' : ''}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </>
          ) : (
            <p>The per-score gradient view is for LLM-Rank runs.</p>
          ))}
        {stage === 5 &&
          (rows.some((r) => r.rankAfter !== null) ? (
            <>
              <p>
                One AdamW step on {record.trains.generator ? 'both models' : 'the retriever'} (retriever lr {c.lrRetriever}
                {record.trains.generator ? `, generator lr ${c.lrGenerator}` : ''}), then the same candidates scored again under
                the same dropout masks. This question&apos;s Spearman(score, −NLL) went from {fmt(questionAlignment(q).before, 3)}{' '}
                to {fmt(questionAlignment(q).after, 3)}:
              </p>
              <table className="compact" data-testid="explainer-after">
                <thead>
                  <tr>
                    <th scope="col">Document</th>
                    <NumTh>Score before</NumTh>
                    <NumTh>after</NumTh>
                    <NumTh>Rank before → after</NumTh>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.docId}>
                      <th scope="row">
                        <code>{r.docId}</code>
                        {r.gold ? ' ★' : ''}
                      </th>
                      <td className="num">{fmt(r.score, 4)}</td>
                      <td className="num">{fmt(r.scoreAfter, 4)}</td>
                      <td className="num">
                        {r.rankRetriever} → {r.rankAfter}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : (
            <p>
              Scores after the update were not recorded for this step (the retriever did not train at this step, or the run had
              recordScoresAfter off).
            </p>
          ))}
      </div>
      <div className="toolbar">
        <button type="button" disabled={stage === 0} onClick={() => setStage(stage - 1)}>
          Back
        </button>
        <button type="button" disabled={stage === STAGES.length - 1} onClick={() => setStage(stage + 1)}>
          Next
        </button>
      </div>
    </div>
  );
}
