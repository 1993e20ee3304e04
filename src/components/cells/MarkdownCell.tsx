// A Markdown cell: notes between the steps. Shown rendered (sanitized: never scripts, see
// Markdown.tsx); Edit opens the text, and the notebook autosaves it as it is typed.

import { useState } from 'react';
import type { MarkdownCell as MarkdownCellConfig } from '../../notebook/schema';
import { useStore } from '../../store';
import { Markdown } from '../Markdown';
import { CellFrame } from './CellFrame';

export function MarkdownCell({ cell, index, count }: { cell: MarkdownCellConfig; index: number; count: number }) {
  const updateCell = useStore((s) => s.updateCell);
  const [editing, setEditing] = useState(false);
  return (
    <CellFrame
      id={cell.id}
      kind="markdown"
      index={index}
      count={count}
      actions={
        <button type="button" onClick={() => setEditing((e) => !e)} aria-pressed={editing}>
          {editing ? 'Done' : 'Edit'}
        </button>
      }
    >
      {editing ? (
        <textarea
          className="markdown-editor"
          aria-label="Markdown text"
          value={cell.text}
          rows={Math.min(20, Math.max(4, cell.text.split('\n').length + 1))}
          onChange={(e) => updateCell(cell.id, { text: e.target.value })}
        />
      ) : (
        <div data-testid="markdown-view">
          <Markdown text={cell.text || '*Empty note: Edit to write.*'} />
        </div>
      )}
    </CellFrame>
  );
}
