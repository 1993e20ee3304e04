// Asked before a cell of an imported notebook fetches from places the user has not confirmed
// (store/sources.ts): the list, then Fetch or Don't fetch (not "Cancel": nothing is under way yet,
// and the cells keep one Stop for what is). Nothing is fetched until Fetch.

import { useState, type ReactNode } from 'react';
import type { Cell } from '../../notebook/schema';
import { useStore } from '../../store';
import { remoteSourcesOf } from '../../store/sources';

/** The sources of `cell` still to confirm (empty: it may run). */
export function useUnconfirmed(cell: Cell): string[] {
  const unconfirmed = useStore((s) => s.notebook.unconfirmed);
  return remoteSourcesOf(cell).filter((x) => unconfirmed.includes(x));
}

export function ConfirmSources({ sources, onFetch, onCancel }: { sources: string[]; onFetch: () => void; onCancel: () => void }) {
  return (
    <div
      className="confirm-sources"
      role="alertdialog"
      aria-label="Confirm where this cell fetches from"
      data-testid="confirm-sources"
    >
      <p>
        This notebook was imported from a file. Running this cell fetches from{' '}
        {sources.length === 1 ? 'this address' : 'these addresses'}, which the file chose:
      </p>
      <ul>
        {sources.map((x) => (
          <li key={x}>
            <code>{x}</code>
          </li>
        ))}
      </ul>
      <div className="row">
        <button
          type="button"
          onClick={() => {
            useStore.getState().confirmSources(sources);
            onFetch();
          }}
        >
          Fetch from {sources.length === 1 ? 'it' : 'them'}
        </button>
        <button type="button" onClick={onCancel}>
          Don’t fetch
        </button>
      </div>
    </div>
  );
}

/**
 * Run `run` for `cell`, asking first when the cell would fetch from unconfirmed places: `start`
 * runs it or opens the question, `panel` is the question to show (null when not asking).
 */
export function useConfirmedRun(cell: Cell, run: () => void): { start: () => void; panel: ReactNode } {
  const unconfirmed = useUnconfirmed(cell);
  const [asking, setAsking] = useState(false);
  const panel =
    asking && unconfirmed.length > 0 ? (
      <ConfirmSources
        sources={unconfirmed}
        onFetch={() => {
          setAsking(false);
          run();
        }}
        onCancel={() => setAsking(false)}
      />
    ) : null;
  return { start: () => (unconfirmed.length ? setAsking(true) : run()), panel };
}
