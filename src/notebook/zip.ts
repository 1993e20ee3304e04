// Zip files, through fflate (its one importer): an experiment bundle as one .zip that unzips to
// the bundle folder (`unzip x.zip -d DIR` gives DIR as docs/cluster.md describes: manifest.json and
// every file it lists, at the zip's root), and reading a zip back. Weights are stored, text is
// deflated; every entry carries the same fixed date, so one bundle always zips to the same bytes.

import { unzipSync, zipSync, type Zippable } from 'fflate';
import { MedRankError } from '../core/errors';
import { bundleManifestJson, type BundleManifest } from '../training/bundle';

/** The most a zip without ZIP64 (fflate writes none) may hold, in all. */
export const MAX_ZIP_BYTES = 2 ** 32 - 2 ** 20;

/** 1980-01-01, the zip format's first date, in local time as zip dates are: the same bytes for the same bundle. */
const FIXED_DATE = new Date(1980, 0, 1);

/** A zip that cannot be written or read; the message says what to do. */
export class ZipError extends MedRankError {
  override name = 'ZipError';
}

/** The bundle folder as one zip: its files at the root, manifest.json among them. */
export function zipBundle(bundle: { manifest: BundleManifest; files: Record<string, Uint8Array> }): Uint8Array {
  const manifest = new TextEncoder().encode(bundleManifestJson(bundle.manifest));
  const listed = Object.keys(bundle.manifest.files).sort();
  const have = Object.keys(bundle.files).sort();
  if (listed.join('\n') !== have.join('\n'))
    throw new ZipError(
      `the bundle's files (${have.length}) are not the ${listed.length} its manifest lists; export the bundle again`,
    );
  let total = manifest.byteLength;
  for (const p of have) total += bundle.files[p]!.byteLength;
  if (total > MAX_ZIP_BYTES)
    throw new ZipError(
      `the bundle is ${(total / 2 ** 30).toFixed(1)} GiB, more than one zip may hold here (4 GiB); ` +
        'write it with `npm run export-experiment` instead, or load a model from the hub at a commit so its weights stay there',
    );
  const entries: Zippable = { 'manifest.json': [manifest, { level: 6 }] };
  for (const p of have) entries[p] = [bundle.files[p]!, { level: p.endsWith('.safetensors') ? 0 : 6 }];
  return zipSync(entries, { mtime: FIXED_DATE });
}

/** The files of a zip by path (folders left out). */
export function readZip(bytes: Uint8Array): Record<string, Uint8Array> {
  let out: Record<string, Uint8Array>;
  try {
    out = unzipSync(bytes);
  } catch (err) {
    throw new ZipError(`this is not a readable zip file (${(err as Error).message}); download it again`);
  }
  return Object.fromEntries(Object.entries(out).filter(([p]) => !p.endsWith('/')));
}
