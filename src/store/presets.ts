// Training presets (public/presets/<name>.json) and a Train cell's config: the preset, then the
// fields the cell changed. Presets are fetched once per page.

import type { TrainCell } from '../notebook/schema';
import { resolveConfig, type TrainConfig } from '../training/config';

export const PRESETS = ['jmlr-code', 'jmlr-paper', 'jomed', 'atlas-pdist', 'replug', 'rag-frozen', 'infonce'] as const;

const cache = new Map<string, Promise<Partial<TrainConfig>>>();

export function loadPreset(name: string): Promise<Partial<TrainConfig>> {
  let p = cache.get(name);
  if (!p) {
    p = fetch(`/presets/${encodeURIComponent(name)}.json`).then(async (res) => {
      if (!res.ok) throw new Error(`preset ${name}: /presets/${name}.json answered HTTP ${res.status}`);
      return (await res.json()) as Partial<TrainConfig>;
    });
    p.catch(() => cache.delete(name)); // a failed fetch is retried next time
    cache.set(name, p);
  }
  return p;
}

/** The partial config a Train cell describes: its preset's fields, then its own. */
export async function cellConfig(cell: TrainCell): Promise<Partial<TrainConfig>> {
  const preset = cell.preset ? await loadPreset(cell.preset) : {};
  return { ...preset, ...cell.overrides };
}

/**
 * The config a run of the cell trains with, here or on a cluster (its bundle): resolved, scores
 * after each update recorded (the inspector shows how each step moved the candidates), and a
 * checkpoint every tenth of the run when the config keeps none on the way. Throws ConfigError.
 */
export async function runConfigOf(cell: TrainCell): Promise<TrainConfig> {
  const config = resolveConfig({ ...(await cellConfig(cell)), recordScoresAfter: true });
  return config.checkpointEvery > 0 ? config : { ...config, checkpointEvery: Math.max(1, Math.floor(config.steps / 10)) };
}
