// Held-out questions across a run's evaluations (inside the Inspect cell): for a run whose
// evaluations carry per-question results (the PyTorch twin's --per-question, so the demo's
// recorded runs), one question's gold-passage rank and answers at each evaluation step, and the
// questions whose gold passage climbed into the top m while the answer went from wrong to right,
// first in the list, then those that fell out of it while the answer went from right to wrong. Training steps only show the questions a run trained on; this is where a
// reader sees the retriever learn on questions it never trained on.

import { useEffect, useMemo, useState } from 'react';
import type { RunMeta } from '../../notebook/schema';
import { useStore } from '../../store';
import { heldOutClimbs, heldOutHistory, perQuestionEvals, type Climb } from '../runView';
import { NumTh } from './NumTh';

const mark = (c: number | null): string => (c === null ? '–' : c ? '✓ right' : '✗ wrong');
const rank = (r: number | null): string => (r === null ? 'below 10' : String(r));

/** "rank 6 → 1 by step 100" (steps as the evaluations name them: after that many updates). */
export const climbLabel = (c: Climb): string => `rank ${rank(c.from)} → ${rank(c.to)} by step ${c.byStep}`;

export function HeldOut({ run }: { run: RunMeta }) {
  const texts = useStore((s) => s.texts);
  const dataReady = useStore((s) => s.data.status === 'ready');
  const { lookupTexts } = useStore.getState();
  const evals = useMemo(() => perQuestionEvals(run.evals), [run.evals]);
  const climbs = useMemo(() => heldOutClimbs(run.evals, run.config.topM), [run.evals, run.config.topM]);
  const falls = useMemo(() => heldOutClimbs(run.evals, run.config.topM, { falls: true }), [run.evals, run.config.topM]);
  const ids = evals.at(-1)?.result.perQuestion?.ids ?? [];
  const [picked, setPicked] = useState<string | null>(null);
  const qid = picked !== null && ids.includes(picked) ? picked : (climbs[0]?.id ?? ids[0] ?? null);
  const history = qid ? heldOutHistory(run.evals, qid) : [];
  useEffect(() => {
    if (dataReady && qid) void lookupTexts([qid], []);
  }, [dataReady, qid, lookupTexts]);
  if (evals.length === 0 || qid === null) return null;

  const m = run.config.topM;
  const listed = new Set([...climbs, ...falls].map((c) => c.id));
  const s = (n: number): string => (n === 1 ? '' : 's');
  const t = texts.questions[qid];
  return (
    <section className="held-out" data-testid="held-out">
      <h4>Held-out questions across the evaluations</h4>
      <p className="muted">
        {evals.length} evaluations of {ids.length} {evals[0]!.split} questions this run never trained on (steps{' '}
        {evals.map((e) => e.step).join(', ')}). Between the first and the last,{' '}
        <span data-testid="held-out-climbs">{climbs.length}</span> question{s(climbs.length)}
        &apos; gold passage climbed into the top {m} and the answer went from wrong to right (listed first), and{' '}
        <span data-testid="held-out-falls">{falls.length}</span> fell out of it and went from right to wrong (listed next).
      </p>
      <label>
        Question{' '}
        <select value={qid} onChange={(e) => setPicked(e.target.value)} data-testid="held-out-question">
          {climbs.map((c) => (
            <option key={c.id} value={c.id}>
              {c.id}: climbs, {climbLabel(c)}
            </option>
          ))}
          {falls.map((c) => (
            <option key={c.id} value={c.id}>
              {c.id}: falls, {climbLabel(c)}
            </option>
          ))}
          {ids
            .filter((id) => !listed.has(id))
            .map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
        </select>
      </label>
      {t && (
        <blockquote className="question" data-testid="held-out-question-text">
          <strong>{t.question}</strong>
          {t.options && <span className="muted"> Options: {t.options.join(' · ')}.</span>} Answer: <em>{t.answer}</em>.
        </blockquote>
      )}
      <table className="inspector" data-testid="held-out-table">
        <caption>
          At each evaluation: the rank of the first gold passage among the retrieved, and whether the generator&apos;s answer was
          right with no document, with the top {m} retrieved and with the gold passage.
        </caption>
        <thead>
          <tr>
            <NumTh>Step</NumTh>
            <NumTh>Gold passage&apos;s rank</NumTh>
            <th scope="col">No document</th>
            <th scope="col">Top {m} retrieved</th>
            <th scope="col">Gold passage</th>
          </tr>
        </thead>
        <tbody>
          {history.map((h) => (
            <tr key={h.step} data-testid="held-out-row" className={h.rank !== null && h.rank <= m ? 'gold' : ''}>
              <td className="num">{h.step}</td>
              <td className="num" data-col="rank">
                {rank(h.rank)}
              </td>
              <td>{mark(h.correct.none)}</td>
              <td data-col="retrieved">{mark(h.correct.retrieved)}</td>
              <td>{mark(h.correct.oracle)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
