// Errors a user can meet while loading, configuring or exporting a model. Each message says
// what to do next. (Download and file errors live with the file sources in sources.ts.)

import { MedRankError } from '../core/errors';

/** config.json names an architecture MedRank does not implement, or a setting it cannot honour. */
export class UnsupportedArchitectureError extends MedRankError {}

/** The weights do not match the config: missing tensors, wrong shapes, unexpected dtypes. */
export class CheckpointMismatchError extends MedRankError {}

/** A config.json that is not valid JSON or lacks a required field. */
export class ModelConfigError extends MedRankError {}

/** The model, its gradients and optimizer state do not fit the adapter's limits. */
export class ModelTooLargeError extends MedRankError {}
