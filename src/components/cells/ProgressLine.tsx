// A progress bar with its message, an ETA once there is a rate to go by, and the cell's one Stop
// button (a cell whose header has a Stop, the Train cell, passes no onStop: one control per cell).

import { useState } from 'react';
import type { Progress } from '../../store/dataSlice';

/** Seconds left: the worker's estimate when it gave one, else at the mean rate since `startedAt` (performance.now()); null before any progress. */
export function etaSeconds(p: Progress | null, startedAt: number, now = performance.now()): number | null {
  if (p?.etaMs !== undefined) return p.etaMs / 1000; // the worker's, every phase still to come counted
  if (!p || !(p.total > 0) || !(p.done > 0) || p.done >= p.total) return null;
  const perUnit = (now - startedAt) / p.done;
  return ((p.total - p.done) * perUnit) / 1000;
}

export function formatEta(s: number | null): string {
  if (s === null) return '';
  if (s < 1) return 'about done';
  if (s < 90) return `about ${Math.ceil(s)} s left`;
  return `about ${Math.ceil(s / 60)} min left`;
}

export function ProgressLine({
  p,
  testId,
  onStop,
  startedAt,
  label = 'Progress',
}: {
  p: Progress | null;
  testId: string;
  /** Stop what the bar shows (a download, a build, an evaluation). */
  onStop?: () => void;
  /** performance.now() at the start, for the ETA (default: when this bar first showed). */
  startedAt?: number;
  label?: string;
}) {
  const [shown] = useState(() => performance.now());
  const eta = formatEta(etaSeconds(p, startedAt ?? shown));
  return (
    <div data-testid={testId} className="row progress-line">
      <progress value={p?.done ?? 0} max={p?.total || undefined} aria-label={label} />
      <span className="muted">
        {p?.message ?? 'starting…'}
        {eta ? ` · ${eta}` : ''}
      </span>
      {onStop && (
        <button type="button" onClick={onStop} data-testid={`${testId}-stop`}>
          Stop
        </button>
      )}
    </div>
  );
}
