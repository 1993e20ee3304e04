// The autograd engine's public surface: tensors, ops, optimizers. Models and training import
// from here, not from individual op files.

export { Engine, Tensor, ShapeError, type TapeNode, type DType } from './tensor';
export { contiguous } from './ops/common';
export { swapAxes12 } from './ops/swap-axes';
export { concat } from './ops/concat';
export { matmul, linear, type MatmulOptions } from './ops/matmul';
export { add, sub, mul, div, scale, bias, broadcastShape } from './ops/binary';
export { gelu, geluTanh, silu, relu, swiglu, type UnaryOp } from './ops/activations';
export { layernorm, rmsnorm, l2normalize } from './ops/norms';
export { rope, ropeTables } from './ops/rope';
export { dropout } from './ops/dropout';
export { sum, mean, max, sumAll, meanAll, type ReduceOp, type ReduceOptions } from './ops/reduce';
export { softmax, logSoftmax, MASKED_LOG_PROB } from './ops/softmax';
export { crossEntropy, type CrossEntropyOptions } from './ops/cross-entropy';
export { embedding, type EmbeddingOptions } from './ops/embedding';
export { splitRows, shardedEmbedding, shardedLinear, type SplitRowsOptions } from './ops/sharded';
export { s2attn, s2attnGroup, type S2AttnOptions, type S2Shift } from './ops/s2attn';
export {
  maxsim,
  topk,
  maxsimSearch,
  rankInRow,
  MAX_TOPK,
  type CorpusRank,
  type MaxsimCorpus,
  type MaxsimSearchResult,
} from './ops/maxsim';
export { AdamW, type AdamWOptions, type ParamGroup } from './optim/adamw';
export { matmulInto } from './ops/matmul';
export { mulberry32 } from './random';
export {
  parseSafetensors,
  parseSafetensorsHeader,
  writeSafetensors,
  f16ToF32,
  SafetensorsError,
  MAX_HEADER_BYTES,
  type SafetensorsDType,
  type SafetensorsData,
  type SafetensorsTensor,
  type SafetensorsFile,
  type SafetensorsHeader,
  type WritableTensor,
} from './safetensors';
export { runSelfTest, SELFTEST_CASES, type SelfTestResult, type SelfTestProgress } from './selftest';
export { codeWords, cidOf, kmeansAssignCpu, residualDecompressCpu } from './cpu/residual';
export { f32ToF16Bits, roundToF16, packF16, unpackF16, packedBytes, packedLayout, F16PackError } from './f16';
export { packedAs } from './tensor';
export { kmeansAssign, residualDecompress, residualDecompressInto, type ResidualStore } from './ops/residual';
