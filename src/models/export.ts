// Saving what Python tools read: LoRA adapters as PEFT does (adapter_model.safetensors with
// base_model.model.<module>.lora_A.weight / lora_B.weight, plus adapter_config.json; trained
// embeddings and norms as modules_to_save), and full weights under the checkpoint's own names
// with any LoRA merged in (W + alpha/r * B A), loadable by transformers / ColBERT as they were.

import { writeSafetensors, type WritableTensor } from '../tensor';
import type { Tensor } from '../tensor';
import { mergedWeight, type LoraConfig, type Linear } from './lora';
import type { Weights } from './weights';

export interface PeftExport {
  /** adapter_model.safetensors */
  adapter: Uint8Array;
  /** adapter_config.json */
  config: string;
}

const tensorOut = async (t: Tensor): Promise<WritableTensor> => ({ dtype: 'F32', shape: [...t.shape], data: await t.read() });

/**
 * PEFT adapter of the linears that carry LoRA, plus full copies of `modulesToSave` weights
 * (e.g. embed_tokens and the norms, which JMLR trains), named as PEFT saves them.
 */
export async function exportPeftAdapter(
  linears: Linear[],
  lora: LoraConfig,
  opts: {
    baseModel: string;
    taskType: 'CAUSAL_LM' | 'FEATURE_EXTRACTION';
    weights?: Weights;
    /** Module-name suffixes saved in full (PEFT modules_to_save), e.g. ['embed_tokens', 'norm']. */
    modulesToSave?: string[];
    /** Extra names saved with another weight's values (a tied lm_head.weight -> the embedding). */
    aliases?: Record<string, string>;
  },
): Promise<PeftExport> {
  const tensors: Record<string, WritableTensor> = {};
  const targets = new Set<string>();
  for (const l of linears) {
    if (!l.lora) continue;
    targets.add(l.moduleName);
    tensors[`base_model.model.${l.name}.lora_A.weight`] = await tensorOut(l.lora.A);
    tensors[`base_model.model.${l.name}.lora_B.weight`] = await tensorOut(l.lora.B);
  }
  const save = opts.modulesToSave ?? [];
  if (opts.weights && save.length)
    for (const name of opts.weights.names()) {
      const module = name.replace(/\.(weight|bias)$/, '');
      // PEFT's own rule: a module is saved when its name ends with an entry.
      if (save.some((s) => module.endsWith(s)))
        tensors[`base_model.model.${name}`] = {
          dtype: 'F32',
          shape: opts.weights.shape(name),
          data: await opts.weights.read(name),
        };
    }
  for (const [alias, of] of Object.entries(opts.aliases ?? {}))
    if (opts.weights)
      tensors[`base_model.model.${alias}`] = { dtype: 'F32', shape: opts.weights.shape(of), data: await opts.weights.read(of) };
  const config = {
    peft_type: 'LORA',
    task_type: opts.taskType,
    base_model_name_or_path: opts.baseModel,
    r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    target_modules: [...targets].sort(),
    modules_to_save: save.length ? save : null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
  };
  return {
    adapter: writeSafetensors(tensors, { format: 'pt', producer: 'MedRank' }),
    config: JSON.stringify(config, null, 2) + '\n',
  };
}

/** Every weight under its checkpoint name, LoRA merged into the linears that carry it. */
export async function exportMergedWeights(weights: Weights, linears: Linear[]): Promise<Uint8Array> {
  const merged = new Map<string, Float32Array>();
  for (const l of linears) {
    if (!l.lora) continue;
    merged.set(l.weight.name, await mergedWeight(l));
  }
  const tensors: Record<string, WritableTensor> = {};
  for (const name of weights.names())
    tensors[name] = { dtype: 'F32', shape: weights.shape(name), data: merged.get(name) ?? (await weights.read(name)) };
  return writeSafetensors(tensors, { format: 'pt', producer: 'MedRank' });
}
