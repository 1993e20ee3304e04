// A progress bar with its message, an ETA once there is a rate to go by, and a Cancel button.

import { useState } from 'react';
import type { Progress } from '../../store/dataSlice';

/** Seconds left at the mean rate since `startedAt` (performance.now()), or null before any progress. */
export function etaSeconds(p: Progress | null, startedAt: number, now = performance.now()): number | null {
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
  onCancel,
  startedAt,
  label = 'Progress',
}: {
  p: Progress | null;
  testId: string;
  onCancel?: () => void;
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
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}
