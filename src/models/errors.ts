// Errors a user can meet while loading, configuring or exporting a model. Each message says
// what to do next. (Download and file errors live with the file sources in sources.ts.)

import { MedRankError } from '../core/errors';

/** config.json names an architecture MedRank does not implement, or a setting it cannot honour. */
export class UnsupportedArchitectureError extends MedRankError {}

/** The weights do not match the config: missing tensors, wrong shapes, unexpected dtypes. */
export class CheckpointMismatchError extends MedRankError {}

/**
 * A config.json (or another of the model's JSON files) that is not valid JSON, lacks a required
 * field or holds a value outside its rule. `field` names the config.json field to fix
 * ("num_hidden_layers", "rope_scaling.low_freq_factor"), or is null when the file as a whole is wrong.
 */
export class ModelConfigError extends MedRankError {
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

/** The model, its gradients and optimizer state do not fit the adapter's limits. */
export class ModelTooLargeError extends MedRankError {}
