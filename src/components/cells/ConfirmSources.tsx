// Asked before a cell of an imported notebook fetches from places the user has not confirmed
// (store/sources.ts): the list, then Fetch or Cancel. Nothing is fetched until Fetch.

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
          Cancel
        </button>
      </div>
    </div>
  );
}
