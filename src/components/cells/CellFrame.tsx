// The frame every notebook cell shares: its title and kind, a status line, and the cell's own
// controls (move, remove); the body is the cell. Keyboard: every control is a labelled button.

import type { ReactNode } from 'react';
import type { CellKind } from '../../notebook/schema';
import { useStore } from '../../store';

export type CellStatus = { text: string; tone?: 'ok' | 'bad' | 'busy' | 'muted' };

export const CELL_TITLES: Record<CellKind, string> = {
  markdown: 'Note',
  data: 'Data',
  models: 'Models',
  index: 'Index',
  train: 'Train',
  evaluate: 'Evaluate',
  inspect: 'Inspect',
  compare: 'Compare',
};

export function CellFrame({
  id,
  kind,
  index,
  count,
  status,
  actions,
  children,
}: {
  id: string;
  kind: CellKind;
  index: number;
  count: number;
  status?: CellStatus;
  /** The cell's run / stop buttons, shown in its header. */
  actions?: ReactNode;
  children: ReactNode;
}) {
  const moveCell = useStore((s) => s.moveCell);
  const removeCell = useStore((s) => s.removeCell);
  const title = CELL_TITLES[kind];
  return (
    <section className={`panel cell cell-${kind}`} aria-labelledby={`${id}-title`} data-testid={`cell-${kind}`} data-cell-id={id}>
      <div className="cell-head">
        <h2 id={`${id}-title`}>
          <span className="cell-number" aria-hidden="true">
            [{index + 1}]
          </span>{' '}
          {title}
        </h2>
        {status && (
          <span className={`cell-status ${status.tone ?? 'muted'}`} role="status" data-testid={`cell-status-${kind}`}>
            {status.text}
          </span>
        )}
        <div className="cell-actions">
          {actions}
          <button
            type="button"
            className="icon"
            aria-label={`Move ${title} cell up`}
            disabled={index === 0}
            onClick={() => moveCell(id, -1)}
          >
            ↑
          </button>
          <button
            type="button"
            className="icon"
            aria-label={`Move ${title} cell down`}
            disabled={index === count - 1}
            onClick={() => moveCell(id, 1)}
          >
            ↓
          </button>
          <button type="button" className="icon" aria-label={`Remove ${title} cell`} onClick={() => removeCell(id)}>
            ✕
          </button>
        </div>
      </div>
      <div className="cell-body">{children}</div>
    </section>
  );
}
