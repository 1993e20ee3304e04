// What a model costs before anything is allocated: parameter, gradient and AdamW-state bytes,
// checked against the adapter's per-buffer limits and a memory budget, so a model that cannot fit
// is refused with numbers instead of failing halfway through an upload. With frozenDtype 'f16' a
// frozen matrix counts 2 bytes per value (its rows padded to a whole u32, as weights.ts stores it);
// trained weights, their gradients and AdamW's moments are f32 whatever the frozen dtype.

import { formatBytes } from '../core/format';
import type { TensorSpec } from './checkpoint';
import { ModelTooLargeError } from './errors';
import { isSplittable, storedBytes, storedDtype, type FrozenDtype } from './weights';

export interface MemoryPlan {
  paramBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  totalBytes: number;
  trainableParams: number;
  totalParams: number;
  /** Values held as packed f16 (frozen matrices under frozenDtype 'f16'); the rest are f32. */
  packedParams: number;
  /** The largest tensor that cannot be split into row shards (anything but a vocabulary table). */
  largest: { name: string; bytes: number };
}

export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * Bytes of the parameters as stored (f32, or packed f16 for frozen matrices when frozenDtype is
 * 'f16'), gradients of trainable ones, and two AdamW moments per trainable value.
 */
export function planMemory(
  specs: TensorSpec[],
  trainable: (name: string) => boolean,
  opts: { frozenDtype?: FrozenDtype } = {},
): MemoryPlan {
  const storage = { frozenDtype: opts.frozenDtype, trainable };
  let totalParams = 0,
    trainableParams = 0,
    packedParams = 0,
    paramBytes = 0;
  let largest = { name: '', bytes: 0 };
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const bytes = storedBytes(s, storage);
    totalParams += n;
    paramBytes += bytes;
    if (trainable(s.name)) trainableParams += n;
    if (storedDtype(s, storage) === 'f16') packedParams += n;
    // Vocabulary tables are split into row shards when they exceed one buffer (see weights.ts).
    if (!isSplittable(s.name) && bytes > largest.bytes) largest = { name: s.name, bytes };
  }
  const gradBytes = trainableParams * 4;
  const optimizerBytes = trainableParams * 8;
  return {
    paramBytes,
    gradBytes,
    optimizerBytes,
    totalBytes: paramBytes + gradBytes + optimizerBytes,
    trainableParams,
    totalParams,
    packedParams,
    largest,
  };
}

/** Throws ModelTooLargeError when a tensor exceeds a buffer limit or the plan exceeds the budget. */
export function checkFits(plan: MemoryPlan, limits: DeviceLimits, budgetBytes: number, model: string): void {
  const perBuffer = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (plan.largest.bytes > perBuffer)
    throw new ModelTooLargeError(
      `${model}: tensor "${plan.largest.name}" needs ${formatBytes(plan.largest.bytes)} in one buffer, above this adapter's ` +
        `limit of ${formatBytes(perBuffer)} per storage buffer. Use a smaller checkpoint (fewer vocabulary entries or a ` +
        'smaller hidden size) or a GPU whose adapter reports larger limits',
    );
  if (plan.trainableParams === 0 && plan.totalBytes > budgetBytes)
    throw new ModelTooLargeError(
      `${model}: its weights alone need ${formatBytes(plan.paramBytes)} (${plan.totalParams.toLocaleString('en-US')} ` +
        `parameters${plan.packedParams > 0 ? `, ${plan.packedParams.toLocaleString('en-US')} of them in f16` : ' in f32'}), above the ${formatBytes(budgetBytes)} memory budget. Pick a smaller model, or raise the ` +
        'budget if this GPU has the memory' +
        (plan.packedParams === 0 ? " (or load the frozen weights as f16: frozenDtype 'f16' halves them)" : ''),
    );
  if (plan.totalBytes > budgetBytes)
    throw new ModelTooLargeError(
      `${model}: ${formatBytes(plan.paramBytes)} of weights + ${formatBytes(plan.gradBytes)} of gradients + ` +
        `${formatBytes(plan.optimizerBytes)} of AdamW state = ${formatBytes(plan.totalBytes)}, above the ` +
        `${formatBytes(budgetBytes)} memory budget. Train fewer parameters (LoRA, or freeze the embeddings), ` +
        'pick a smaller model, or raise the budget if this GPU has the memory',
    );
}
