// Training presets (public/presets/<name>.json) and a Train cell's config: the preset, then the
// fields the cell changed. Presets are fetched once per page.

import type { TrainCell } from '../notebook/schema';
import { resolveConfig, type TrainConfig } from '../training/config';

export const PRESETS = [
  'jmlr-code',
  'jmlr-paper',
  'jomed',
  'atlas-pdist',
  'replug',
  'rag-frozen',
  'infonce',
  'bmretriever-pretrain',
  'bmretriever-finetune',
] as const;
export type PresetName = (typeof PRESETS)[number];

/** One line per preset: the method it sets up, what it optimises and whose it is (the Train cell shows it under the menu). */
export const PRESET_HELP: Record<PresetName, string> = {
  'jmlr-code':
    "JMLR (Wang et al. 2024) as its released code runs it: LLM-Rank trains the retriever to order sampled documents by the generator's answer NLL, both models every step.",
  'jmlr-paper': "JMLR as its paper reports it: the same LLM-Rank joint training with the paper's candidates, samples and rates.",
  jomed:
    'JOMED: the generator trains first with the retriever frozen, then the retriever with a KL towards the documents that let the generator pick the gold option.',
  'atlas-pdist':
    "Atlas PDist (Izacard et al. 2022): the retriever's distribution over the top candidates distilled from the generator's answer NLLs, both models every step.",
  replug: "REPLUG LSR (Shi et al. 2023): only the retriever trains, towards a frozen LM's answer likelihood given each document.",
  'rag-frozen':
    'The RAG baseline (Lewis et al. 2020) with a frozen retriever: only the generator learns to use what it retrieves.',
  infonce:
    'InfoNCE, contrastive retriever training (ColBERT, BMRetriever): the gold passage against the hardest other candidates, the generator untouched.',
  'bmretriever-pretrain':
    "BMRetriever's first stage (Xu et al. 2024): unsupervised InfoNCE pretraining on the corpus, a sentence against the rest of its passage (inverse cloze), in-batch negatives, LoRA.",
  'bmretriever-finetune':
    "BMRetriever's second stage: InfoNCE on labelled questions, the gold passage against hard negatives mined from the index (gold left out) and the batch's other candidates, LoRA.",
};

/** The line under the preset menu: the preset's, the defaults' when none is chosen, '' for a name MedRank has no preset of. */
export function presetHelp(name: string | null): string {
  if (name === null) return "The config defaults (src/training/config.ts): JMLR's LLM-Rank, set as jmlr-code sets it.";
  return Object.hasOwn(PRESET_HELP, name) ? PRESET_HELP[name as PresetName] : '';
}

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
