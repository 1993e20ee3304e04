// How the page words where a run's models started and where the loaded models are (pure, unit
// tested): in the runs lists, next to the Train cell's Run button, and as Compare's warning when
// the runs it shows did not start from the same models.

import type { RunMeta, RunStart } from '../notebook/schema';

/** A run's name by id (from `known` when it is not in the list, e.g. of another notebook; else by its id). */
export type RunNames = (id: string) => string;

export const runNamesOf =
  (runs: readonly Pick<RunMeta, 'id' | 'name'>[], known: Readonly<Record<string, string>> = {}): RunNames =>
  (id) =>
    runs.find((m) => m.id === id)?.name ?? known[id] ?? `run ${id}`;

/** Where a run started, in a runs list: "loaded checkpoints", "LLM-Rank #2 after step 4", or "not recorded". */
export function startText(start: RunStart | undefined, names: RunNames): string {
  if (!start) return 'not recorded';
  return start.from === 'loaded' ? 'loaded checkpoints' : `${names(start.runId)} after step ${start.step}`;
}

/** Where the loaded models are, in a sentence. */
export function modelsText(models: RunStart, names: RunNames): string {
  if (models.from === 'loaded') return 'The models are as loaded.';
  return `The models are as ${names(models.runId)} left them (after step ${models.step}).`;
}

/** A start as a key: runs with the same key started from the same models. */
const startKey = (s: RunStart | undefined): string => (!s ? 'unknown' : s.from === 'loaded' ? 'loaded' : `${s.runId}@${s.step}`);

/**
 * Compare's warning, or null when every run shown started from the same models: which runs
 * started from where (runs imported from a file or saved before starts were recorded count as
 * unknown, and are said to be).
 */
export function startsWarning(runs: readonly Pick<RunMeta, 'name' | 'start'>[], names: RunNames): string | null {
  if (runs.length < 2) return null;
  const groups = new Map<string, string[]>();
  for (const m of runs) {
    const k = startKey(m.start);
    groups.set(k, [...(groups.get(k) ?? []), m.name]);
  }
  const unknown = groups.get('unknown');
  if (groups.size === 1 && !unknown) return null;
  const parts = [...groups.entries()].map(([k, ns]) => {
    const where = k === 'unknown' ? 'an unrecorded start' : startText(runs.find((m) => startKey(m.start) === k)!.start, names);
    return `${ns.join(', ')}: ${where}`;
  });
  return groups.size === 1
    ? `Where ${unknown!.join(', ')} started is not recorded: they may not have started from the same models.`
    : `These runs did not all start from the same models (${parts.join('; ')}): differences may come from where they started, not only from how they trained.`;
}
