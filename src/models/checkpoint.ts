// A checkpoint's weights, from one or several safetensors files (sharded checkpoints with
// model.safetensors.index.json), checked against what the config says before any tensor is
// decoded or allocated: every expected name present, every shape right, every dtype a float.
// Values are checked where they are decoded (read, once per tensor, one pass): a NaN or an
// infinity in a weight is refused there, before it reaches the GPU and poisons every output.

import { parseSafetensorsHeader, type SafetensorsDType, type SafetensorsHeader } from '../tensor';
import { clip, describe } from '../core/format';
import { CheckpointMismatchError } from './errors';

export interface TensorSpec {
  name: string;
  shape: number[];
}

const FLOAT: SafetensorsDType[] = ['F32', 'F16', 'BF16'];

export class Checkpoint {
  private readonly where = new Map<string, { file: string; header: SafetensorsHeader }>();
  /** Tensors whose values were read and found finite (each is scanned once). */
  private readonly finite = new Set<string>();

  /** files: safetensors file name -> bytes. Headers are validated here (truncation, offsets). */
  constructor(files: Map<string, Uint8Array>) {
    for (const [file, bytes] of files) {
      let header: SafetensorsHeader;
      try {
        header = parseSafetensorsHeader(bytes);
      } catch (e) {
        (e as Error).message = `${file}: ${(e as Error).message}`;
        throw e;
      }
      for (const name of header.entries.keys()) {
        const prev = this.where.get(name);
        if (prev)
          throw new CheckpointMismatchError(
            `tensor ${describe(name)} is in both ${clip(prev.file)} and ${clip(file)}; the shards overlap, re-download the checkpoint`,
          );
        this.where.set(name, { file, header });
      }
    }
  }

  get names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): { dtype: SafetensorsDType; shape: number[]; file: string } | null {
    const w = this.where.get(name);
    const e = w?.header.entries.get(name);
    return w && e ? { dtype: e.dtype, shape: e.shape, file: w.file } : null;
  }

  /** Decoded f32 values (F16 and BF16 widened); throws for a weight holding NaN or an infinity. */
  read(name: string): Float32Array {
    const w = this.where.get(name);
    if (!w) throw new CheckpointMismatchError(`the checkpoint has no tensor ${describe(name)}`);
    const t = w.header.decode(name);
    if (!(t.data instanceof Float32Array))
      throw new CheckpointMismatchError(`tensor ${describe(name)} is ${t.dtype}; model weights must be F32, F16 or BF16`);
    if (!this.finite.has(name)) {
      checkFinite(t.data, name, w.file, t.dtype, t.shape);
      this.finite.add(name);
    }
    return t.data;
  }

  /** The common prefix under which `suffix` is stored ('' or e.g. 'bert.'), or null. */
  prefixOf(suffix: string): string | null {
    for (const n of this.where.keys()) if (n === suffix || n.endsWith('.' + suffix)) return n.slice(0, n.length - suffix.length);
    return null;
  }

  /**
   * Throw one CheckpointMismatchError listing every missing tensor, wrong shape and non-float
   * dtype (the first few of each), naming the model so the user knows which checkpoint is wrong.
   */
  verify(specs: TensorSpec[], model: string): void {
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const s of specs) {
      const i = this.info(s.name);
      if (!i) missing.push(s.name);
      else if (i.shape.length !== s.shape.length || i.shape.some((d, k) => d !== s.shape[k]))
        wrong.push(`"${s.name}" is [${i.shape}] in ${i.file}, config.json implies [${s.shape}]`);
      else if (!FLOAT.includes(i.dtype)) wrong.push(`"${s.name}" is ${i.dtype}, not a float type (F32, F16 or BF16)`);
    }
    if (missing.length === 0 && wrong.length === 0) return;
    const parts: string[] = [];
    if (missing.length)
      parts.push(`${missing.length} tensor(s) missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    if (wrong.length) parts.push(`${wrong.length} mismatched: ${wrong.slice(0, 5).join('; ')}${wrong.length > 5 ? '; ...' : ''}`);
    throw new CheckpointMismatchError(
      `the weights do not match ${model}'s config.json: ${parts.join('. ')}. ` +
        'Check that config.json and the .safetensors files come from the same checkpoint (and the same revision)',
    );
  }
}

/** Throws CheckpointMismatchError when `data` holds NaN or ±Infinity: how many, and the first. */
function checkFinite(data: Float32Array, name: string, file: string, dtype: SafetensorsDType, shape: number[]): void {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      // NaN - NaN and Inf - Inf are both NaN; every finite v gives 0.
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return;
  throw new CheckpointMismatchError(
    `tensor ${describe(name)} in ${clip(file)} (${dtype}, [${shape.slice(0, 8).join(', ')}${shape.length > 8 ? ', …' : ''}]) holds ` +
      `${count} non-finite value(s) (the first, ${describe(data[first])}, at element ${first} of ${data.length}); ` +
      'a model with NaN or infinite weights gives NaN for every input. The file is corrupt, or the checkpoint was saved ' +
      'after its training diverged: re-download it, or use an earlier checkpoint',
  );
}
