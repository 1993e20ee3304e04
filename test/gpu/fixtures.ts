// The tiny model fixtures (test/fixtures/models, written by scripts/goldens/make_model_fixtures.py)
// as local folders, and the model goldens, fetched from the Vite server the browser tests run on.

import { folderFiles, type ModelFiles } from '../../src/models/sources';
import { parseSafetensors, type SafetensorsTensor } from '../../src/tensor/safetensors';

const fixtureUrls = import.meta.glob('../fixtures/models/*/*', { query: '?url', import: 'default', eager: true }) as Record<
  string,
  string
>;
const goldenUrls = import.meta.glob('../goldens/models/*.safetensors', {
  query: '?url',
  import: 'default',
  eager: true,
}) as Record<string, string>;

export type FixtureName = 'tiny-colbert' | 'tiny-llama' | 'tiny-qwen2' | 'tiny-gptneox' | 'tiny-gemma';

/** A fixture model folder as the app sees a folder the user picked, optionally with edited files. */
export async function fixtureFiles(name: FixtureName, edit: Record<string, Uint8Array | null> = {}): Promise<ModelFiles> {
  const entries: { path: string; file: Blob }[] = [];
  for (const [path, url] of Object.entries(fixtureUrls)) {
    const m = path.match(/fixtures\/models\/([^/]+)\/(.+)$/);
    if (!m || m[1] !== name) continue;
    const file = m[2]!;
    if (file in edit) {
      const v = edit[file];
      if (v) entries.push({ path: file, file: new Blob([v as Uint8Array<ArrayBuffer>]) });
      continue;
    }
    entries.push({ path: file, file: await (await fetch(url)).blob() });
  }
  for (const [file, v] of Object.entries(edit))
    if (v && !entries.some((e) => e.path === file)) entries.push({ path: file, file: new Blob([v as Uint8Array<ArrayBuffer>]) });
  return folderFiles(entries, { label: name });
}

export async function fixtureBytes(name: FixtureName, file: string): Promise<Uint8Array> {
  const url = Object.entries(fixtureUrls).find(([p]) => p.endsWith(`/${name}/${file}`))?.[1];
  if (!url) throw new Error(`no fixture ${name}/${file}`);
  return new Uint8Array(await (await fetch(url)).arrayBuffer());
}

export interface Golden {
  get(n: string): SafetensorsTensor;
  names: string[];
  metadata: Record<string, string>;
}

export async function golden(name: FixtureName): Promise<Golden> {
  const url = Object.entries(goldenUrls).find(([p]) => p.endsWith(`/${name}.safetensors`))?.[1];
  if (!url) throw new Error(`no golden ${name}; run /usr/bin/python3 scripts/goldens/make_model_fixtures.py`);
  const { tensors, metadata } = parseSafetensors(await (await fetch(url)).arrayBuffer());
  return {
    names: [...tensors.keys()],
    metadata,
    get(n: string): SafetensorsTensor {
      const t = tensors.get(n);
      if (!t) throw new Error(`golden ${name} has no "${n}"`);
      return t;
    },
  };
}
