// The Evaluate cell (connected): held-out evaluation of the models as they are now (as loaded, or
// as the last run left them): answer accuracy with no documents, with the top-m retrieved and
// with the gold passages (oracle), recall@k and MRR@10 of gold, and alignment. The result is kept
// in the notebook with the run it measured.

import { useState } from 'react';
import { SPLITS, type QuestionSplit } from '../../data/datasets';
import type { EvaluateCell as EvaluateCellConfig } from '../../notebook/schema';
import { useStore } from '../../store';
import { indexUsable } from '../../store/dataSlice';
import { CellFrame } from './CellFrame';
import { FieldError } from './FieldError';
import { ProgressLine } from './ProgressLine';
import { EvalTable } from './TrainCell';

export function EvaluateCell({ cell, index, count }: { cell: EvaluateCellConfig; index: number; count: number }) {
  const evaluating = useStore((s) => (s.runs.evaluating?.cellId === cell.id ? s.runs.evaluating : null));
  const busy = useStore((s) => Boolean(s.runs.evaluating || s.runs.active));
  const error = useStore((s) => s.runs.errors[cell.id] ?? null);
  const runName = useStore((s) => s.runs.list.find((m) => m.id === cell.last?.runId)?.name ?? null);
  // The steps the evaluated models had taken: the run's, 0 for models as loaded.
  const lastSteps = useStore((s) => s.runs.list.find((m) => m.id === cell.last?.runId)?.steps ?? 0);
  const ready = useStore(
    (s) => s.models.retriever.status === 'ready' && s.models.generator.status === 'ready' && indexUsable(s.data.index.status),
  );
  const { updateCell, runEvaluate, cancelEvaluate } = useStore.getState();
  // The text as typed; only a whole number 0 or more reaches the cell (and the notebook file).
  const [limitText, setLimitText] = useState(String(cell.limit));
  const limitOk = /^\s*\d+\s*$/.test(limitText);
  return (
    <CellFrame
      id={cell.id}
      kind="evaluate"
      index={index}
      count={count}
      status={
        evaluating
          ? { text: 'evaluating…', tone: 'busy' }
          : cell.last
            ? { text: `evaluated ${new Date(cell.last.at).toLocaleTimeString()}`, tone: 'ok' }
            : { text: ready ? 'ready to run' : 'needs data, models and the index' }
      }
      actions={
        <button
          type="button"
          disabled={!ready || busy || !limitOk}
          onClick={() => void runEvaluate(cell.id)}
          data-testid="evaluate-run"
        >
          Run
        </button>
      }
    >
      <div className="row">
        <label>
          Split{' '}
          <select value={cell.split} onChange={(e) => updateCell(cell.id, { split: e.target.value as QuestionSplit })}>
            {SPLITS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Questions (0: all){' '}
          <input
            inputMode="numeric"
            size={6}
            value={limitText}
            aria-invalid={!limitOk}
            aria-describedby={limitOk ? undefined : `${cell.id}-error-limit`}
            data-testid="evaluate-limit"
            onChange={(e) => {
              setLimitText(e.target.value);
              if (/^\s*\d+\s*$/.test(e.target.value)) updateCell(cell.id, { limit: Number(e.target.value) });
            }}
          />
        </label>
        {!limitOk && (
          <FieldError id={`${cell.id}-error-limit`} testId="evaluate-error-limit">
            Questions must be a whole number, 0 or more.
          </FieldError>
        )}
      </div>
      {evaluating && (
        <ProgressLine p={evaluating.progress} testId="evaluate-progress" onStop={cancelEvaluate} label="Evaluation" />
      )}
      {error && (
        <p className="error" role="alert" data-testid="evaluate-error">
          {error.message}
        </p>
      )}
      {cell.last && (
        <>
          <p className="muted">
            Models{' '}
            {cell.last.runId
              ? `as ${runName ?? 'a run not in this notebook (deleted, or of another notebook)'} left them`
              : 'as loaded (no run had trained them)'}
            , in {(cell.last.result.ms / 1000).toFixed(1)} s.
          </p>
          <EvalTable evals={[{ step: lastSteps, split: cell.split, result: cell.last.result }]} testId="evaluate-result" />
        </>
      )}
    </CellFrame>
  );
}
