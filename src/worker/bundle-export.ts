// "Export for a cluster": the experiment bundle (src/training/bundle.ts, docs/cluster.md) of the
// loaded dataset and models under a Train cell's resolved config, with the two model folders:
// each model's current weights as one model.safetensors (LoRA merged, exportWeights' bytes) beside
// its config.json and tokenizer files read again from where it was loaded; or, for a model loaded
// from the hub at a pinned commit and untrained since, {hub, revision} in the manifest and no
// files. The GPU engine supplies the models (engine.ts); this module holds no GPU state, so Node
// tests run it on model folders from disk.

import { formatBytes } from '../core/format';
import type { ModelFiles } from '../models/sources';
import {
  BUNDLE_MODEL_DIRS,
  BUNDLE_TOKENIZER_FILES,
  BundleError,
  buildBundle,
  bundleManifestJson,
  readBundleManifest,
  sha256Hex,
  withBundleFiles,
  type BundleFileEntry,
  type BundleInput,
  type BundleModelRef,
} from '../training/bundle';
import type { ExportedBundle } from './protocol';

/** Most bytes of model weights a bundle built in the tab may carry (it is zipped in memory, without ZIP64). */
export const MAX_TAB_BUNDLE_WEIGHT_BYTES = 2 * 2 ** 30;

const HUB = 'https://huggingface.co';
/** A commit: a branch or tag can move between the export and the cluster's download. */
const COMMIT = /^[0-9a-f]{40}$/;

/** One loaded model as the bundle needs it. */
export interface BundleModel {
  /** Where it was loaded from: config.json and the tokenizer files are read again from here. */
  files: ModelFiles;
  /** Set when it came from the hub: the repo, the revision as asked, and a custom endpoint if any. */
  hub: { repo: string; revision?: string; endpoint?: string } | null;
  /** Its weights are still the loaded ones (no run trained it since it was loaded). */
  asLoaded: boolean;
  /** The size of its current weights as F32, to refuse a bundle too large for the tab before reading any. */
  weightBytes: number;
  /** Its current weights as one model.safetensors. */
  weights: () => Promise<Uint8Array>;
}

export interface ClusterBundleInput {
  /** What buildBundle tokenizes: the config, the data, the models' tokenizations. */
  inputs: Omit<BundleInput, 'models' | 'modelSources'>;
  /** Where the models' folders come from. */
  models: { retriever: BundleModel; generator: BundleModel };
  onProgress?: (message: string) => void;
}

/** {hub, revision} when the cluster can fetch exactly these weights, else null (the files go in the bundle). */
export function hubRef(m: BundleModel): BundleModelRef | null {
  const h = m.hub;
  if (!h || !m.asLoaded || !h.revision || !COMMIT.test(h.revision)) return null;
  if (h.endpoint && h.endpoint.replace(/\/+$/, '') !== HUB) return null; // a mirror the cluster may not reach
  return { hub: h.repo, revision: h.revision };
}

/** The bundle, with the model folders (or hub references) and their entries in the manifest, checked as the twin checks it. */
export async function clusterBundle(input: ClusterBundleInput): Promise<ExportedBundle> {
  const { inputs, onProgress } = input;
  const roles = input.models;
  const { retriever, generator } = roles;
  const refs = { retriever: hubRef(retriever), generator: hubRef(generator) };
  const carried = (['retriever', 'generator'] as const).filter((r) => !refs[r]);
  const weightBytes = carried.reduce((a, r) => a + roles[r].weightBytes, 0);
  if (weightBytes > MAX_TAB_BUNDLE_WEIGHT_BYTES)
    throw new BundleError(
      `the ${carried.join(' and ')} weights (${formatBytes(weightBytes)}) are more than a bundle made in the browser may hold ` +
        `(${formatBytes(MAX_TAB_BUNDLE_WEIGHT_BYTES)}): load the model from the hub at a commit (its weights then stay on the hub), ` +
        'or write the bundle with `npm run export-experiment` from the model folders',
    );
  onProgress?.('tokenizing the dataset for the bundle');
  const bundle = await buildBundle({
    ...inputs,
    models: {
      retriever: refs.retriever ?? { dir: BUNDLE_MODEL_DIRS.retriever },
      generator: refs.generator ?? { dir: BUNDLE_MODEL_DIRS.generator },
    },
    modelSources: { retriever: retriever.files.label, generator: generator.files.label },
  });
  const files: Record<string, Uint8Array> = Object.fromEntries(bundle.files);
  const entries: Record<string, BundleFileEntry> = {};
  const add = async (path: string, bytes: Uint8Array): Promise<void> => {
    files[path] = bytes;
    entries[path] = { bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
  };
  for (const role of carried) {
    const m = roles[role];
    const dir = BUNDLE_MODEL_DIRS[role];
    onProgress?.(`${role}: config and tokenizer from ${m.files.label}`);
    // Copies: the bundle owns its bytes (the worker hands them over to the page).
    await add(`${dir}/config.json`, (await m.files.read('config.json')).slice());
    for (const f of BUNDLE_TOKENIZER_FILES)
      if (await m.files.exists(f)) await add(`${dir}/${f}`, (await m.files.read(f)).slice());
    onProgress?.(`${role}: its current weights (${formatBytes(m.weightBytes)})`);
    await add(`${dir}/model.safetensors`, await m.weights());
  }
  const manifest = withBundleFiles(bundle.manifest, entries);
  readBundleManifest(bundleManifestJson(manifest)); // what the twin checks first, checked before it leaves
  return { manifest, files };
}
