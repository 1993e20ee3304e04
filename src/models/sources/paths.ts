// Model file paths: a path relative to the model folder, split and checked (no absolute path,
// no "..", no "\\"), and the hint a missing .safetensors file gets.

import { ModelSourceError } from './errors';

const SAFETENSORS_HINT =
  ' MedRank loads safetensors weights: if the model only has pytorch_model.bin, convert it first ' +
  '(e.g. the "Convert to Safetensors" space on huggingface.co) or pick a model that ships model.safetensors.';

/** Splits a relative model path into segments; throws ModelSourceError for absolute or escaping paths. */
export function pathSegments(path: string): string[] {
  const segments = typeof path === 'string' ? path.split('/') : [];
  if (
    typeof path !== 'string' ||
    path === '' ||
    path.includes('\\') ||
    segments.some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new ModelSourceError(
      `"${String(path)}" is not a valid model file path: use a path relative to the model folder with "/" ` +
        'between folders and no "..", e.g. "config.json" or "onnx/model.json".',
    );
  }
  return segments;
}

/** What to add to a "not found" message for `path`: how to get safetensors weights, for a .safetensors file. */
export function missingHint(path: string): string {
  return path.endsWith('.safetensors') ? SAFETENSORS_HINT : '';
}
