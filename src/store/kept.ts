// What opening another notebook (from Storage, an import, a fresh demo) leaves loaded, in words:
// the dataset, the models and the index stay in the worker as they are (nothing is unloaded or
// reloaded on a switch), so the page says what they are, where the new notebook's Data and Models
// cells name other sources, and when the models are as a run of the notebook left behind left them.

import type { Notebook } from '../notebook/schema';
import type { RunStart } from '../training/records';

export interface LoadedState {
  data: { summary: { name: string } | null };
  models: { retriever: { summary: { label: string } | null }; generator: { summary: { label: string } | null } };
  /** Where the loaded models are, and the names of the runs of the notebook left behind. */
  runs: { models: RunStart; list: { id: string; name: string }[] };
}

const sourceOf = (nb: Notebook, kind: 'data' | 'models'): string | null => {
  const c = nb.cells.find((x) => x.kind === kind);
  if (!c) return null;
  return JSON.stringify(c.kind === 'data' ? c.source : c.kind === 'models' ? [c.retriever, c.generator] : null);
};

/** The note for opening `after` in place of `before` (null when nothing is loaded). */
export function keptNote(s: LoadedState, before: Notebook, after: Notebook): string | null {
  const data = s.data.summary;
  const r = s.models.retriever.summary,
    g = s.models.generator.summary;
  if (!data && !r && !g) return null;
  const what = [data && `the data set ${data.name}`, r && `the retriever ${r.label}`, g && `the generator ${g.label}`].filter(
    Boolean,
  );
  const parts = [`Still loaded in this tab, as “${before.title}” left them: ${what.join(', ')} (and the index, if built).`];
  const differs = (kind: 'data' | 'models'): boolean => {
    const a = sourceOf(before, kind),
      b = sourceOf(after, kind);
    return a !== null && b !== null && a !== b;
  };
  if (data && differs('data')) parts.push('This notebook’s Data cell names another data set: run it to load that one.');
  if ((r || g) && differs('models')) parts.push('Its Models cell names other models: run it to load them.');
  if (s.runs.models.from === 'run') {
    const { runId, step } = s.runs.models;
    const name = s.runs.list.find((m) => m.id === runId)?.name ?? 'a run';
    parts.push(
      `The models are as ${name} of “${before.title}” left them after step ${step}; ` +
        'a run here starts from the loaded checkpoints unless told otherwise.',
    );
  }
  return parts.join(' ');
}
